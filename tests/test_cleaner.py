"""The input cleaner (`models.cleaner`): grain taken out of what the colour networks read, trained on pairs of
the same photo clean and damaged, and shipped in front of the default blend's members."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from polychromify.checkpoint import CLEANER, resolve_model, save_blend, save_run, weight_files
from polychromify.errors import PolychromifyError
from polychromify.models import create_model
from polychromify.models.cleaner import CROP, Cleaner, pairs, train_cleaner
from tests.conftest import REPO, make_photo


def test_the_cleaner_keeps_any_size_and_starts_as_the_identity():
    torch.manual_seed(0)
    x = torch.rand(2, 1, 37, 50) * 2 - 1  # odd height: padded and cut back
    with torch.no_grad():
        y = Cleaner()(x)
    assert y.shape == x.shape
    assert (y - x).abs().max() < 0.05 and not torch.equal(y, x)


def test_pairs_are_the_same_crop_clean_and_damaged(tmp_path):
    for i in range(2):
        make_photo(i, (60, 45)).save(tmp_path / f"p{i}.png")
    data = pairs(sorted(tmp_path.glob("*.png")), copies=2, rng=np.random.default_rng(0))
    assert data.shape == (6, 2, CROP, CROP) and data.dtype == torch.uint8
    for k, pair in enumerate(data):
        clean, damaged = pair.float()
        if k % 3 == 0:  # each photo's first crop is left clean
            assert torch.equal(clean, damaged)
        else:  # the damage changes it, but it is still the same place in the same photo
            assert not torch.equal(clean, damaged)
            assert np.corrcoef(clean.flatten(), damaged.flatten())[0, 1] > 0.5


def test_training_takes_noise_out_of_the_detail_and_leaves_the_rest():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32]
    clean = [np.clip(128 + 60 * np.sin(xx / rng.uniform(3, 8) + rng.uniform(0, 6)) * np.cos(yy / 9), 0, 255)
             for _ in range(48)]  # fmt: skip
    damaged = [np.clip(c + rng.normal(0, 14, c.shape), 0, 255) for c in clean]
    data = torch.from_numpy(np.stack([clean, damaged], 1).astype(np.uint8))
    rows = []
    cleaner = train_cleaner(data, steps=300, batch=8, lr=2e-3, log=rows.append)
    assert not cleaner.training and rows[-1]["step"] == 299
    assert rows[-1]["detail"] < 0.7 * rows[-1]["identity"]  # the noise is what it removes (0.45 here)
    assert rows[-1]["drift"] < 0.1 * rows[-1]["identity"]  # the coarse lightness stays the input's


def test_a_blend_with_a_cleaner_reads_the_cleaned_lightness(tmp_path):
    for i, name in enumerate("ab"):
        torch.manual_seed(i)
        save_run(tmp_path / name, create_model("unet", width=8), {})
    torch.manual_seed(2)
    cleaner = Cleaner()
    torch.nn.init.normal_(cleaner.body[-2].weight, std=0.05)  # far from the identity
    run = save_blend(tmp_path / "ab", ["../a", "../b"], [1, 1], cleaner=cleaner)
    blend, bare = resolve_model(run), resolve_model(save_blend(tmp_path / "bare", ["../a", "../b"], [1, 1]))
    assert blend.arch["cleaner"] == CLEANER and weight_files(run)[0] == run / CLEANER
    x = blend.make_input(torch.rand(1, 1, 32, 48) * 2 - 1, None, blend.takes_hints)  # L and empty hints
    with torch.no_grad():
        cleaned = torch.cat([cleaner.eval()(x[:, :1]), x[:, 1:]], 1)
        assert (cleaned - x).abs().max() > 0.05
        assert torch.allclose(blend(x), bare(cleaned), atol=1e-6)
        assert (blend(x) - bare(x)).abs().max() > 1e-4  # (an untrained member's logits are flat)
    (run / CLEANER).write_bytes(b"not weights")
    with pytest.raises(PolychromifyError, match="damaged weights"):
        resolve_model(run)
    (run / CLEANER).unlink()
    with pytest.raises(PolychromifyError, match=f"has no {CLEANER}"):
        resolve_model(run)


def test_the_default_ships_a_cleaner():
    default = resolve_model("default")
    assert isinstance(default.cleaner, Cleaner) and not default.cleaner.training
    assert weight_files("default")[0].name == CLEANER


def test_the_training_script_says_what_is_wrong_in_one_line(tmp_path):
    script = REPO / "scripts" / "train_cleaner.py"
    out = tmp_path / "c.safetensors"
    for args in ([tmp_path / "missing", out], [tmp_path, out]):
        if args[0].exists():
            out.write_bytes(b"someone's file")
        r = subprocess.run([sys.executable, script, *args], capture_output=True, text=True)
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert out.read_bytes() == b"someone's file"  # never overwritten
    make_photo(0, (60, 45)).save(tmp_path / "p.png")  # every photo left out: nothing to train on
    args = [tmp_path, tmp_path / "new.safetensors", "--exclude", tmp_path]
    r = subprocess.run([sys.executable, script, *args], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip() == "error: no photo gave a training crop", r.stderr
    assert not (tmp_path / "new.safetensors").exists()
