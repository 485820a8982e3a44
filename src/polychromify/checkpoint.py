"""Run folders: `model.safetensors` (weights only, no pickle) + `config.json` (how to rebuild it).

config.json = {"arch": {"name": ..., "kwargs": {...}}, "parameters": N, "version": ..., ...anything the
caller adds (training config, data summary, timings)}. Every write is atomic (temp file, then rename).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from polychromify.errors import PolychromifyError
from polychromify.models.blend import Blend
from polychromify.models.cleaner import Cleaner
from polychromify.models.registry import ColorModel, count_parameters, create_model, load_strictly
from polychromify.version import __version__

ASSETS = Path(__file__).parent / "assets"  # the shipped models, a folder each
WEIGHTS = "model.safetensors"
CLEANER = "cleaner.safetensors"  # a blend's optional input cleaner (models.cleaner)
CONFIG = "config.json"


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_weights(path: Path, model: torch.nn.Module) -> None:
    """Weights as safetensors, atomically. Tied/shared tensors are cloned so safetensors accepts them."""
    state = {k: v.detach().cpu().contiguous().clone() for k, v in _unwrap(model).state_dict().items()}
    _write_safetensors(path, state)


def _write_safetensors(path: Path, state: dict[str, torch.Tensor]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    save_file(state, str(tmp))
    tmp.chmod(0o644)  # safetensors creates its files owner-only; weights are read like config.json
    os.replace(tmp, path)


def write_config(run_dir: Path, model: ColorModel, extra: dict[str, Any] | None = None) -> None:
    """config.json: the architecture and its arguments, parameter count, package version, plus `extra`."""
    model = _unwrap(model)
    config = {"arch": model.arch, "parameters": count_parameters(model), "version": __version__}
    config |= extra or {}
    atomic_write_text(run_dir / CONFIG, json.dumps(config, indent=1))


def save_run(run_dir: str | Path, model: ColorModel, extra: dict[str, Any] | None = None) -> Path:
    """Write weights and config.json into `run_dir` (created if needed); returns the folder."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_weights(run_dir / WEIGHTS, model)
    write_config(run_dir, model, extra)
    return run_dir


def ship_half(run_dir: str | Path, dest: str | Path, **extra: Any) -> Path:
    """Copy a run folder's model into `dest` with float16 weights (half the size; loaded back into
    float32) and its config.json (plus `extra` entries). Integer buffers keep their type."""
    run_dir, dest = Path(run_dir), Path(dest)
    config = read_config(run_dir)
    state = _read_weights(run_dir / WEIGHTS)
    dest.mkdir(parents=True, exist_ok=True)
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    _write_safetensors(dest / WEIGHTS, half)
    config |= {"shipped_as": "float16 weights (loaded into float32)"} | extra
    atomic_write_text(dest / CONFIG, json.dumps(config, indent=1))
    return dest


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """config.json of a run folder, with clear errors for a missing or damaged one."""
    path = Path(run_dir) / CONFIG
    if not Path(run_dir).is_dir():
        raise PolychromifyError(f"no such run folder: {run_dir}")
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise PolychromifyError(f"{run_dir} is not a run folder (no {CONFIG})") from None
    except (OSError, ValueError) as exc:
        raise PolychromifyError(f"damaged {path}: {exc}") from None
    if (
        not isinstance(config, dict)
        or not isinstance(config.get("arch"), dict)
        or "name" not in config["arch"]
    ):
        raise PolychromifyError(f"damaged {path}: no 'arch' entry naming the architecture")
    return config


