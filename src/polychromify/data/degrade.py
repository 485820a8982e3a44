"""Old-print damage for grey photos: what a faded, grainy, soft scan of a print does to the network's input.

One chain, in the order damage accrues: capture (optical blur, film grain), ageing (fading, vignetting and
uneven exposure, scratches and dust), scanning (halftone dots now and then, resampling, sensor noise),
saving (JPEG). Each step happens with a probability, and `severity` (0..1) scales how strong it can be.
The ranges follow the field's synthetic pipelines: Bringing Old Photos Back to Life (blur sigma 1-5, noise
sigma 5-50/255, resampling to 1/2-1x, JPEG 40-100, each with p = 0.7) and Real-ESRGAN (blur sigma 0.2-3,
noise sigma 1-30, JPEG 30-95), narrowed where an old print is gentler than their worst.

Training uses it on the network's *input* only (`train --degrade P`: that share of the samples, each at a
random severity; the target stays the clean colour); `evaluate --degrade LEVEL` damages each held-out photo
at a fixed severity, seeded by its file name (the same steps at every level, stronger). The chain does not
restore anything: colorize keeps the input's own lightness, grain and scratches included.
"""

from __future__ import annotations

import io
import zlib

import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy import ndimage

from polychromify.color import grey_lightness, grey_srgb, normalize_l

LEVELS = {"mild": 0.35, "medium": 0.65, "strong": 1.0}  # evaluate --degrade LEVEL -> severity


def degrade(grey: np.ndarray, rng: np.random.Generator, severity: float = 1.0) -> np.ndarray:
    """(H,W) uint8 grey photo -> the same photo damaged like an old print's scan, (H,W) uint8."""
    s = float(np.clip(severity, 0.0, 1.0))
    x = grey.astype(np.float32) / 255.0
    h, w = x.shape
    # capture: a soft lens (sometimes stronger along one axis), then film grain, strongest in the midtones
    if rng.random() < 0.7:
        sigma = 0.3 + s * 1.7 * rng.random()
        sigmas = (sigma, sigma * rng.uniform(0.4, 1.0)) if rng.random() < 0.3 else (sigma, sigma)
        x = ndimage.gaussian_filter(x, sigmas[:: rng.choice([-1, 1])])
    if rng.random() < 0.6:
        grain = ndimage.gaussian_filter(rng.standard_normal((h, w)).astype(np.float32), rng.uniform(0.5, 1.5))
        grain /= grain.std() + 1e-6
        x += s * rng.uniform(0.01, 0.08) * grain * 4 * x * (1 - x)
    # ageing: lifted blacks and lowered whites with a gamma change; a dark rim and uneven exposure
    if rng.random() < 0.7:
        black, white = s * rng.uniform(0, 0.3), 1 - s * rng.uniform(0, 0.25)
        x = black + (white - black) * np.clip(x, 0, 1) ** np.exp(s * rng.uniform(-0.4, 0.4))
    if rng.random() < 0.5:
        yy, xx = np.mgrid[-1 : 1 : h * 1j, -1 : 1 : w * 1j].astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        rim = 1 - s * rng.uniform(0, 0.5) * (xx**2 + yy**2) / 2
        x *= rim * (1 + s * rng.uniform(-0.2, 0.2) * (np.cos(angle) * xx + np.sin(angle) * yy))
    if rng.random() < 0.4:  # (its own generator: how many marks depends on s, the draws after it do not)
        x = _scratches_and_dust(x, np.random.default_rng(rng.integers(2**63)), s)
    # scanning: halftone dots now and then, resampling down and back, the scanner's own noise
    if rng.random() < 0.1:
        x = _halftone(x, rng)
    if rng.random() < 0.5:
        factor = 1 + s * rng.random()  # down by up to 2x
        small = (max(1, round(w / factor)), max(1, round(h / factor)))
        kind = rng.choice([Image.Resampling.BOX, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC])
        x = np.asarray(Image.fromarray(x.astype(np.float32), "F").resize(small, kind).resize((w, h), kind))
    if rng.random() < 0.5:
        x = x + rng.normal(0, s * rng.uniform(1, 15) / 255, (h, w)).astype(np.float32)
    out = np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)
    # saving: a JPEG copy
    if rng.random() < 0.7:
        buf = io.BytesIO()
        Image.fromarray(out, "L").save(buf, "JPEG", quality=int(round(95 - s * rng.uniform(0, 65))))
        out = np.asarray(Image.open(buf).convert("L"))
    return out


