"""Optical flow between frames, how far to trust a warp along it, and the field's temporal metrics.

`polychromify video` follows the motion at the network's resolution (~256 px): DIS flow (Kroeger et al.
2016, OpenCV) on the grey frames, blurred first so that film grain does not read as motion. A warp comes
with a per-pixel confidence in [0, 1] that is zero where the flow is not trustworthy: the forward-backward
check and the motion boundaries of Sundaram et al. 2010 (as Ruder et al. 2016 and Lai et al. 2018 use
them), samples from outside the other frame, and, as a soft term, how well the warped lightness matches
(Bonneel et al. 2015: exp(-d^2 / (2 * 0.05^2)), L in [0, 1]).

Metrics: the warp error of Lai et al. 2018 (the previous output frame warped onto the current one, squared
RGB difference in [0,1] summed over channels and averaged over the non-occluded pixels), scored with
Farneback's flow so that the stabiliser is not judged by its own flow; and the colour distribution
consistency of TCVC (Liu et al. 2021: the Jensen-Shannon divergence of per-channel 256-bin RGB histograms
between frames t and t+1, t+2, t+4, averaged over channels, frames and the three distances).
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.spatial.distance import jensenshannon

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
BRIGHTNESS_SIGMA = 0.05  # Bonneel et al. 2015, on L in [0, 1]
CDC_DISTANCES = (1, 2, 4)

Flow = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (grey a, grey b) uint8 (h,w) -> (h,w,2) float32


def guide(L: np.ndarray, blur: float = 1.0) -> np.ndarray:
    """CIELAB L (h,w) in [0,100] -> the uint8 (h,w) image the flow is computed on, Gaussian-blurred
    (sigma `blur` px) so that grain does not become motion."""
    grey = np.clip(np.rint(L * 2.55), 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(grey, (0, 0), blur) if blur > 0 else grey


def dis_flow(preset: str = "fast", tolerance: float = 3.0) -> Flow:
    """DIS optical flow with an OpenCV preset: flow(a, b)[y, x] is where pixel (x, y) of `a` lies in `b`
    (so `warp(b_values, flow)` brings b's values onto a). Runs on one thread (`cv2.setNumThreads(1)`, for
    the process): on the network's grid it takes ~1 ms, and threads would only take cores from torch and
    the codecs. In flat or grainy areas DIS fits the grain and its vectors are noise, which the checks
    then reject, so stabilisation would stop where flicker shows most; `tolerance`: there the frame's
    dominant motion (the median vector: the camera's) is taken instead wherever it explains the 5x5
    neighbourhood about as well (squared error at most 1 + `tolerance` times DIS's, plus one grey level^2)."""
    cv2.setNumThreads(1)
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
    return lambda a, b: _prefer_dominant(a, b, dis.calc(a, b, None), tolerance)


def _prefer_dominant(a: np.ndarray, b: np.ndarray, flow: np.ndarray, tolerance: float) -> np.ndarray:
    median = np.median(flow[::4, ::4].reshape(-1, 2), axis=0)  # every 16th pixel: as good, 16x cheaper
    return prefer(a, b, flow, np.broadcast_to(median, flow.shape).astype(np.float32), tolerance)


def prefer(
    a: np.ndarray, b: np.ndarray, flow: np.ndarray, steady: np.ndarray, tolerance: float
) -> np.ndarray:
    """Two flows from grey `a` into grey `b` -> per pixel `steady` wherever it explains the 5x5
    neighbourhood about as well as `flow` (squared error at most 1 + `tolerance` times, plus one grey
    level^2), else `flow`: where DIS only fits grain, the steadier guess."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    local = [cv2.blur((a - warp(b, f)) ** 2, (5, 5)) for f in (flow, steady)]
    take = local[1] <= (1 + tolerance) * local[0] + 1.0
    return np.where(take[..., None], steady, flow)


def farneback_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Farneback's dense flow (OpenCV's usual settings), same convention as `dis_flow`: the metrics' flow."""
    return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)


@functools.cache
def _pixels(h: int, w: int) -> np.ndarray:
    """(h,w,2) float32 (x, y) of each pixel, read-only."""
    xy = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), -1)
    xy.flags.writeable = False
    return xy


