"""The benchmark scripts run in their tiny modes and print valid JSON with the documented keys."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO


def bench(script: str, *args: str) -> object:
    return json.loads(bench_output(script, *args))


def bench_output(script: str, *args: str) -> str:
    env = os.environ | {"PYTHONPATH": str(REPO / "src")}
    r = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def bench_module(script: str):
    """bench/SCRIPT imported as a module, to test its functions."""
    spec = importlib.util.spec_from_file_location(script.removesuffix(".py"), REPO / "bench" / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_load_test_against_serve():
    out = bench("load.py", "--quick")
    assert sum(n for kind, seen in out["statuses"].items() if kind != "slow" for n in seen.values()) == 24
    assert {"valid", "slow"} <= set(out["statuses"]) and len(out["statuses"]) >= 3  # bad requests too
    assert out["statuses"]["slow"].get("200", 0) > 0  # a photo sent a few bytes at a time gets its answer
    assert out["errors_5xx"] == 0 and out["dropped"] == 0 and out["wrong"] == 0
    assert 0 < out["p50_ms"] <= out["p95_ms"] and out["rss_mb_peak"] >= out["rss_mb_after_warmup"] > 0


def test_peak_and_train_benchmarks_tiny():
    peak = bench("peak.py", "--size", "256", "--repeats", "2")
    assert peak["fp32_gflops"] > 0 and peak["bf16_gflops"] > 0
    assert peak["faster"] == ("bf16" if peak["bf16_gflops"] > peak["fp32_gflops"] else "fp32")
    assert {"cpu", "cores", "cpu_capability", "native_bf16"} <= set(peak["machine"])
    out = bench("train.py", "--models", "cnn,v1", "--quick", "--size", "32", "--batch", "2")
    assert out["machine"] == peak["machine"]
    rows = out["rows"]
    keys = {"model", "precision", "flops_per_image", "train_images_per_s", "infer_images_per_s"}
    keys |= {"train_peak_fraction", "infer_peak_fraction"}
    assert [(r["model"], r["precision"]) for r in rows] == [
        ("cnn", "fp32"),
        ("cnn", "bf16"),
        ("v1", "fp32"),
        ("v1", "bf16"),
    ]
    for r in rows:
        assert keys <= set(r) and r["train_images_per_s"] > 0 and r["infer_images_per_s"] > 0
        assert r["train_flops_per_image"] > r["flops_per_image"] > 0  # backward costs more than forward
        assert r["auto"] == "fp32" or peak["machine"]["native_bf16"]  # no bf16 where it is emulated
    assert rows[0]["flops_per_image"] == rows[1]["flops_per_image"]  # precision does not change the count


def test_bf16_inference_matches_fp32():
    import numpy as np
    from PIL import Image

    from polychromify.errors import PolychromifyError
    from polychromify.inference import Colorizer
    from tests.conftest import SAMPLES

    photo = np.asarray(Image.open(SAMPLES / "color" / "tuxpaint-data--sheep.jpg").convert("RGB"))
    greys = [photo[::4, ::4].mean(axis=2).astype(np.uint8)]
    ref = Colorizer("default").predict_small(greys)[0]
    low = Colorizer("default", precision="bf16").predict_small(greys)[0]
    assert ref.abs().mean() > 0.02  # real colours (~5 CIELAB units here), not a near-zero output
    assert (ref - low).abs().mean() < 0.05 * ref.abs().mean()  # within 5% of the colour's size
    with pytest.raises(PolychromifyError, match="precision"):
        Colorizer("default", precision="fp8")


def test_loader_benchmark(tiny_dataset):
    out = bench("loader.py", "--data", str(tiny_dataset), "--batch", "4", "--seconds", "0.2")
    assert out["size"] == 32 and out["loader_images_per_s"] > 0


def test_precision_benchmark_tiny(tiny_dataset, tmp_path):
    out = bench(
        "precision.py", "--data", str(tiny_dataset), "--model", "cnn", "--epochs", "1", "--steps", "1",
        "--batch", "4", "--out", str(tmp_path / "runs"),
    )  # fmt: skip
    assert set(out["runs"]) == {"fp32", "fp32_seed1", "bf16", "fp32_model_bf16_inference"}
    assert set(out["differences"]) == set(out["runs"]) - {"fp32"}
    for label, diff in out["differences"].items():
        expected = out["runs"][label]["auc"] - out["runs"]["fp32"]["auc"]
        assert diff["auc"] == pytest.approx(expected, abs=1e-4)
    assert 0 < out["runs"]["fp32"]["auc"] <= 100


def test_epoch_benchmark_compares_a_real_epoch_with_bare_steps():
    out = bench("epoch.py", "--model", "v1", "--steps", "3", "--batch", "2")
    assert out["precision"] in ("fp32", "bf16") and out["precision_said"].startswith(
        "polychromify: precision:"
    )
    assert out["machine"]["native_bf16"] or out["precision"] == "fp32"
    assert out["epoch_images_per_s"] > 0 and set(out["bench_images_per_s"]) == {"fp32", "bf16"}
    best = max(out["bench_images_per_s"].values())
    assert out["fraction"] == pytest.approx(out["epoch_images_per_s"] / best, abs=1e-3)


def test_inference_benchmark_times_a_reference_too():
    out = bench("inference.py", "--repeats", "1")
    assert out["photo_12mp_seconds"] > out["photo_12mp_stages_s"]["colorize"] > 0
    assert out["colorize_12mp_with_reference_s"] > 0 and out["machine"]["cpu_capability"]
    assert out["api_colour_12mp_s"] > 0 and out["api_over_cli"] > 0


def test_startup_benchmark_against_another_tree():
    out = bench("startup.py", "--runs", "1", "--against", str(REPO / "src"))
    for case in ("help", "train_help", "bad_option"):
        assert 0 < out[case]["this"]["min_s"] <= out[case]["this"]["median_s"] and out[case]["ratio"] > 0


def test_other_damage_benchmark_scores_a_chain_the_models_never_trained_on():
    out = bench_output(
        "other_damage.py", "--images", str(REPO / "tests" / "data" / "heldout"), "--models", "clean"
    )
    machine, row = (json.loads(line) for line in out.splitlines())
    assert machine["machine"]["cpu_capability"] and row["model"] == "clean"
    assert 0 < row["hue_accuracy"] < 1 and row["damage_speckle"] > 0  # the colours changed with the damage


def test_other_damage_is_seeded_and_damages():
    other_damage = bench_module("other_damage.py").other_damage

    grey = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1))
    a, b = (other_damage(grey, np.random.default_rng(3)) for _ in range(2))
    assert a.shape == grey.shape and a.dtype == np.uint8 and np.array_equal(a, b)
    damaged = [other_damage(grey, np.random.default_rng(i)) for i in range(8)]
    assert np.mean([np.abs(d - grey.astype(int)).mean() for d in damaged]) > 1


def test_perfect_colouring_of_a_film_keeps_its_luma_and_the_true_colours(tmp_path):
    """bench/video.py's floor for keyframed films: the true colours on the grey film's own (grainy) luma,
    written as `polychromify video` writes its output."""
    from polychromify.color import rgb_to_lab

    module = bench_module("video.py")

    rng = np.random.default_rng(0)
    colours = np.array([[200, 60, 40], [40, 90, 200], [60, 160, 60], [220, 200, 60]], np.uint8)
    truth = [np.repeat(np.repeat(colours[rng.integers(0, 4, (6, 8))], 8, 0), 8, 1) for _ in range(3)]
    greys = module.grainy(truth, 4.0, 0)
    module.write_grey(tmp_path / "grey.mp4", greys)
    module.write_perfect(tmp_path / "grey.mp4", truth, tmp_path / "perfect.mp4")
    out = module.decode(tmp_path / "perfect.mp4")
    assert len(out) == 3 and out[0].shape == truth[0].shape
    error = [
        np.linalg.norm(rgb_to_lab(o)[1] - rgb_to_lab(t)[1], axis=-1).mean() * 128
        for o, t in zip(out, truth, strict=True)
    ]
    grey_error = np.linalg.norm(rgb_to_lab(truth[0])[1], axis=-1).mean() * 128  # what grey would score
    assert max(error) < 0.25 * grey_error  # the true colours, up to the 4:2:0 planes at block edges
    luma_change = [np.abs(module.grey_of(o).astype(int) - g).mean() for o, g in zip(out, greys, strict=True)]
    assert np.mean(luma_change) < 4  # the film's own grey, grain kept
