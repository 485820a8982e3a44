"""Old-print damage (data/degrade.py): deterministic, stronger with severity, on the input only; evaluate
--degrade and the two metrics it is judged by (colour speckle, near-grey pixels coloured)."""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from polychromify import metrics
from polychromify.cli import build_parser
from polychromify.color import to_grey
from polychromify.data.degrade import LEVELS, degrade, degrade_batch, photo_rng
from tests.conftest import REPO, heldout_copies, run_cli


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]


@pytest.fixture(scope="module")
def grey() -> np.ndarray:
    with Image.open(sorted((REPO / "tests" / "data" / "heldout").glob("*.jpg"))[0]) as im:
        return to_grey(np.asarray(im.convert("RGB").resize((160, 120))))


def test_the_same_name_gets_the_same_damage_and_severity_makes_it_worse(grey):
    a, b = (degrade(grey, photo_rng("p.jpg"), LEVELS["medium"]) for _ in range(2))
    assert a.shape == grey.shape and a.dtype == np.uint8 and np.array_equal(a, b)
    assert not np.array_equal(a, degrade(grey, photo_rng("q.jpg"), LEVELS["medium"]))
    # the levels are the same steps, stronger: each photo's damage grows from mild to strong
    for name in ("p.jpg", "q.jpg", "r.jpg"):
        levels = [
            degrade(grey, photo_rng(name), LEVELS[k]).astype(float) for k in ("mild", "medium", "strong")
        ]
        change = [np.abs(x - grey).mean() for x in levels]
        assert change[0] < change[1] < change[2], (name, change)
    change = {
        s: np.mean(
            [
                np.abs(degrade(grey, np.random.default_rng(i), s) - grey.astype(float)).mean()
                for i in range(12)
            ]
        )
        for s in (0.0, 0.35, 1.0)
    }
    assert change[0.0] < change[0.35] < change[1.0]


def test_degrade_batch_touches_only_its_share_of_the_inputs():
    L = torch.rand(8, 1, 32, 32) * 2 - 1
    assert torch.equal(degrade_batch(L, np.random.default_rng(0), 0.0), L)
    every = degrade_batch(L, np.random.default_rng(0), 1.0)
    assert every.shape == L.shape and all(not torch.equal(every[i], L[i]) for i in range(8))
    half = degrade_batch(L, np.random.default_rng(1), 0.5)
    kept = [torch.equal(half[i], L[i]) for i in range(8)]
    assert 0 < sum(kept) < 8  # the others exactly as they were
    assert half.min() >= -1 and half.max() <= 1


def test_degrade_batch_damages_at_a_larger_scale_and_averages_it_back(monkeypatch):
    """zoom: the damage is drawn on the sample enlarged 1-3x, so a one-pixel pattern of the chain's ends
    up finer than the grid and averaged away (grain and scratches on a large scan)."""
    sizes = []

    def checkerboard(grey, rng, severity):
        sizes.append(grey.shape)
        pattern = (np.indices(grey.shape).sum(0) % 2) * 100
        return np.clip(grey.astype(int) - 50 + pattern, 0, 255).astype(np.uint8)

    monkeypatch.setattr("polychromify.data.degrade.degrade", checkerboard)
    L = torch.zeros(6, 1, 24, 24)
    flat = degrade_batch(L, np.random.default_rng(0), 1.0, zoom=1.0)
    assert sizes == [(24, 24)] * 6
    contrast = (flat[..., 1:] - flat[..., :-1]).abs().mean()  # the full pattern on the grid
    sizes.clear()
    zoomed = degrade_batch(L, np.random.default_rng(0), 1.0, zoom=3.0)
    assert len(sizes) == 6 and all(24 <= h <= 72 and h == w for h, w in sizes) and max(sizes)[0] > 48
    assert zoomed.shape == L.shape and (zoomed[..., 1:] - zoomed[..., :-1]).abs().mean() < contrast / 2