def warp(x: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Values of another frame (h,w) or (h,w,c<=4) float32 -> sampled where `flow` (h,w,2) says each pixel
    of this frame lies there (bilinear; outside the frame the edge value, which `Warp` distrusts)."""
    where = flow + _pixels(*flow.shape[:2])
    return cv2.remap(x, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _sq(v: np.ndarray) -> np.ndarray:
    """(h,w,2) -> (h,w) squared length."""
    return v[..., 0] ** 2 + v[..., 1] ** 2


def occluded(fwd: np.ndarray, bwd: np.ndarray) -> np.ndarray:
    """(h,w) bool: the pixels of frame A whose flow into B (`fwd`, with `bwd` from B to A) is not
    trustworthy: the forward-backward check |f + b(x+f)|^2 > 0.01 (|f|^2 + |b(x+f)|^2) + 0.5, a motion
    boundary |grad f|^2 > 0.01 |f|^2 + 0.002, or a sample outside B."""
    h, w = fwd.shape[:2]
    back = warp(bwd, fwd)  # b(x + f)
    f2 = _sq(fwd)
    fb = _sq(fwd + back) > 0.01 * (f2 + _sq(back)) + 0.5
    grad = np.zeros((h, w), np.float32)  # forward differences, as Ruder et al.'s code
    grad[:, :-1] += _sq(fwd[:, 1:] - fwd[:, :-1])
    grad[:-1, :] += _sq(fwd[1:, :] - fwd[:-1, :])
    boundary = grad > 0.01 * f2 + 0.002
    x, y = np.moveaxis(fwd + _pixels(h, w), -1, 0)
    outside = (x < 0) | (x > w - 1) | (y < 0) | (y > h - 1)
    return fb | boundary | outside


@dataclass
class Warp:
    """How to bring another frame's values onto this one: where each pixel lies there, and how far to
    trust that, per pixel."""

    flow: np.ndarray  # (h,w,2) float32, pixel offsets into the other frame
    confidence: np.ndarray  # (h,w) float32 in [0,1]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return warp(x, self.flow)

    @property
    def trust(self) -> float:
        """Mean confidence over the frame, in [0,1]."""
        return float(self.confidence.mean())


def warp_between(
    fwd: np.ndarray, bwd: np.ndarray, guide_a: np.ndarray, guide_b: np.ndarray, margin: int = 2
) -> Warp:
    """Flows A->B and B->A and the two frames' guides (uint8) -> the `Warp` that brings B onto A, with
    zero confidence where `occluded` and within `margin` px of it (a flow blurs across the edges of what
    moves: without the margin a moving object's colour trails behind it), and elsewhere the brightness
    match exp(-d^2 / (2 * 0.05^2))."""
    bad = occluded(fwd, bwd).astype(np.uint8)
    if margin:
        bad = cv2.dilate(bad, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    d = (guide_a.astype(np.float32) - warp(guide_b.astype(np.float32), fwd)) / 255
    confidence = np.exp(-(d**2) / (2 * BRIGHTNESS_SIGMA**2)) * (1 - bad)
    return Warp(fwd, confidence.astype(np.float32))


def warp_error(out: np.ndarray, out_prev: np.ndarray, fwd: np.ndarray, bwd: np.ndarray) -> float | None:
    """Lai et al.'s warp error of one pair: output frames (h,w,3) uint8 at t and t-1, flows t->t-1 and
    t-1->t of the input -> squared RGB distance ([0,1] per channel, summed over channels) of frame t and
    frame t-1 warped onto it, averaged over the non-occluded pixels; None if every pixel is occluded."""
    keep = ~occluded(fwd, bwd)
    if not keep.any():
        return None
    diff = out.astype(np.float32) / 255 - warp(out_prev.astype(np.float32) / 255, fwd)
    return float((diff**2).sum(-1)[keep].mean())


def colour_histograms(rgb: np.ndarray) -> np.ndarray:
    """(h,w,3) uint8 -> (3,256) float64: each channel's 256-bin histogram, normalised to sum 1."""
    counts = np.stack([np.bincount(rgb[..., c].ravel(), minlength=256) for c in range(3)])
    return counts / counts.sum(1, keepdims=True)


def histogram_divergence(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over the channels of the Jensen-Shannon divergence (natural log) of two `colour_histograms`."""
    return float(np.mean([jensenshannon(p, q) ** 2 for p, q in zip(a, b, strict=True)]))


@dataclass
class TemporalScores:
    """Warp error and CDC of a stream of output frames, within shots (a pair across a cut is skipped).
    `add` each output frame (h,w,3) uint8 with its input grey (h,w) uint8, which the flow is computed on."""

    flow: Flow = farneback_flow
    warp_errors: list[float] = field(default_factory=list)
    divergences: dict[int, list[float]] = field(default_factory=lambda: {d: [] for d in CDC_DISTANCES})
    recent: deque = field(default_factory=lambda: deque(maxlen=max(CDC_DISTANCES)), repr=False)
    prev: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def add(self, rgb: np.ndarray, grey: np.ndarray, new_shot: bool = False) -> None:
        if new_shot:
            self.recent.clear()
            self.prev = None
        if self.prev is not None:
            prev_rgb, prev_grey = self.prev
            error = warp_error(rgb, prev_rgb, self.flow(grey, prev_grey), self.flow(prev_grey, grey))
            if error is not None:
                self.warp_errors.append(error)
        hist = colour_histograms(rgb)
        for distance in CDC_DISTANCES:
            if len(self.recent) >= distance:
                self.divergences[distance].append(histogram_divergence(self.recent[-distance], hist))
        self.recent.append(hist)
        self.prev = rgb, grey

    @property
    def warp_error(self) -> float | None:
        """Mean warp error over the frame pairs (None before two frames of one shot)."""
        return float(np.mean(self.warp_errors)) if self.warp_errors else None

    @property
    def cdc(self) -> float | None:
        """Mean over the distances 1, 2, 4 (those a clip this short has) of the mean divergence."""
        means = [np.mean(v) for v in self.divergences.values() if v]
        return float(np.mean(means)) if means else None
