"""A hint colours the region it falls in, not a disc around it (spread.py with the shipped default)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polychromify.color import rgb_to_lab
from polychromify.inference import Colorizer, Hint
from polychromify.spread import spread_hints

BLUE = "#3060d0"


def two_regions(w: int = 256, h: int = 160) -> np.ndarray:
    """A flat dark left half and a flat light right half (grey, uint8)."""
    grey = np.full((h, w), 200, np.uint8)
    grey[:, : w // 2] = 70
    return grey


def region_means(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _, ab = rgb_to_lab(rgb)
    w = ab.shape[1]
    inner = slice(8, -8)  # away from the boundary, where the colours blend over a few pixels
    return ab[inner, 8 : w // 2 - 8].reshape(-1, 2).mean(0), ab[inner, w // 2 + 8 : -8].reshape(-1, 2).mean(0)


@pytest.fixture(scope="module")
def colorizers():
    # fp32: the thresholds below are about the spreading's geometry on a synthetic picture, where bf16's
    # rounding moves the network's own colour of the flat region (and so the distance to the hint); on
    # real photos bf16 and fp32 gain the same from hints (docs/performance.md "Precision", `evaluate --hints`)
    return Colorizer("default", precision="fp32"), Colorizer("default", precision="fp32", spread=False)


def test_a_hint_fills_its_region_and_stops_at_the_edge(colorizers):
    grey = two_regions()
    spreading, network_only = colorizers
    goal = np.array(Hint(0, 0, BLUE).ab)
    plain_left, plain_right = region_means(spreading.colorize_array(grey))
    hint = [Hint(20, 20, BLUE)]  # the dark region's top-left corner: most of the region is far from it
    left, right = region_means(spreading.colorize_array(grey, hint))
    moved = np.linalg.norm(left - plain_left) / np.linalg.norm(goal - plain_left)
    assert moved > 0.7  # the whole region, on average, went most of the way to the hint's colour
    assert np.linalg.norm(right - plain_right) * 128 < 3  # the other side of the edge kept its colour
    alone_left, _ = region_means(network_only.colorize_array(grey, hint))
    # the network alone answers near the hint: the spreading is what moves the region
    assert np.linalg.norm(alone_left - plain_left) < 0.5 * np.linalg.norm(left - plain_left)


def test_spread_hints_on_the_grid():
    L = torch.full((1, 64, 64), 40.0)
    L[:, :, 32:] = 80.0
    ab = torch.zeros(2, 64, 64)
    out = spread_hints(L, ab, [(4.0, 30.0, 0.3, -0.2)])
    assert out.shape == ab.shape
    assert torch.allclose(out[:, 30, 4], torch.tensor([0.3, -0.2]), atol=0.03)  # the hinted cell takes it
    assert (out[:, :, :28].mean((1, 2)) - torch.tensor([0.3, -0.2])).abs().max() < 0.1  # and its region
    assert out[:, :, 36:].abs().max() < 0.01  # nothing crosses the lightness edge
    two = spread_hints(L, ab, [(4.0, 30.0, 0.3, -0.2), (60.0, 30.0, -0.3, 0.2)])  # one hint each side
    assert (two[:, :, 36:].mean((1, 2)) - torch.tensor([-0.3, 0.2])).abs().max() < 0.1
    assert torch.equal(spread_hints(L, ab, []), ab)
