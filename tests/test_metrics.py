import numpy as np
import pytest
import torch

from polychromify import metrics
from polychromify.color import grey_ab_to_rgb, grey_lightness, lab_to_rgb, rgb_to_lab, to_grey
from polychromify.evaluate import evaluate_images, image_metrics
from tests.conftest import SAMPLES, make_photo


def ab_pair():
    true = torch.rand(2, 2, 8, 8) * 0.6 - 0.3
    return true


def test_auc_perfect_grey_and_offset():
    true = ab_pair()
    assert metrics.auc(true, true) == 100.0
    # a constant error of 10 CIELAB units is within t for t = 10..150: 141 of 151 thresholds
    offset = true.clone()
    offset[:, 0] += 10 / 128
    np.testing.assert_allclose(metrics.auc(offset, true), 100 * 141 / 151, atol=0.7)
    grey = torch.zeros_like(true)
    assert metrics.auc(grey, true) < 100


def test_rebalanced_auc_punishes_grey_more():
    # mostly grey-ish pixels plus a few saturated ones: grey output scores well on plain AuC only
    true = torch.zeros(1, 2, 10, 10)
    true[0, 0, :2] = 0.6
    grey = torch.zeros_like(true)
    w = metrics.rebalancing_weights(true)
    within = (151 - 77) / 151  # the saturated pixels (76.8 units off) are within t only for t >= 77
    np.testing.assert_allclose(metrics.auc(grey, true), 100 * (0.8 + 0.2 * within), atol=0.01)
    np.testing.assert_allclose(metrics.auc(grey, true, w), 100 * (0.5 + 0.5 * within), atol=0.01)


def test_seed_accuracy_and_mse():
    true = torch.tensor([[[[0.5]], [[0.1]]]])  # a > b
    assert metrics.seed_accuracy(true, true) == 1.0
    assert metrics.seed_accuracy(torch.tensor([[[[0.0]], [[0.2]]]]), true) == 0.0
    assert abs(metrics.mse_ab(true + 0.1, true) - 0.01) < 1e-6


def test_colourfulness_and_psnr():
    grey = np.full((8, 8, 3), 120, np.uint8)
    assert metrics.colourfulness(grey) == 0.0
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255
    # rg = 255, yb = 127.5, no spread: CF = 0.3 * hypot(255, 127.5)
    np.testing.assert_allclose(metrics.colourfulness(red), 0.3 * np.hypot(255, 127.5))
    assert metrics.psnr(grey, grey) == float("inf")
    np.testing.assert_allclose(metrics.psnr(grey, grey + 1), 10 * np.log10(255**2))


def test_grey_table_matches_scikit_image():
    rgb = np.asarray(make_photo(1, (64, 48)))
    g = to_grey(rgb)
    L, ab = rgb_to_lab(rgb)
    assert np.abs(grey_lightness()[g] - L).max() < 0.5  # grey level keeps the pixel's CIELAB L
    fast = grey_ab_to_rgb(g, torch.from_numpy(ab).permute(2, 0, 1))
    exact = lab_to_rgb(grey_lightness()[g], ab)
    assert np.abs(fast.astype(int) - exact.astype(int)).mean() < 1.5
    assert np.abs(fast.astype(int) - rgb.astype(int)).mean() < 2.5


def test_small_ab_upsampled_to_half_size_matches_full_size():
    # the network's ab is far smaller than the photo: composing upsamples it to half the photo's size and
    # shares each value among 2x2 pixels; the colours stay those of a full-size bilinear upsampling
    rgb = np.asarray(make_photo(3, (96, 64)))
    ab = torch.from_numpy(rgb_to_lab(rgb)[1]).permute(2, 0, 1)[None]
    small = torch.nn.functional.interpolate(ab, (16, 24), mode="area")
    for h, w in ((64, 96), (63, 95)):  # even sizes take the half-size path, odd ones the full-size one
        g = to_grey(rgb[:h, :w])
        full = torch.nn.functional.interpolate(small, (h, w), mode="bilinear", align_corners=False)[0]
        exact = lab_to_rgb(grey_lightness()[g], full.permute(1, 2, 0).numpy())
        fast = grey_ab_to_rgb(g, small[0])
        assert fast.shape == (h, w, 3) and fast.flags.c_contiguous
        assert np.abs(fast.astype(int) - exact.astype(int)).mean() < 1.5


def test_image_metrics_and_grey_baseline():
    rgb = np.asarray(make_photo(2, (32, 32)))
    perfect = image_metrics(rgb, rgb)
    assert perfect["auc"] == 100 and perfect["delta_cf"] == 0
    grey = evaluate_images("grey", SAMPLES / "color")
    assert grey["images"] == 4 and grey["cf"] < 1 and grey["delta_cf"] > 10
    assert 0 < grey["auc_rebalanced"] < grey["auc"] < 100
    assert grey["hue_accuracy"] == grey["hue_warm"] == grey["hue_green"] == grey["hue_blue"] == 0.0


def test_fast_grey_matches_the_exact_srgb_luminance():
    rgb = np.random.default_rng(0).integers(0, 256, (500, 500, 3), dtype=np.uint8)
    v = rgb / 255.0
    lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    y = lin @ np.array([0.212671, 0.715160, 0.072169])
    exact = np.clip(np.where(y <= 0.0031308, 12.92 * y, 1.055 * y ** (1 / 2.4) - 0.055) * 255 + 0.5, 0, 255)
    diff = np.abs(to_grey(rgb).astype(int) - exact.astype(np.uint8))
    assert diff.max() <= 1 and diff.mean() < 0.01
    np.testing.assert_array_equal(to_grey(np.stack([rgb[..., 0]] * 3, -1)), rgb[..., 0])  # grey stays


def test_hue_accuracy_grey_sepia_truth_and_rotation():
    from polychromify.metrics import hue_accuracy, hue_counts

    angles = torch.deg2rad(torch.tensor([20.0, 60.0, 150.0, 250.0, 300.0, -100.0]))  # warm x2, green, blue x3
    true = (torch.stack([angles.cos(), angles.sin()]) * 40 / 128).view(1, 2, 1, 6)
    true = torch.cat([true, torch.tensor([3.0, 4.0]).view(1, 2, 1, 1) / 128], -1)  # chroma 5: not counted
    scores = lambda pred: hue_accuracy([hue_counts(pred, true)])  # noqa: E731
    assert scores(true) == {"hue_accuracy": 1.0, "hue_warm": 1.0, "hue_green": 1.0, "hue_blue": 1.0}
    assert scores(torch.zeros_like(true))["hue_accuracy"] == 0.0  # grey: no chroma
    sepia = (torch.tensor([20.0, 20.0]) / 128).view(1, 2, 1, 1).expand_as(true)  # hue 45 degrees
    s = scores(sepia)
    assert s["hue_warm"] == 1.0 and s["hue_green"] == 0.0 and s["hue_blue"] == 0.0
    assert s["hue_accuracy"] == pytest.approx(2 / 6)
    faint = true * 3.0 / 40  # right hue, chroma 3 < 5
    assert scores(faint)["hue_accuracy"] == 0.0
    rot = torch.deg2rad(torch.tensor(50.0))  # 50 degrees off everywhere: beyond the 45-degree tolerance
    c, s_ = rot.cos(), rot.sin()
    turned = torch.stack([true[:, 0] * c - true[:, 1] * s_, true[:, 0] * s_ + true[:, 1] * c], 1)
    assert scores(turned)["hue_accuracy"] == 0.0
    assert hue_accuracy([])["hue_blue"] != hue_accuracy([])["hue_blue"]  # NaN when there is no such pixel