def _scratches_and_dust(x: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    """Thin light or dark lines (mostly along the film's length) and specks, drawn as offsets."""
    h, w = x.shape
    marks = Image.new("F", (w, h), 0.0)
    draw = ImageDraw.Draw(marks)
    for _ in range(rng.integers(1, 2 + int(5 * s))):
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        angle = rng.normal(np.pi / 2, 0.3) if rng.random() < 0.7 else rng.uniform(0, np.pi)
        length = rng.uniform(0.2, 1.0) * max(h, w)
        x1, y1 = x0 + length * np.cos(angle), y0 + length * np.sin(angle)
        value = rng.choice([-1, 1]) * s * rng.uniform(0.1, 0.4)
        draw.line([(x0, y0), (x1, y1)], fill=float(value), width=int(rng.integers(1, 3)))
    for _ in range(rng.integers(0, 2 + int(30 * s * h * w / 1e5))):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.5, 2.0)
        draw.ellipse(
            [cx - r, cy - r, cx + r, cy + r], fill=float(rng.choice([-1, 1]) * s * rng.uniform(0.2, 0.6))
        )
    return x + ndimage.gaussian_filter(np.asarray(marks), 0.6)  # softened: a scan is never pixel-sharp


def _halftone(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A printed halftone screen (dots on a 45-degree grid, 3-6 px apart) as a scanner sees it: blurred."""
    h, w = x.shape
    period = rng.uniform(3, 6)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = (xx + yy) / np.sqrt(2), (xx - yy) / np.sqrt(2)
    screen = 0.5 + 0.25 * (np.cos(2 * np.pi * u / period) + np.cos(2 * np.pi * v / period))
    dots = (np.clip(x, 0, 1) > screen).astype(np.float32)
    mix = rng.uniform(0.4, 1.0)
    return (1 - mix) * x + mix * ndimage.gaussian_filter(dots, period / 2.5)


def degrade_batch(
    L: torch.Tensor,
    rng: np.random.Generator,
    share: float,
    severity: float | None = None,
    zoom: float = 1.0,
) -> torch.Tensor:
    """Network input L (N,1,S,S) in [-1,1] -> a copy in which each sample, with probability `share`, is
    damaged (`degrade`) at `severity` (None: a random one each); the others are left exactly as they were.
    zoom > 1: each is damaged at a random 1 to `zoom` times its size and box-averaged back, as on a scan
    larger than the network's grid (grain, blur and scratches come out finer on the grid)."""
    out = L.clone()
    levels = torch.from_numpy(normalize_l(grey_lightness()))  # grey level -> network input
    for i in np.flatnonzero(rng.random(len(L)) < share):
        grey = (grey_srgb(L[i : i + 1])[0, 0] * 255).round().to(torch.uint8).numpy()
        s = rng.random() if severity is None else severity
        z = rng.uniform(1.0, zoom) if zoom > 1 else 1.0
        if z > 1:
            h, w = grey.shape
            big = Image.fromarray(grey).resize((round(w * z), round(h * z)), Image.Resampling.BICUBIC)
            damaged = Image.fromarray(degrade(np.asarray(big), rng, s)).resize((w, h), Image.Resampling.BOX)
            damaged = np.asarray(damaged)
        else:
            damaged = degrade(grey, rng, s)
        out[i, 0] = levels[torch.from_numpy(damaged.astype(np.int64))]
    return out


def photo_rng(name: str) -> np.random.Generator:
    """The generator of one photo's damage: the same file name draws the same steps at every level, so a
    stronger level is the same damage, stronger."""
    return np.random.default_rng(zlib.crc32(name.encode()))
