"""Colour hints that fill the region they fall in: each hint's colour spreads along an edge-aware graph.

The network answers a hint near the hint. Here the hints' colours are also carried over the picture by
edge-aware diffusion (as in Levin et al. 2004, "Colorization using optimization", screened so that it fades
with distance): neighbouring cells are tied strongly where their lightness and predicted colour agree and
hardly at all across an edge. One sparse solve diffuses the hints' colours and their mass; colour / mass is
the hints' colour at each cell (a weighted average where several reach it), and mass / (mass + REACH) how
far it replaces the network's colour there: fully over the hint's region, fading out over a lawn's edge or
a horizon. The constants were chosen on 48 training photos by the hint sweep (`evaluate --hints`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spl
import torch
import torch.nn.functional as F

CELL = 4  # the graph's cells are 4x4 pixels of the network's grid (its output resolution)
SIGMA_L = 4.0  # lightness step (CIELAB L) at which a tie weakens to 1/e
SIGMA_AB = 0.05  # predicted-colour step (ab in [-1,1], ~6 CIELAB units) at which a tie weakens to 1/e
SCREEN = 1e-3  # pull of every cell towards no hint: the reach is ~1/sqrt(SCREEN) = 30 cells at most
HOLD = 10.0  # how firmly a hinted cell takes its hint
REACH = 1.0  # weight = min(1, mass / (mass + REACH) * (1 + REACH)): 1 at mass >= 1, 1/2 at mass 1/3


def spread_hints(
    L: torch.Tensor, ab: torch.Tensor, hints: list[tuple[float, float, float, float]]
) -> torch.Tensor:
    """L (1,h,w) in [0,100] and the network's ab (2,h,w) in [-1,1] on its grid; hints as (x, y, a, b) in
    that grid's pixels and ab in [-1,1] -> ab (2,h,w) with each hint's colour over its region."""
    if not hints:
        return ab
    h, w = ab.shape[-2:]
    small_L = F.avg_pool2d(L[None].double(), CELL, ceil_mode=True)[0, 0].numpy()
    small_ab = F.avg_pool2d(ab[None].double(), CELL, ceil_mode=True)[0].numpy()
    sh, sw = small_L.shape
    n = sh * sw
    mass, colour = np.zeros(n), np.zeros((n, 2))
    for x, y, a, b in hints:
        i = min(int(y / CELL), sh - 1) * sw + min(int(x / CELL), sw - 1)
        mass[i] += HOLD
        colour[i] += HOLD * np.array([a, b])
    ties = _ties(small_L, small_ab)
    system = sp.diags(np.asarray(ties.sum(1)).ravel() + SCREEN + mass) - ties
    solved = spl.spsolve(system.tocsc(), np.column_stack([colour, mass]))  # (n,3)
    reached = np.maximum(solved[:, 2:], 1e-12)
    weight = np.minimum(1.0, reached / (reached + REACH) * (1 + REACH))  # 1 at a hint (mass ~1 there)
    grid = np.concatenate([solved[:, :2] / reached, weight], 1).T.reshape(1, 3, sh, sw)
    grid = F.interpolate(torch.from_numpy(grid).float(), scale_factor=CELL, mode="bilinear")[0, :, :h, :w]
    return torch.lerp(ab, grid[:2], grid[2:]).clamp_(-1, 1)


def _ties(L: np.ndarray, ab: np.ndarray) -> sp.csr_matrix:
    """Symmetric (n,n) weights between each cell and its 8 neighbours."""
    sh, sw = L.shape
    index = np.arange(sh * sw).reshape(sh, sw)
    rows, cols, weights = [], [], []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        x0, x1 = max(0, -dx), sw - max(0, dx)
        here = (slice(0, sh - dy), slice(x0, x1))
        there = (slice(dy, sh), slice(x0 + dx, x1 + dx))
        colour_step = ((ab[(slice(None), *here)] - ab[(slice(None), *there)]) ** 2).sum(0)
        step = ((L[here] - L[there]) / SIGMA_L) ** 2 + colour_step / SIGMA_AB**2
        rows.append(index[here].ravel())
        cols.append(index[there].ravel())
        weights.append((np.exp(-step) / np.hypot(dy, dx)).ravel())
    r, c, v = (np.concatenate(x) for x in (rows, cols, weights))
    ties = sp.coo_matrix((v, (r, c)), shape=(sh * sw, sh * sw)).tocsr()
    return ties + ties.T
