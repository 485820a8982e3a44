"""Films coloured from keyframes: a person colours a few frames, the shot follows.

A keyframe is a colour version of frame N of the film, made anywhere (`colorize --hint`, the web page, a
photo editor), at any size with the frame's aspect. Its colours (ab) go onto the frame's own lightness and
are carried along the optical flow (`flow.py`) through its shot: forwards frame by frame as the film is
coloured, and backwards from a scan of the film made before the first frame is written (the scan finds
the shots and keeps only the small grey frames of the shot under way). A pixel's confidence is the lowest
of its chain's steps (zero where the flow fails its checks: what was hidden, what enters the frame) and its
lightness match with the keyframe, so a keyframe's colours stop where the motion can no longer say where
they went. Where several
keyframes reach a pixel they meet by confidence / (1 + distance in frames). Where none reaches, the
network's colours stay, drawn towards the palette of the shot's keyframes (a reference photo's mechanism,
`reference.py`). A keyframe colours only its own shot; a shot without one is coloured as without keyframes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from polychromify.color import rgb_to_lab
from polychromify.data.images import open_image, to_rgb_array
from polychromify.errors import PolychromifyError
from polychromify.flow import BRIGHTNESS_SIGMA, DIS_PRESETS, Flow, Warp, guide, prefer, warp, warp_between
from polychromify.reference import STRENGTH, Reference

MIN_REACH = 0.02  # a carried keyframe whose best confidence falls below this is dropped
TOLERANCE = 3.0  # the chained flow is kept where it explains a neighbourhood about as well (flow.prefer)
KEY_BLUR = 0.8  # px on the network's grid: see key_ab
ASPECT_TOLERANCE = 0.02  # a keyframe's width/height may differ this much (relative) from the frame's

KeyImage = str | Path | bytes | Image.Image | np.ndarray


def load_keyframes(keyframes: Mapping[int, KeyImage]) -> dict[int, np.ndarray]:
    """{N: path, bytes, PIL image or uint8 array} -> {N: (H,W,3) uint8 sRGB}, each with one clear error
    for a bad frame number or an image that cannot be read."""
    out = {}
    for n, image in sorted(keyframes.items()):
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise PolychromifyError(f"keyframe numbers are frame numbers from 0, not {n!r}")
        where = f" ({image})" if isinstance(image, str | Path) else ""
        try:
            out[n] = to_rgb_array(open_image(image) if isinstance(image, bytes) else image)
        except PolychromifyError as exc:
            raise PolychromifyError(f"keyframe {n}{where}: {exc}") from None
    return out


def _refiner() -> cv2.DISOpticalFlow:
    """DIS; a flow handed to its `calc` is its starting point (here: the chained warps), then refined."""
    return cv2.DISOpticalFlow_create(DIS_PRESETS["fast"])


def check_aspect(keyframes: Mapping[int, np.ndarray], width: int, height: int) -> None:
    """One clear error for a keyframe whose shape is not the frame's (any size, the same aspect)."""
    for n, rgb in keyframes.items():
        h, w = rgb.shape[:2]
        if abs((w / h) / (width / height) - 1) > ASPECT_TOLERANCE:
            raise PolychromifyError(
                f"keyframe {n} is {w}x{h}, the film's frames are {width}x{height}: a keyframe must have the "
                "frame's aspect (any size)"
            )


