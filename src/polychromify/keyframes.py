"""Films coloured from keyframes: a person colours a few frames, the shot follows.

A keyframe is a colour version of frame N of the film, made anywhere (`colorize --hint`, the web page, a
photo editor), at any size with the frame's aspect. Its colours (ab) go onto the frame's own lightness and
are carried along the optical flow (`flow.py`) through its shot: forwards frame by frame as the film is
coloured, and backwards from a scan of the film made before the first frame is written (the scan finds
the shots and keeps only the small grey frames of the shot under way). Each step multiplies a per-pixel
confidence by the warp's own (zero where the flow fails its checks: what was hidden, what enters the
frame), so a keyframe's colours stop where the motion can no longer say where they went. Where several
keyframes reach a pixel they meet by confidence / (1 + distance in frames). Where none reaches, the
network's colours stay, drawn towards the palette of the shot's keyframes (a reference photo's mechanism,
`reference.py`). A keyframe colours only its own shot; a shot without one is coloured as without keyframes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from polychromify.color import rgb_to_lab
from polychromify.data.images import open_image, to_rgb_array
from polychromify.errors import PolychromifyError
from polychromify.flow import Flow, Warp, guide, warp_between
from polychromify.reference import STRENGTH, Reference

MIN_REACH = 0.02  # a carried keyframe whose best confidence falls below this is dropped
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
            im = open_image(image) if isinstance(image, str | Path | bytes) else to_rgb_array(image)
        except PolychromifyError as exc:
            raise PolychromifyError(f"keyframe {n}{where}: {exc}") from None
        out[n] = np.asarray(im) if isinstance(im, Image.Image) else to_rgb_array(im)
    return out


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
    """A keyframe (H,W,3) uint8 -> its colours (gh,gw,2) float32 in [-1,1] on the network's grid."""
    gh, gw = grid
    small = np.asarray(Image.fromarray(rgb).resize((gw, gh), Image.Resampling.BOX))
    return rgb_to_lab(small)[1]


@dataclass
class Carried:
    """One keyframe's colours carried to a frame: ab (h,w,2), confidence (h,w), and from which keyframe."""

    key: int
    ab: np.ndarray
    confidence: np.ndarray

    def step(self, w: Warp) -> Carried:
        """Carried one frame further along the warp `w`."""
        return Carried(self.key, w(self.ab), np.minimum(w.confidence, w(self.confidence)))

    @property
    def reaches(self) -> bool:
        return float(self.confidence.max()) >= MIN_REACH


@dataclass
class Keyframes:
    """The keyframes of one film on the network's grid, and their colours carried through their shots.
    `scan` (before any frame is coloured) finds each keyframe's shot and carries it backwards; `__call__`,
    for each frame in order, carries the keyframes forwards and says what they give that frame."""

    images: dict[int, np.ndarray]  # keyframe -> (H,W,3) uint8
    flow: Flow
    strength: float = STRENGTH  # the pull of the shot's network colours towards the keyframes' palette
    shot_of: dict[int, int] = field(default_factory=dict)  # keyframe -> the first frame of its shot
    ab: dict[int, np.ndarray] = field(default_factory=dict)  # keyframe -> (gh,gw,2) its colours
    behind: dict[int, list[Carried]] = field(default_factory=dict)  # frame -> later keyframes carried back
    ahead: list[Carried] = field(default_factory=list)  # earlier keyframes of the shot under way
    palettes: dict[int, Reference] = field(default_factory=dict)  # shot's first frame -> keyframes' colours

    def scan(self, frames: Iterable[tuple]) -> int:
        """The pre-pass over (frame number, L (1,gh,gw), starts a shot?) up to the last keyframe: each
        keyframe's shot, and its colours carried backwards to the shot's start (or as far as they reach).
        Returns the number of frames scanned; a keyframe past the film's end is an error."""
        last, shot, guides, count = max(self.images), 0, [], 0
        for index, L, new_shot, *_ in frames:
            count = index + 1
            if new_shot:
                shot, guides = index, []
            guides.append(guide(L[0].numpy()))
            if index in self.images:
                self.shot_of[index] = shot
                self.ab[index] = key_ab(self.images[index], tuple(L.shape[-2:]))
                self._carry_back(index, guides)
            if index >= last:
                return count
        raise PolychromifyError(f"keyframe {last} is past the film's end ({count} frames, numbered from 0)")

    def _carry_back(self, key: int, guides: list[np.ndarray]) -> None:
        """The keyframe's colours carried from frame `key` to each earlier frame of its shot (`guides`: the
        shot's grey frames so far, the keyframe's last)."""
        h, w = guides[-1].shape
        c = Carried(key, self.ab[key], np.ones((h, w), np.float32))
        for t in range(len(guides) - 2, -1, -1):
            a, b = guides[t], guides[t + 1]
            c = c.step(warp_between(self.flow(a, b), self.flow(b, a), a, b))  # brings t+1 onto t
            if not c.reaches:
                break
            index = key - (len(guides) - 1 - t)
            self.behind.setdefault(index, []).append(
                Carried(key, c.ab.astype(np.float16), c.confidence.astype(np.float16))
            )

    def palette(self, shot: int) -> Reference | None:
        """The colours of the keyframes of the shot starting at frame `shot` (None: it has none)."""
        if shot not in self.palettes:
            keys = [k for k, s in self.shot_of.items() if s == shot]
            if not keys:
                return None
            ab = np.concatenate([self.ab[k].reshape(-1, 2) for k in keys])  # (P,2)
            self.palettes[shot] = Reference(torch.from_numpy(ab.T.copy())[None, :, :, None], self.strength)
        return self.palettes[shot]

    def __call__(self, index: int, back: Warp | None) -> tuple[np.ndarray, np.ndarray] | None:
        """Frame `index` (in order; `back`: the warp bringing the frame before onto it, None where a shot
        starts) -> (ab (h,w,2), confidence (h,w)) that the keyframes give it, or None where none reaches."""
        self.ahead = [c.step(back) for c in self.ahead] if back is not None else []
        self.ahead = [c for c in self.ahead if c.reaches]
        if index in self.ab:
            self.ahead.append(Carried(index, self.ab[index], np.ones(self.ab[index].shape[:2], np.float32)))
        found = self.ahead + self.behind.pop(index, [])
        if not found:
            return None
        weights = [c.confidence.astype(np.float32) / (1 + abs(index - c.key)) for c in found]
        total = sum(weights)
        ab = sum(w[..., None] * c.ab.astype(np.float32) for w, c in zip(weights, found, strict=True))
        ab = np.divide(ab, total[..., None], out=np.zeros_like(ab), where=total[..., None] > 0)
        confidence = np.max([c.confidence for c in found], axis=0).astype(np.float32)
        return ab, confidence

    def keys_of(self, shot: int) -> list[int]:
        """The keyframes of the shot that starts at frame `shot`."""
        return sorted(k for k, s in self.shot_of.items() if s == shot)
