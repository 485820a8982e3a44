"""A small network that takes film grain, noise and JPEG blocks out of the colour networks' *input*.

The colour networks read texture: grain on a smooth sky makes it not-sky, and that costs an old print its
blues and greens. The cleaner sits in front of them, on the grey lightness at the networks' own resolution,
and is trained on pairs of the same photo clean and damaged by `data.degrade` (with a clean share, which it
learns to leave alone). Its loss looks at fine detail only: above a Gaussian of `SPLIT` pixels it must give
the clean photo's detail, below it the input's own (fading, vignetting and exposure are left as they are).
It restores nothing that the result shows: `colorize` keeps the photo's own lightness, grain included; only
what the colour networks see is cleaned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from polychromify.color import blur, grey_lightness, normalize_l, to_grey
from polychromify.data.degrade import degrade
from polychromify.data.images import to_rgb_array
from polychromify.models.registry import input_grid

SPLIT = 3.0  # pixels on the networks' grid: the Gaussian that parts the detail from the rest
CROP = 128  # training crops, on the networks' grid


class Cleaner(nn.Module):
    """L (N,1,H,W) in [-1,1] -> L plus a residual: a plain stack of dilated 3x3 convolutions on a
    half-resolution view (pixel-unshuffled), 67k parameters."""

    def __init__(self, width: int = 32, dilations: Sequence[int] = (1, 2, 4, 8, 4, 2, 1)) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.PixelUnshuffle(2), nn.Conv2d(4, width, 3, padding=1), nn.ReLU()]
        for d in dilations:
            layers += [nn.Conv2d(width, width, 3, padding=d, dilation=d), nn.ReLU()]
        layers += [nn.Conv2d(width, 4, 3, padding=1), nn.PixelShuffle(2)]
        self.body = nn.Sequential(*layers)
        for m in self.body:  # He initialisation (the default shrinks the signal through 9 layers)
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.body[-2].weight, std=1e-3)  # starts as (almost) the identity

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        h, w = L.shape[-2:]
        pad = (0, w % 2, 0, h % 2)  # odd sizes: one replicated column or row, cut off again
        x = nn.functional.pad(L, pad, mode="replicate") if any(pad) else L
        return (x + self.body(x))[..., :h, :w]


def pairs(files: Sequence[Path], copies: int, rng: np.random.Generator, grid: int = 256) -> torch.Tensor:
    """(M,2,CROP,CROP) uint8 grey crops (clean, damaged) as the colour networks see them: each photo
    greyed at a random 512-800 px, damaged `copies` times at a random severity (and once left clean), both
    box-averaged to the networks' grid (longer side `grid`), and the same random crop taken of both."""
    out = []
    for path in files:
        photo = Image.fromarray(to_rgb_array(path))
        w, h = photo.size
        for k in range(copies + 1):
            s = rng.uniform(512, 800) / max(h, w)
            size = (round(w * s), round(h * s))
            grey = to_grey(np.asarray(photo.resize(size, Image.Resampling.BICUBIC)))
            damaged = grey if k == 0 else degrade(grey, rng, rng.random())
            gh, gw = input_grid(*grey.shape, grid)
            if min(gh, gw) < CROP:
                continue
            y, x = rng.integers(0, gh - CROP + 1), rng.integers(0, gw - CROP + 1)
            small = [Image.fromarray(g).resize((gw, gh), Image.Resampling.BOX) for g in (grey, damaged)]
            out.append(np.stack(small)[:, y : y + CROP, x : x + CROP])
    if not out:
        raise ValueError("no photo gave a training crop")
    return torch.from_numpy(np.stack(out))


def losses(cleaner: Cleaner, clean: torch.Tensor, damaged: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(detail loss, drift loss, the identity's detail loss) for L batches in [-1,1]: mean squared errors x100
    of the output's detail against the clean photo's, and of its coarse part against the input's own."""

    def split(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        coarse = blur(z, SPLIT)
        return coarse, z - coarse

    (oc, od), (dc, dd), (_, cd) = split(cleaner(damaged)), split(damaged), split(clean)
    return ((od - cd) ** 2).mean() * 100, ((oc - dc) ** 2).mean() * 100, ((dd - cd) ** 2).mean() * 100


def train_cleaner(
    data: torch.Tensor,
    steps: int,
    batch: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    log: Callable[[dict], None] = lambda row: None,
) -> Cleaner:
    """A Cleaner trained on `pairs` (a random 1/20th, at least one, held back to report on) with Adam on a
    cosine schedule; `log` gets a row every 250 steps and at the end."""
    torch.manual_seed(seed)
    levels = torch.from_numpy(normalize_l(grey_lightness())).float()  # grey level -> network input
    g = torch.Generator().manual_seed(seed)
    data = data[torch.randperm(len(data), generator=g)].long()
    held = max(1, len(data) // 20)
    val, train = data[:held], data[held:] if len(data) > 1 else data
    cleaner = Cleaner()
    opt = torch.optim.Adam(cleaner.parameters(), lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    start = time.perf_counter()
    for step in range(steps):
        b = levels[train[torch.randint(len(train), (batch,), generator=g)]]
        if step % 2:
            b = b.flip(-1)
        detail, drift, _ = losses(cleaner, b[:, :1], b[:, 1:])
        opt.zero_grad()
        (detail + drift).backward()
        opt.step()
        schedule.step()
        if step % 250 == 0 or step == steps - 1:
            with torch.no_grad():
                v = levels[val]
                detail, drift, identity = (t.item() for t in losses(cleaner, v[:, :1], v[:, 1:]))
            log({"step": step, "detail": detail, "identity": identity, "drift": drift,
                 "seconds": time.perf_counter() - start})  # fmt: skip
    return cleaner.eval()