def test_train_degrade_runs_and_is_recorded(tiny_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    args = ("--model", "cnn", "--data", tiny_dataset, "--out", run, "--epochs", 1, "--steps-per-epoch", 1)
    assert run_cli("train", *args, "--batch-size", 4, "--degrade", 0.5, "--degrade-zoom", 3) == 0
    recorded = json.loads((run / "config.json").read_text())["train"]
    assert recorded["degrade"] == 0.5 and recorded["degrade_zoom"] == 3.0
    assert run_cli("train", *args, "--degrade", 0.5, "--degrade-zoom", 0.5, "--overwrite") == 1
    assert "--degrade-zoom is from 1 to 8" in capsys.readouterr().err
    assert run_cli("train", *args, "--degrade", 1.5) == 2  # refused by the parser
    assert "argument --degrade" in capsys.readouterr().err


def test_metrics_for_speckle_and_coloured_greys():
    smooth = torch.zeros(1, 2, 320, 320)  # the cut-off: sigma 2 px at this size
    smooth[0, 0] = torch.linspace(-0.3, 0.3, 320)
    noisy = smooth + 0.1 * (torch.arange(320) % 2).float()  # one-pixel stripes of colour
    assert metrics.speckle(smooth) < 0.1 < 3 < metrics.speckle(noisy)
    truth = torch.zeros(1, 2, 4, 4)  # all near grey
    truth[..., 0, :] = 0.5  # except the top row
    pred = torch.zeros(1, 2, 4, 4)
    pred[..., 1, :2] = 0.2  # two grey pixels coloured at chroma 0.2 * 128 = 25.6
    pred[..., 2, :1] = 0.05  # one tinted at 6.4: not "clearly"
    assert metrics.neutral_counts(pred, truth) == (2, 12)


def test_evaluate_degrade_reports_the_change_from_clean(tmp_path, capsys):
    photos = heldout_copies(tmp_path / "photos", 2, (128, 96))
    assert run_cli("evaluate", "grey", "--images", photos, "--degrade", "strong", "--json") == 0
    clean, damaged = (json.loads(x) for x in capsys.readouterr().out.splitlines())
    assert "degrade" not in clean and damaged["degrade"] == "strong"
    assert damaged["psnr_rgb"] < clean["psnr_rgb"]  # the lightness itself is damaged
    assert damaged["change"]["psnr_rgb"] == pytest.approx(damaged["psnr_rgb"] - clean["psnr_rgb"])
    assert {"speckle", "grey_coloured"} <= set(clean) and clean["grey_coloured"] == 0
    assert damaged["damage_speckle"] == 0 and "damage_speckle" not in clean  # grey both times
    assert run_cli("evaluate", "grey", "--images", photos, "--degrade", "awful") == 2
    # the parser's levels (written out there: importing data.degrade would load torch for --help) are these
    parser = build_parser()
    for command in ("evaluate", "compare", "study"):
        option = next(a for a in _subparser(parser, command)._actions if a.dest == "degrade")
        assert tuple(option.choices) == tuple(LEVELS), command
    assert run_cli("evaluate", "grey", "--data", photos, "--degrade", "mild") == 1
    assert "--degrade needs --images" in capsys.readouterr().err


def test_compare_degrade_adds_two_columns(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    args = ("--model", "cnn", "--data", tiny_dataset, "--out", run, "--epochs", 1, "--steps-per-epoch", 1)
    assert run_cli("train", *args, "--batch-size", 4) == 0
    out = tmp_path / "report"
    assert run_cli("compare", run, "--data", tiny_dataset, "--out", out, "--degrade", "strong") == 0
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert [r["model"] for r in rows] == ["grey", "run"]
    assert float(rows[0]["hue_accuracy_degraded"]) == 0  # grey stays grey, damaged or not
    assert 0 <= float(rows[1]["hue_accuracy_degraded"]) <= 1 and float(rows[1]["auc_rebalanced_degraded"]) > 0
    assert "Hue accuracy, strong damage" in (out / "results.md").read_text()
    plain = tmp_path / "plain"
    assert run_cli("compare", run, "--data", tiny_dataset, "--out", plain) == 0
    assert "degraded" not in (plain / "results.csv").read_text()


def test_damage_speckle_is_colour_that_changed_with_the_damage(tmp_path):
    from polychromify.evaluate import evaluate_images

    photos = heldout_copies(tmp_path / "photos", 2, (128, 96))
    damaged = evaluate_images("default", photos, degrade="strong")
    assert damaged["damage_speckle"] > 0.01  # small: the colours are smoothed (the next test)
    unchanged = evaluate_images("default", photos, degrade="strong", damage=lambda grey, rng, severity: grey)
    assert unchanged["damage_speckle"] == 0  # "damage" that changes nothing


def test_smoothed_colours_keep_grain_out_of_the_colour(tmp_path):
    """The shipped networks decode their colours smoothed over the logits' grid (mobilenet.SMOOTH): damage
    speckle at medium falls to well under the unsmoothed decoding's, on the bundled held-out photos, fp32."""
    from polychromify.checkpoint import resolve_model
    from polychromify.evaluate import evaluate_images
    from polychromify.models.mobilenet import SMOOTH

    photos = heldout_copies(tmp_path / "photos", 4, (256, 192))
    model = resolve_model("clean")
    assert model.smooth == SMOOTH > 0
    smoothed = evaluate_images(model, photos, degrade="medium", precision="fp32")["damage_speckle"]
    model.smooth = 0.0
    plain = evaluate_images(model, photos, degrade="medium", precision="fp32")["damage_speckle"]
    assert smoothed < 0.6 * plain
