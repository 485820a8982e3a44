from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"


def make_photo(seed: int, size: tuple[int, int] = (48, 40)) -> Image.Image:
    """A small colourful 'photo': a smooth two-colour gradient plus noise, different for every seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = np.linspace(0, 1, w)[None, :, None]
    img = c0 * (1 - t) + c1 * t + rng.normal(0, 8, (h, w, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def digest(folder: Path, pattern: str = "*") -> str:
    """sha256 over the names and bytes of the files under `folder` matching `pattern`."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob(pattern)):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def heldout_copies(folder: Path, n: int, size: tuple[int, int], mode: str = "RGB") -> Path:
    """The first `n` bundled held-out photos (tests/data/heldout), resized and converted, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in sorted((REPO / "tests" / "data" / "heldout").glob("*.jpg"))[:n]:
        with Image.open(p) as im:
            im.convert(mode).resize(size).save(folder / p.name)
    return folder


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """A folder of 12 tiny colourful JPEGs/PNGs in two category subfolders."""
    root = tmp_path / "photos"
    for i in range(12):
        folder = root / ("forest" if i % 2 else "sea")
        folder.mkdir(parents=True, exist_ok=True)
        make_photo(i).save(folder / f"p{i:02d}.{'png' if i % 3 == 0 else 'jpg'}")
    return root


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A prepared 32x32 dataset from 16 tiny photos (2 random crops each), shared by the training tests."""
    from polychromify.data.prepare import PrepareConfig, prepare

    root = tmp_path_factory.mktemp("tiny")
    photos = root / "photos"
    for i in range(16):
        folder = photos / ("forest" if i % 4 else "sea")
        folder.mkdir(parents=True, exist_ok=True)
        make_photo(i, (64, 48)).save(folder / f"p{i:02d}.png")
    out = root / "ds"
    prepare(
        photos,
        out,
        PrepareConfig(size=32, crops_per_image=2, split=(0.6, 0.2, 0.2), workers=1),
        progress=False,
    )
    return out


def small_run(data, out, **kw):
    """A TrainConfig for a tiny, fast run of v2 on `data` into `out` (2 steps of 8, no flips); kw override."""
    from polychromify.config import TrainConfig

    base = dict(
        model="v2",
        data=str(data),
        out=str(out),
        model_args={"neurons": "low"},
        epochs=1,
        batch_size=8,
        steps_per_epoch=2,
        flip=False,
    )
    return TrainConfig(**(base | kw))


def run_cli(*args) -> int:
    """Run `polychromify ARGS` in-process; returns its exit code."""
    from polychromify.cli import main

    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    return exc.value.code


@pytest.fixture(scope="session")
def imagenet_file(tmp_path_factory):
    """A generated stand-in for torchvision's mobilenet_v2 file: the same keys and shapes, random values."""
    import torch

    from polychromify.models.mobilenet import MobileNetV2

    torch.manual_seed(1)
    state = {
        k: torch.randn_like(v) if v.is_floating_point() else v for k, v in MobileNetV2().state_dict().items()
    }
    state = {k: v.abs() if k.endswith("running_var") else v for k, v in state.items()}
    path = tmp_path_factory.mktemp("w") / "mobilenet_v2.pth"
    torch.save(state, path)
    return path, state
