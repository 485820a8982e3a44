"""Motion-compensated stabilisation (`video.Stabiliser`, `flow.py`) and the temporal metrics, on tiny
generated frames built from a real photo so that the optical flow has texture to follow."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from polychromify import flow, video
from polychromify.color import rgb_to_lab
from polychromify.flow import TemporalScores, Warp, dis_flow, guide, occluded, warp_between, warp_error
from polychromify.inference import Colorizer
from polychromify.video import Stabiliser, colorize_video
from tests.conftest import REPO, run_cli
from tests.test_video import make_clip

PHOTO = REPO / "samples" / "color" / "tuxpaint-data--sheep.jpg"


def photo_L(w: int, h: int, name: str = PHOTO.name) -> np.ndarray:
    """CIELAB L (h,w) in [0,100] of a real photo, scaled to w x h."""
    rgb = np.asarray(Image.open(PHOTO.parent / name).convert("RGB").resize((w, h), Image.LANCZOS))
    return rgb_to_lab(rgb)[0]


def stabilise(Ls: list[np.ndarray], abs_: list[np.ndarray], strength: float = 0.7, shots=()) -> list:
    """Run the stabiliser as `colorize_video` does: L (h,w), ab (2,h,w) per frame -> outputs, stabiliser."""
    st, dis, out, prev = Stabiliser(strength), dis_flow(video.FLOW_PRESET), [], None
    for t, (L, ab) in enumerate(zip(Ls, abs_, strict=True)):
        g = guide(L)
        new_shot = t == 0 or t in shots
        back = None if new_shot else warp_between(dis(g, prev), dis(prev, g), g, prev)
        out.append(st(torch.from_numpy(ab), back, new_shot).numpy())
        prev = g
    return out, st


def flicker(abs_: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(b - a).mean() for a, b in zip(abs_, abs_[1:], strict=False)]))


def test_static_clip_with_noisy_predictions_flickers_far_less():
    rng = np.random.default_rng(0)
    L = photo_L(96, 64)
    Ls = [np.clip(L + rng.normal(0, 1.5, L.shape), 0, 100).astype(np.float32) for _ in range(12)]  # grain
    base = np.stack([np.full((64, 96), 0.2), np.linspace(-0.3, 0.3, 96)[None].repeat(64, 0)])
    abs_ = [(base + rng.normal(0, 0.05, base.shape)).astype(np.float32) for _ in Ls]  # the network's noise
    out, st = stabilise(Ls, abs_)
    assert st.restarts == 0
    assert flicker(out) < 0.4 * flicker(abs_)
    assert np.abs(out[-1] - base).mean() < 0.6 * np.abs(abs_[-1] - base).mean()  # closer to the truth too


def moving_object(frames: int = 10, speed: int = 3):
    """A textured disc (another photo's L, darker, ab red) sliding right over a still textured background
    (ab green); returns L, true ab and the disc's mask per frame."""
    h, w, r = 128, 192, 24  # about the network's grid of a small film
    bg, obj = photo_L(w, h), photo_L(w, h, "lxqt-themes--Valendas.jpg") * 0.5
    yy, xx = np.mgrid[:h, :w]
    green, red = np.array([-0.4, 0.3])[:, None, None], np.array([0.5, 0.3])[:, None, None]
    Ls, truth, masks = [], [], []
    for t in range(frames):
        mask = (xx - (40 + speed * t)) ** 2 + (yy - h // 2) ** 2 < r**2
        Ls.append(np.where(mask, np.roll(obj, speed * t, axis=1), bg).astype(np.float32))
        truth.append(np.where(mask, red, green).astype(np.float32))
        masks.append(mask)
    return Ls, truth, masks


def test_moving_object_leaves_no_trail():
    Ls, truth, masks = moving_object()
    out, _ = stabilise(Ls, truth, strength=0.9)  # a perfect network: any error is the filter's
    still = Warp(np.zeros((128, 192, 2), np.float32), np.ones((128, 192), np.float32))  # no motion followed
    naive = Stabiliser(0.9)
    naive_out = [naive(torch.from_numpy(ab), still if t else None).numpy() for t, ab in enumerate(truth)]

    def trail(outputs):  # mean |ab error| over the pixels the disc uncovered in the last 3 frames
        errors = []
        for t in range(3, len(Ls)):
            uncovered = np.any(masks[t - 3 : t], axis=0) & ~masks[t]
            errors.append(np.abs(outputs[t] - truth[t])[:, uncovered].mean())
        return float(np.mean(errors))

    assert trail(naive_out) > 0.15  # an average that does not follow the motion leaves red behind
    assert trail(out) < 0.02  # under 2.5 CIELAB units: no trail
    assert np.abs(out[-1] - truth[-1])[:, masks[-1]].mean() < 0.05  # nor does the disc lose its colour


def test_nothing_carries_across_a_cut():
    L = photo_L(96, 64)
    a, b = np.full((2, 64, 96), 0.3, np.float32), np.full((2, 64, 96), -0.3, np.float32)
    out, _ = stabilise([L] * 6, [a] * 3 + [b] * 3, strength=0.9, shots={3})
    assert np.array_equal(out[3], b) and np.allclose(out[5], b)  # the new shot: its own colours only
    out, _ = stabilise([L] * 6, [a] * 3 + [b] * 3, strength=0.9)  # the same without the cut: held back
    assert np.abs(out[3] - b).mean() > 0.3


def test_a_flash_restarts_instead_of_smearing():
    L = photo_L(96, 64)
    flash = np.clip(L + 40, 0, 100)  # a flash of light: the flow's checks fail nearly everywhere
    a, b = np.full((2, 64, 96), 0.3, np.float32), np.full((2, 64, 96), -0.3, np.float32)
    out, st = stabilise([L, L, L, flash], [a, a, a, b], strength=0.9)
    assert st.restarts == 1 and np.array_equal(out[3], b)
    out, st = stabilise([L] * 7, [a] * 6 + [b], strength=0.9)  # no flash: the six frames before hold
    assert st.restarts == 0 and np.abs(out[6] - a).mean() < 0.1


def test_frames_between_network_frames_follow_the_motion():
    """--every 2: the frame between two network frames takes their colours carried along the flow, so a
    moving colour edge stays sharp where a linear blend would show both positions at half strength."""
    Ls, truth, _ = moving_object(frames=3, speed=8)
    frames = []
    for t, L in enumerate(Ls):
        d = video._Decoded(np.zeros((2, 2), np.uint8), None, index=t, new_shot=t == 0)
        d.L, d.guide = torch.from_numpy(L)[None], guide(L)
        if t:
            prev = frames[-1]
            dis = dis_flow(video.FLOW_PRESET)
            d.flows = dis(d.guide, prev.guide), dis(prev.guide, d.guide)
            d.back = warp_between(*d.flows, d.guide, prev.guide)
        frames.append(d)
    key, mid, after = frames
    key.ab, after.ab = torch.from_numpy(truth[0]), torch.from_numpy(truth[2])
    video._fill(key, [mid], after, follow_motion=False)
    blend = mid.fill.numpy()
    mid.fill = None
    video._fill(key, [mid], after, follow_motion=True)
    warped = mid.fill.numpy()
    assert np.abs(warped - truth[1]).mean() < 0.8 * np.abs(blend - truth[1]).mean()


def test_cdc_and_warp_error_by_hand():
    black = np.zeros((2, 2, 3), np.uint8)
    half = black.copy()
    half[0] = 255  # every channel: half the pixels 0, half 255
    # JS(p, q), p = all mass at 0, q = half at 0, half at 255, m = (3/4, 1/4): the same for each channel
    js = 0.5 * math.log(4 / 3) + 0.5 * (0.5 * math.log(2 / 3) + 0.5 * math.log(2))
    scores = TemporalScores(flow=lambda a, b: np.zeros((*a.shape, 2), np.float32))
    scores.add(black, black[..., 0])
    scores.add(half, black[..., 0])
    assert scores.cdc == pytest.approx(js)  # two frames: only the distance 1
    assert scores.warp_error == pytest.approx(3 * 0.5)  # half the pixels differ by 1 in 3 channels

    # content moving one pixel left: frame t's pixel x is pixel x + 1 of frame t-1
    prev = np.tile((np.arange(5) * 40).astype(np.uint8)[None, :, None], (4, 1, 3))
    now = np.roll(prev, -1, axis=1)
    now[0, 0] = (0, 0, 10)  # one changed pixel
    fwd = np.zeros((4, 5, 2), np.float32)
    fwd[..., 0] = 1
    bwd = -fwd
    assert occluded(fwd, bwd)[:, -1].all() and not occluded(fwd, bwd)[:, :-1].any()  # samples outside
    assert warp_error(now, prev, fwd, bwd) == pytest.approx(((40 - 0) ** 2 + 40**2 + 30**2) / 255**2 / 16)
    stop = np.zeros_like(bwd)  # the backward flow disagrees by 1 px: 1 > 0.01 * 1 + 0.5, not trusted
    assert occluded(fwd, stop).all()
    assert warp_error(now, prev, fwd, stop) is None


def test_report_has_the_temporal_metrics_and_no_motion_runs(tmp_path, capsys):
    make_clip(tmp_path / "in.mp4", frames=8, audio=False, grain=2.0)
    report = tmp_path / "r.json"
    fast = ("--preset", "ultrafast", "--input-size", "64")
    assert run_cli("video", tmp_path / "in.mp4", "-o", tmp_path / "a.mp4", "--report", report, *fast) == 0
    r = json.loads(report.read_text())
    assert r["motion"] is True and r["flow_ms_per_frame"] > 0
    for key in ("warp_error", "cdc"):
        assert 0 <= r[key] < 1 and 0 <= r[f"{key}_unsmoothed"] < 1
    old = ("--no-motion", "--report", report, *fast)
    assert run_cli("video", tmp_path / "in.mp4", "-o", tmp_path / "b.mp4", *old) == 0
    r = json.loads(report.read_text())
    assert r["motion"] is False and r["flow_ms_per_frame"] == 0 and r["frames"] == 8


def test_smooth_0_and_every_1_compute_no_flow(tmp_path, monkeypatch):
    make_clip(tmp_path / "in.mp4", frames=4, audio=False)
    monkeypatch.setattr(flow.cv2, "DISOpticalFlow_create", None)  # would fail if called
    colorizer = Colorizer("default", input_size=64, mirror=False)
    r = colorize_video(tmp_path / "in.mp4", tmp_path / "o.mp4", colorizer, smooth=0, every=1, progress=False)
    assert r["frames"] == 4 and r["flicker"] == pytest.approx(r["flicker_unsmoothed"])


def test_a_running_mean_while_the_motion_is_trusted():
    L = photo_L(96, 64)  # the same frame four times: the flow is trusted everywhere (confidence 1)
    abs_ = [np.full((2, 64, 96), v, np.float32) for v in (0.1, 0.3, -0.2, 0.4)]
    out, _ = stabilise([L] * 4, abs_, strength=0.95)
    for k in range(4):  # the mean of the frames so far, each weighing the same
        assert np.allclose(out[k], np.mean(abs_[: k + 1], axis=0), atol=1e-5)
    out, _ = stabilise([L] * 4, abs_, strength=0.5)  # the strength caps the earlier frames' weight
    assert np.allclose(out[2], 0.5 * abs_[2] + 0.5 * np.mean(abs_[:2], axis=0), atol=1e-5)
