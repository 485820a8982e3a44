import csv
import json

import pytest
from PIL import Image

from polychromify.train import TrainConfig, train
from tests.conftest import make_photo, run_cli


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


def test_evaluate_per_photo_csv_has_a_row_per_model_and_photo_that_make_the_means(two_runs, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        make_photo(i).save(photos / f"p{i}.png")
    out = tmp_path / "each.csv"
    assert run_cli("evaluate", two_runs[0], "--images", photos, "--per-photo", out, "--json") == 0
    means = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert all("photos" not in m for m in means)  # the JSON lines keep only the means
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [(r["model"], r["photo"]) for r in rows] == [
        (m, f"p{i}.png") for m in ("grey", str(two_runs[0])) for i in range(3)
    ]
    for m in means:
        mine = [float(r["psnr_rgb"]) for r in rows if r["model"] == m["model"]]
        assert sum(mine) / 3 == pytest.approx(m["psnr_rgb"])
        own = [r for r in rows if r["model"] == m["model"]]
        hits, pixels = (sum(int(r[k]) for r in own) for k in ("hue_hits", "hue_pixels"))
        assert pixels > 0 and hits / pixels == pytest.approx(m["hue_accuracy"])  # each photo's hue counts
    assert float(rows[0]["cf"]) < 0.5 < float(rows[0]["cf_true"])  # grey's own row
    assert run_cli("evaluate", two_runs[0], "--data", tmp_path, "--per-photo", out) == 1
    assert "--per-photo needs --images" in capsys.readouterr().err
    for bad in (tmp_path / "no" / "each.csv", photos):  # checked before the work, one line
        assert run_cli("evaluate", two_runs[0], "--images", photos, "--per-photo", bad) == 1
        assert "cannot write" in capsys.readouterr().err


def test_evaluate_saturation_scales_the_colours_it_scores(two_runs, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        make_photo(i).save(photos / f"p{i}.png")
    rows = {}
    for s in ("0", "1", "2"):
        each = tmp_path / f"each-{s}.csv"
        args = ("--images", photos, "--saturation", s, "--per-photo", each, "--json")
        assert run_cli("evaluate", two_runs[1], *args) == 0
        grey, rows[s] = (json.loads(x) for x in capsys.readouterr().out.splitlines())
        assert "saturation" not in grey and grey["cf"] < 0.5  # the baseline is never scaled
        each_rows = csv.DictReader(each.read_text().splitlines())
        got = [float(r["saturation"]) if r.get("saturation") else None for r in each_rows]
        assert got == [None, None] + [float(s) if s != "1" else None] * 2  # as in the JSON
    assert rows["0"]["saturation"] == 0 and "saturation" not in rows["1"] and rows["2"]["saturation"] == 2
    assert rows["0"]["cf"] < 0.5 and rows["0"]["psnr_rgb"] == pytest.approx(grey["psnr_rgb"], abs=0.5)
    assert rows["2"]["cf"] > 1.5 * rows["1"]["cf"] > 0
    for bad in ("-0.5", "nan", "lots"):  # refused by the parser, before any model loads
        assert run_cli("evaluate", two_runs[1], "--images", photos, "--saturation", bad) == 2
        assert "argument --saturation" in capsys.readouterr().err
    assert run_cli("evaluate", two_runs[1], "--data", tmp_path, "--saturation", "1.5") == 1
    assert "--saturation needs --images" in capsys.readouterr().err


def test_evaluate_needs_one_source(two_runs, capsys):
    assert run_cli("evaluate", *two_runs) == 1
    assert "--images FOLDER or --data DIR" in capsys.readouterr().err


TINY = ("--size", 32, "--crops-per-image", 0)


def test_sweep_and_study_end_to_end(tmp_path, imagenet_file):
    # every model of the study, every row of the table and the future-work pairs, one training step each,
    # on 36 tiny photos of two kinds (three of them in the test split, of both kinds)
    photo_dir = tmp_path / "photos"
    for i in range(36):
        kind = photo_dir / ("forest" if i % 2 else "sea")
        kind.mkdir(parents=True, exist_ok=True)
        make_photo(i, (40, 32)).save(kind / f"p{i:02d}.png")
    out = tmp_path / "study"
    args = ("study", photo_dir, "--out", out, "--quick", "--epochs", 1, "--steps-per-epoch", 1, *TINY)
    assert run_cli(*args, "--encoder-weights", imagenet_file[0]) == 0
    readme = (out / "README.md").read_text()
    for name in ("cnn", "v0", "v1", "polychromify", "v3", "eccv16", "siggraph17", "default"):
        assert f"| {name} |" in readme, name
    for row in ("grey", "v1", "v2", "v3", "v4", "v5"):
        assert f"| {row} | " in readme.split("## Hyper-parameter table")[1]
    configs = {
        p.parent.name: json.loads(p.read_text())["train"] for p in (out / "runs").glob("*/config.json")
    }
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    few = next(name for name in configs if name.endswith("photos"))
    assert configs[few]["train_photos"] == int(few[10:-6]) == manifest["photos"]["train"] // 4
    assert (
        configs["mnv2-unet-balanced"]["balance"] == "categories" and configs["mnv2-unet-seed1"]["seed"] == 1
    )
    assert configs["mnv2-unet-scratch"]["model_args"] == {"freeze": 0}
    pairs = readme.split("## The seed's future work")[1].split("## Hyper")[0]
    for item, rows in {
        "Another seed": ("mnv2-unet", "mnv2-unet-seed1"),
        "Balance categories": ("mnv2-unet", "mnv2-unet-balanced"),
        "Larger dataset": (few, "mnv2-unet"),
        "Pretrained encoder": ("mnv2-unet-scratch", "mnv2-unet"),
    }.items():
        table = pairs.split(f"### {item}")[1].split("###")[0].split("Per kind")[0]
        names = [line.split(" | ")[0] for line in table.splitlines() if line.startswith("| ")][1:]
        assert names == [f"| {r}" for r in ("grey", *rows)], item
    assert "| sea | " in pairs and "| forest | " in pairs  # per-kind rows of the balance pair
    for name in ("grid.png", "curves.png", "ab_histograms.png", "results.csv", "by_kind.md"):
        assert (out / "report" / name).exists()
    report = json.loads((out / "report" / "results.json").read_text())
    test_photos = len({s["source"] for s in manifest["samples"]["test"]})
    assert {r["images"] for r in report["rows"]} == {test_photos}  # whole photos, not their crops
    sweep = json.loads((out / "sweep" / "sweep.json").read_text())
    assert [r["row"] for r in sweep] == ["grey", "v1", "v2", "v3", "v4", "v5"]
    assert sweep[5]["batch_norm"] == "yes" and sweep[1]["batch_norm"] == "no"
    assert not (out / "sweep" / "hp-v3").exists()  # the same model as the polychromify row: reused
    # resumable: a second run reuses every finished run
    before = (out / "runs" / "cnn" / "model.safetensors").stat().st_mtime_ns
    assert run_cli(*args, "--encoder-weights", imagenet_file[0]) == 0
    assert (out / "runs" / "cnn" / "model.safetensors").stat().st_mtime_ns == before
    # a wrong encoder file is one error before any work
    bad = tmp_path / "bad.pth"
    bad.write_text("not weights")
    assert run_cli("study", photo_dir, "--out", tmp_path / "other", "--quick", "--encoder-weights", bad) == 1
    assert not (tmp_path / "other" / "runs").exists()
    # a study folder of other photos or settings is never overwritten
    assert run_cli("study", photo_dir, "--out", out, "--quick", "--steps-per-epoch", 1, "--size", 24) == 1
    assert (out / "runs" / "cnn" / "model.safetensors").stat().st_mtime_ns == before


def test_compare_whole_photos_and_unseen_rows(tiny_dataset, two_runs, tmp_path):
    from polychromify.data.dataset import LabDataset
    from polychromify.report import compare

    samples = LabDataset(tiny_dataset, "test").samples
    photos = sorted({s["source"] for s in samples})
    assert len(samples) > len(photos) > 1  # crops follow each whole photo
    compare(
        [str(r) for r in two_runs], tiny_dataset, tmp_path, whole=True, unseen={photos[0], "elsewhere.jpg"}
    )
    report = json.loads((tmp_path / "results.json").read_text())
    assert [r["images"] for r in report["rows"]] == [len(photos)] * 3
    assert [(r["model"], r["images"]) for r in report["unseen"]] == [("grey", 1), ("cnn", 1), ("v1", 1)]
    assert "| v1 |" in (tmp_path / "unseen.md").read_text()
    compare([str(r) for r in two_runs], tiny_dataset, tmp_path / "all", unseen={"elsewhere.jpg"})
    report = json.loads((tmp_path / "all" / "results.json").read_text())
    assert report["rows"][0]["images"] == len(samples) and "unseen" not in report
