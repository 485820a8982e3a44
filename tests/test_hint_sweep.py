"""SIGGRAPH17's hint sweep: hints drawn from the truth as its protocol says, scored per count, plotted."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from polychromify.color import rgb_to_lab
from polychromify.evaluate import HINT_PATCH, truth_hints
from tests.conftest import REPO, run_cli

HELDOUT = REPO / "tests" / "data" / "heldout"


def test_truth_hints_follow_the_protocol():
    rgb = np.asarray(Image.open(sorted(HELDOUT.glob("*.jpg"))[0]).convert("RGB"))
    h, w = rgb.shape[:2]
    hints = truth_hints(rgb, 50, np.random.default_rng(0))
    assert len(hints) == 50 and hints == truth_hints(rgb, 50, np.random.default_rng(0))  # seeded
    xs, ys = np.array([p.x for p in hints]), np.array([p.y for p in hints])
    assert (xs >= HINT_PATCH / 2).all() and (xs <= w - HINT_PATCH / 2).all()
    assert (ys >= HINT_PATCH / 2).all() and (ys <= h - HINT_PATCH / 2).all()
    # around the centre: the spread is a quarter of the size per axis, so most fall in the middle half
    assert abs(np.median(xs) - w / 2) < w / 8 and 0.5 < np.mean(abs(xs - w / 2) < w / 4) < 0.9
    _, ab = rgb_to_lab(rgb)
    for hint in hints[:10]:  # each hint carries its patch's mean colour (up to 8-bit rounding)
        x, y = int(hint.x - HINT_PATCH / 2), int(hint.y - HINT_PATCH / 2)
        mean = ab[y : y + HINT_PATCH, x : x + HINT_PATCH].reshape(-1, 2).mean(0)
        assert np.abs(np.array(hint.ab) - mean).max() * 128 < 3


def test_evaluate_hint_sweep_reports_each_count_and_plots(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for p in sorted(HELDOUT.glob("*.jpg"))[:3]:
        shutil.copy(p, photos)
    plot = tmp_path / "hints.png"
    assert run_cli("evaluate", "default", "--images", photos, "--hints", "0,5", "--json", "--plot", plot) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["model"], r["hints"]) for r in rows] == [("grey", 0), ("default", 0), ("default", 5)]
    assert all(r["images"] == 3 and 0 < r["psnr_rgb"] < 60 for r in rows)
    assert rows[2]["psnr_rgb"] != rows[1]["psnr_rgb"]  # the hints reached the network
    assert Image.open(plot).format == "PNG"
    assert run_cli("evaluate", "default", "--images", photos, "--hints", "0,5", "--json", "--plot", plot) == 0
    again = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert again[2]["psnr_rgb"] == pytest.approx(rows[2]["psnr_rgb"])  # the same draw every time
    sweep = ("evaluate", "default", "--images", photos, "--hints", "0,5", "--json", "--plot", plot)
    assert run_cli(*sweep, "--no-spread") == 0
    alone = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert alone[1]["psnr_rgb"] == pytest.approx(rows[1]["psnr_rgb"])  # no hints: nothing to spread
    assert alone[2]["psnr_rgb"] < rows[2]["psnr_rgb"]  # the network alone follows its hints less


def test_hint_sweep_errors_are_one_line(tmp_path, capsys):
    assert run_cli("evaluate", "default", "--images", HELDOUT, "--hints", "1,x") == 1
    assert run_cli("evaluate", "default", "--data", tmp_path, "--hints", "1") == 1
    from polychromify import checkpoint
    from polychromify.models import create_model

    checkpoint.save_run(tmp_path / "cnn", create_model("cnn"), {})
    assert run_cli("evaluate", tmp_path / "cnn", "--images", HELDOUT, "--hints", "0,1") == 1
    err = capsys.readouterr().err
    assert "--hints '1,x'" in err and "--hints needs --images" in err and "does not take colour hints" in err
    assert "Traceback" not in err