def load_into(model: ColorModel, run_dir: str | Path) -> list[str]:
    """Start `model` from a run folder's weights (fine-tuning, e.g. a hint partner from its automatic model).
    Every saved tensor must fit; the model's own new modules may be missing from the file and keep their
    initialisation. Returns those missing keys. `run_dir` may also name a shipped network ('clean',
    'old-prints'), to train it further on your own photos."""
    folder = Path(run_dir)
    if not folder.is_dir() and str(run_dir) in shipped_models():
        folder = ASSETS / str(run_dir)
    state = _read_weights(folder / WEIGHTS)
    own = model.state_dict()
    unknown = [k for k in state if k not in own or own[k].shape != state[k].shape]
    if unknown:
        raise PolychromifyError(
            f"weights in {run_dir} do not fit {model.arch['name']}: {len(unknown)} tensor(s) such as "
            f"{unknown[0]!r} have no place of that shape"
        )
    return model.load_state_dict(state, strict=False).missing_keys


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise PolychromifyError(f"{path.parent} has no {path.name}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise PolychromifyError(f"damaged weights {path}: {exc}") from None


def load_model(run_dir: str | Path, map_location: str | torch.device = "cpu") -> ColorModel:
    """Rebuild a model from its run folder alone (config.json + model.safetensors), in eval mode."""
    config = read_config(run_dir)
    arch = config["arch"]
    if arch["name"] == "blend":
        return _blend(arch, Path(run_dir)).to(map_location).eval()
    model = create_model(arch["name"], **arch.get("kwargs", {}))
    path = Path(run_dir) / WEIGHTS
    state = _read_weights(path)
    load_strictly(model, state, f"weights in {path} do not fit {arch['name']}")
    return model.to(map_location).eval()


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The bare model inside DistributedDataParallel or torch.compile wrappers."""
    while hasattr(model, "module") or hasattr(model, "_orig_mod"):
        model = getattr(model, "module", None) or model._orig_mod
    return model


def resolve_model(model: str | Path | ColorModel, device: str | torch.device = "cpu") -> ColorModel:
    """A shipped model's name ('default', 'clean', ...) or a run folder -> model in eval mode."""
    if isinstance(model, ColorModel):
        return model.to(device).eval()
    shipped = shipped_models()
    if str(model) in shipped:
        return load_model(ASSETS / str(model), device)
    if Path(model).is_dir():
        return load_model(model, device)
    raise PolychromifyError(f"unknown model {str(model)!r}: give a run folder or one of {', '.join(shipped)}")


def shipped_models() -> list[str]:
    """The names of the models in assets/ ('clean', 'default', 'old-photos', 'old-prints')."""
    return sorted(p.name for p in ASSETS.iterdir() if (p / CONFIG).exists()) if ASSETS.is_dir() else []


def save_blend(
    run_dir: str | Path,
    members: list[str],
    weights: list[float],
    cleaner: Cleaner | None = None,
    neutral: bool = False,
    **extra: Any,
) -> Path:
    """A blend's run folder: config.json naming its members (shipped names, or run folders relative to
    `run_dir`) and their weights, the `cleaner` in front of them if any (cleaner.safetensors), and whether
    its colours are scaled by their confidence (`neutral`: `color.confident_colours`); checked by loading
    it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    arch: dict[str, Any] = {"name": "blend", "members": members, "weights": weights}
    if cleaner is not None:
        save_weights(run_dir / CLEANER, cleaner)
        arch["cleaner"] = CLEANER
    if neutral:
        arch["neutral"] = True
    write_config(run_dir, _blend(arch, run_dir), extra)
    return run_dir


def _blend(arch: dict[str, Any], run_dir: Path) -> Blend:
    """A blend has no weights of its own: its members' (shipped names, or run folders relative to its own)."""
    try:
        refs, weights = list(arch["members"]), list(arch["weights"])
    except (KeyError, TypeError):
        raise PolychromifyError(
            f"damaged {run_dir / CONFIG}: a blend names 'members' and 'weights'"
        ) from None
    cleaner = None
    if "cleaner" in arch:
        cleaner = Cleaner()
        path = run_dir / str(arch["cleaner"])
        load_strictly(cleaner, _read_weights(path), f"the cleaner in {path} does not fit")
    neutral = arch.get("neutral", False)
    if not isinstance(neutral, bool):
        raise PolychromifyError(f"damaged {run_dir / CONFIG}: a blend's 'neutral' is true or false")
    model = Blend([resolve_model(m) for m in _members(refs, run_dir)], weights, cleaner, neutral)
    model.arch = arch
    return model


def weight_files(model: str | Path) -> list[Path]:
    """The weights files a shipped name or run folder is built from: its own, or a blend's members'."""
    folder = model_folder(model)
    try:
        arch = read_config(folder)["arch"]
    except PolychromifyError:
        return [folder / WEIGHTS]  # not a run folder: loading it will say so
    if arch["name"] != "blend" or not isinstance(arch.get("members"), list):
        return [folder / WEIGHTS]
    own = [folder / str(arch["cleaner"])] if "cleaner" in arch else []
    return own + [f for m in _members(arch["members"], folder) for f in weight_files(m)]


def _members(refs: list, run_dir: Path) -> list[str | Path]:
    """A blend's members as `resolve_model` takes them: shipped names, or run folders relative to its own."""
    shipped = shipped_models()
    return [m if m in shipped else run_dir / str(m) for m in refs]


def model_folder(model: str | Path) -> Path:
    """The folder of a shipped model's name or of a run."""
    shipped = ASSETS / str(model)
    return shipped if (shipped / CONFIG).is_file() else Path(model)


def shipped_config(model: str | Path) -> dict:
    """A shipped model's config.json ({} for anything else)."""
    path = ASSETS / str(model) / CONFIG
    return json.loads(path.read_text()) if str(model) and path.is_file() else {}
