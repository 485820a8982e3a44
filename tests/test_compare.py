import csv
import json

import pytest
from PIL import Image

from polychromify.train import TrainConfig, train
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def two_runs(tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    runs = []
    for name in ("cnn", "v1"):
        cfg = TrainConfig(
            model=name,
            data=str(tiny_dataset),
            out=str(root / name),
            epochs=2,
            steps_per_epoch=1,
            batch_size=8,
        )
        runs.append(train(cfg, progress=False))
    return runs


def test_evaluate_data_json(tiny_dataset, two_runs, capsys):
    assert run_cli("evaluate", *two_runs, "--data", tiny_dataset, "--json") == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["model"] for r in rows] == ["grey", str(two_runs[0]), str(two_runs[1])]
    grey = rows[0]
    assert grey["cf"] < 0.5 and grey["parameters"] == 0
    keys = {
        "seed_accuracy",
        "mse_ab",
        "psnr_rgb",
        "psnr_lab",
        "ssim",
        "auc",
        "auc_rebalanced",
        "cf",
        "cf_true",
        "delta_cf",
        "parameters",
        "train_seconds",
        "images_per_s",
    }
    for r in rows:
        assert keys <= set(r)
        assert 0 <= r["auc_rebalanced"] <= 100 and 0 <= r["ssim"] <= 1
    assert rows[1]["parameters"] > 0 and rows[1]["train_seconds"] > 0


def test_compare_writes_every_file_and_row(tiny_dataset, two_runs, tmp_path):
    out = tmp_path / "report"
    assert run_cli("compare", *two_runs, "--data", tiny_dataset, "--out", out) == 0
    for name in ("results.md", "results.csv", "grid.png", "curves.png", "ab_histograms.png"):
        assert (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert [r["model"] for r in rows] == ["grey", "cnn", "v1"]
    md = (out / "results.md").read_text()
    assert "Rebalanced AuC" in md and md.count("\n| ") == 3
    grid = Image.open(out / "grid.png")
    assert grid.size[0] > grid.size[1] / 3  # columns: input, two models, original
    kinds = list(csv.DictReader((out / "by_kind.csv").read_text().splitlines()))  # the photos' sub-folders
    assert [(r["model"], r["kind"]) for r in kinds] == [
        (m, k) for m in ("grey", "cnn", "v1") for k in ("forest", "sea")
    ]
    total = {m: sum(int(r["images"]) for r in kinds if r["model"] == m) for m in ("grey", "cnn", "v1")}
    assert len(set(total.values())) == 1 and float(kinds[0]["hue_accuracy"]) == 0  # grey: no hue


def test_evaluate_needs_one_source(two_runs, capsys):
    assert run_cli("evaluate", *two_runs) == 1
    assert "--images FOLDER or --data DIR" in capsys.readouterr().err


TINY = ("--size", 32, "--crops-per-image", 0)


def test_sweep_and_study_end_to_end(tmp_path, photo_dir):
    # every model of the study and every row of the table, one training step each, on 12 tiny photos
    out = tmp_path / "study"
    assert (
        run_cli("study", photo_dir, "--out", out, "--quick", "--epochs", 1, "--steps-per-epoch", 1, *TINY)
        == 0
    )
    readme = (out / "README.md").read_text()
    for name in ("cnn", "v0", "v1", "polychromify", "v3", "eccv16", "siggraph17"):
        assert f"| {name} |" in readme, name
    for row in ("v1", "v2", "v3", "v4", "v5"):
        assert f"| {row} | " in readme
    for name in ("grid.png", "curves.png", "ab_histograms.png", "results.csv"):
        assert (out / "report" / name).exists()
    assert json.loads((out / "sweep" / "sweep.json").read_text())[4]["batch_norm"] is True
    # resumable: a second run reuses every finished run
    before = (out / "runs" / "cnn" / "model.safetensors").stat().st_mtime_ns
    assert (
        run_cli("study", photo_dir, "--out", out, "--quick", "--epochs", 1, "--steps-per-epoch", 1, *TINY)
        == 0
    )
    assert (out / "runs" / "cnn" / "model.safetensors").stat().st_mtime_ns == before
