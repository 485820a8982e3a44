"""Sparse colour hints sampled from the ground truth, as SIGGRAPH17 (Zhang et al. 2017) trains them."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def sample_hints(
    ab: torch.Tensor,
    generator: torch.Generator | None = None,
    p: float = 0.125,
    max_points: int = 10,
    patch_sizes: Sequence[int] = (1, 3, 5, 7, 9),
) -> torch.Tensor:
    """ab (N,2,H,W) in [-1,1] -> hints (N,3,H,W) = (a, b, mask); a, b are 0 where mask is 0.

    Per image the number of points is geometric (another point with probability 1-p, at most
    `max_points`), so about a fraction p of images (1 in 8) gets none and the network also learns to
    colorize alone. Each point reveals the mean ab of an s x s patch of the ground truth (s drawn from
    `patch_sizes`) at a place drawn, as in the release, from a Gaussian around the image centre (std a
    quarter of the image) and clipped to the image. Later points overwrite earlier ones where they overlap.
    """
    n, _, h, w = ab.shape
    hints = ab.new_zeros(n, 3, h, w)
    for i in range(n):
        stops = torch.rand(max_points, generator=generator) < p  # True: stop before this point
        count = int(stops.int().argmax()) if bool(stops.any()) else max_points
        sizes = torch.randint(len(patch_sizes), (count,), generator=generator).tolist()
        centre = torch.randn(count, 2, generator=generator)  # (count,2) standard normal
        for k, size_index in enumerate(sizes):
            s = min(patch_sizes[size_index], h, w)
            y = _place(float(centre[k, 0]), h - s)
            x = _place(float(centre[k, 1]), w - s)
            hints[i, :2, y : y + s, x : x + s] = ab[i, :, y : y + s, x : x + s].mean(dim=(1, 2), keepdim=True)
            hints[i, 2, y : y + s, x : x + s] = 1.0
    return hints


def _place(z: float, room: int) -> int:
    """A standard-normal draw -> top-left offset in [0, room], centred with std (room + 1) / 4."""
    return int(min(max(round(room / 2 + z * (room + 1) / 4), 0), room))