def key_ab(rgb: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """A keyframe (H,W,3) uint8 -> its colours (gh,gw,2) float32 in [-1,1] on the network's grid, softened
    by a Gaussian of `KEY_BLUR` px: sampled at sub-pixel positions that move from frame to frame, finer
    detail would shimmer (on #46's pans it cut the flicker along the motion by ~10%)."""
    gh, gw = grid
    small = np.asarray(Image.fromarray(rgb).resize((gw, gh), Image.Resampling.BOX))
    return cv2.GaussianBlur(rgb_to_lab(small)[1], (0, 0), KEY_BLUR)


@dataclass
class Carried:
    """Where each pixel of a frame lies in a keyframe (h,w,2 offsets into it) and how far to trust that
    (h,w): the keyframe's colours reach the frame through it."""

    key: int
    where: np.ndarray
    confidence: np.ndarray

    @property
    def reaches(self) -> bool:
        return float(self.confidence.max()) >= MIN_REACH


@dataclass
class Keyframes:
    """The keyframes of one film on the network's grid, and their colours carried through their shots.
    `scan` (before any frame is coloured) finds each keyframe's shot and carries it backwards; `__call__`,
    for each frame in order, carries the keyframes forwards and says what they give that frame.

    A frame is matched to the keyframe itself, not only to the frame before: the frame-to-frame warps,
    chained, give where each pixel lies in the keyframe, and DIS refines that against the keyframe (from
    the chain as its initial flow), so errors do not add up along the shot and the colours are resampled
    once, not once per frame. The confidence is the chain's (the lowest of its steps: what was hidden
    once stays untrusted) and the lightness match with the keyframe."""

    images: dict[int, np.ndarray]  # keyframe -> (H,W,3) uint8
    flow: Flow
    strength: float = STRENGTH  # the pull of the shot's network colours towards the keyframes' palette
    shot_of: dict[int, int] = field(default_factory=dict)  # keyframe -> the first frame of its shot
    ab: dict[int, np.ndarray] = field(default_factory=dict)  # keyframe -> (gh,gw,2) its colours
    guides: dict[int, np.ndarray] = field(default_factory=dict)  # keyframe -> its guide (flow.guide)
    behind: dict[int, list[Carried]] = field(default_factory=dict)  # frame -> later keyframes carried back
    ahead: list[Carried] = field(default_factory=list)  # earlier keyframes of the shot under way
    palettes: dict[int, Reference] = field(default_factory=dict)  # shot's first frame -> keyframes' colours
    refine: cv2.DISOpticalFlow = field(default_factory=_refiner, repr=False)

    def scan(self, frames: Iterable[tuple]) -> None:
        """The pre-pass over (frame number, L (1,gh,gw), starts a shot?) up to the last keyframe: each
        keyframe's shot, and its colours carried backwards to the shot's start (or as far as they reach).
        A keyframe past the film's end is an error."""
        last, shot, guides, count = max(self.images), 0, [], 0
        for index, L, new_shot, *_ in frames:
            count = index + 1
            if new_shot:
                shot, guides = index, []
            guides.append(guide(L[0].numpy()))
            if index in self.images:
                self.shot_of[index], self.guides[index] = shot, guides[-1]
                self.ab[index] = key_ab(self.images[index], tuple(L.shape[-2:]))
                self._carry_back(index, guides)
            if index >= last:
                return
        raise PolychromifyError(f"keyframe {last} is past the film's end ({count} frames, numbered from 0)")

    def _carry_back(self, key: int, guides: list[np.ndarray]) -> None:
        """The keyframe carried from frame `key` to each earlier frame of its shot (`guides`: the shot's
        grey frames so far, the keyframe's last)."""
        c = self._start(key)
        for t in range(len(guides) - 2, -1, -1):
            a, b = guides[t], guides[t + 1]
            c = self._step(c, warp_between(self.flow(a, b), self.flow(b, a), a, b), a)  # t+1 onto t
            if not c.reaches:
                break
            self.behind.setdefault(key - (len(guides) - 1 - t), []).append(c)

    def _start(self, key: int) -> Carried:
        h, w = self.guides[key].shape
        return Carried(key, np.zeros((h, w, 2), np.float32), np.ones((h, w), np.float32))

    def _step(self, c: Carried, w: Warp, g: np.ndarray) -> Carried:
        """`c` one frame further: `w` brings the frame it was on onto the frame whose guide is `g`."""
        chained, key = w.flow + w(c.where), self.guides[c.key]
        where = prefer(g, key, self.refine.calc(g, key, chained.copy()), chained, TOLERANCE)
        d = (g.astype(np.float32) - warp(key.astype(np.float32), where)) / 255
        match = np.exp(-(d**2) / (2 * BRIGHTNESS_SIGMA**2))
        return Carried(c.key, where, np.minimum(np.minimum(w.confidence, w(c.confidence)), match))

    def palette(self, shot: int) -> Reference | None:
        """The colours of the keyframes of the shot starting at frame `shot` (None: it has none)."""
        if shot not in self.palettes:
            keys = self.keys_of(shot)
            if not keys:
                return None
            ab = np.concatenate([self.ab[k].reshape(-1, 2) for k in keys])  # (P,2)
            self.palettes[shot] = Reference(torch.from_numpy(ab.T.copy())[None, :, :, None], self.strength)
        return self.palettes[shot]

    def __call__(
        self, index: int, back: Warp | None, g: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Frame `index` (in order; `back`: the warp bringing the frame before onto it, None where a shot
        starts; `g`: its guide) -> (ab (h,w,2), confidence (h,w)) that the keyframes give it, or None where
        none reaches."""
        self.ahead = [self._step(c, back, g) for c in self.ahead] if back is not None else []
        self.ahead = [c for c in self.ahead if c.reaches]
        if index in self.ab:
            self.ahead.append(self._start(index))
        found = self.ahead + self.behind.pop(index, [])
        if not found:
            return None
        weights = [c.confidence / (1 + abs(index - c.key)) for c in found]
        total = sum(weights)
        ab = sum(w[..., None] * warp(self.ab[c.key], c.where) for w, c in zip(weights, found, strict=True))
        ab = np.divide(ab, total[..., None], out=np.zeros_like(ab), where=total[..., None] > 0)
        return ab, np.max([c.confidence for c in found], axis=0)

    def keys_of(self, shot: int) -> list[int]:
        """The keyframes of the shot that starts at frame `shot`."""
        return sorted(k for k, s in self.shot_of.items() if s == shot)
