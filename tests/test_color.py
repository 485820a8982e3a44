import numpy as np
import torch

from polychromify.color import (
    AB_SCALE,
    BOOST,
    FAINT,
    GREY_CHROMA,
    chroma,
    confident_colours,
    lab_to_rgb,
    normalize_l,
    rgb_to_lab,
)


def test_round_trip_rgb_lab_rgb():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    L, ab = rgb_to_lab(rgb)
    back = lab_to_rgb(L, ab)
    assert np.abs(back.astype(int) - rgb.astype(int)).max() <= 1


def test_ranges_and_seed_scaling():
    pure = np.array([[[255, 0, 0], [0, 0, 255], [0, 255, 0], [255, 255, 255]]], dtype=np.uint8)
    L, ab = rgb_to_lab(pure)
    assert L.shape == (1, 4) and ab.shape == (1, 4, 2)
    assert L.min() >= 0 and L.max() <= 100.0001
    assert np.abs(ab).max() <= 1.0
    # sRGB red is a* ~ 80.1 in CIELAB D65: stored as a*/128
    np.testing.assert_allclose(ab[0, 0, 0] * AB_SCALE, 80.1, atol=0.2)
    assert chroma(ab)[0, 3] < 0.01  # white has no chroma
    np.testing.assert_allclose(normalize_l(np.array([0.0, 50.0, 100.0])), [-1, 0, 1])


def test_grey_has_zero_ab():
    grey = np.full((4, 4, 3), 77, np.uint8)
    _, ab = rgb_to_lab(grey)
    assert np.abs(ab).max() < 1e-3


def test_blur_keeps_flat_colour_and_the_total():
    import torch

    from polychromify.color import blur

    flat = torch.full((1, 2, 5, 7), 0.3)
    assert torch.allclose(blur(flat, 1.0), flat)
    spot = torch.zeros(2, 2, 11, 11)
    spot[..., 5, 5] = 1
    out = blur(spot, 1.0)
    assert out.shape == spot.shape and torch.allclose(out.sum((-2, -1)), torch.ones(2, 2))
    assert out[0, 0, 5, 5] < 0.2 and out[0, 0, 5, 6] > 0.05  # spread to the neighbours
    assert blur(spot, 0) is spot


def test_confident_colours_turn_likely_grey_down_and_sure_colours_up():
    bins = torch.tensor([[0.0, 0.0], [5.0, 5.0], [40.0, -30.0], [-60.0, 20.0]])  # two of chroma < GREY_CHROMA
    assert (bins.norm(dim=1) < GREY_CHROMA).tolist() == [True, True, False, False]
    logits = torch.full((1, 4, 1, 3), -30.0)
    logits[0, 2, 0, 0] = 0  # sure of a colour
    logits[0, [0, 2], 0, 1] = 0  # half grey, half that colour
    logits[0, [1, 3], 0, 2] = 0  # half grey, half another colour, whose mean is faint
    ab = torch.tensor([[40.0, 20.0, 0.0], [-30.0, -15.0, 0.0]])[None, :, None] / AB_SCALE
    ab[0, :, 0, 2] = torch.tensor([6.0, 0.0]) / AB_SCALE
    out = confident_colours(ab, logits, bins, sigma=0)
    scale = (out.norm(dim=1) / ab.norm(dim=1))[0, 0]
    assert torch.allclose(scale[0], torch.tensor(1 + BOOST), atol=1e-4)  # the mean's shyness undone
    assert torch.allclose(scale[1], torch.tensor(0.5 * (1 + BOOST * 0.5**12)), atol=1e-3)  # turned down
    assert torch.allclose(scale[2], torch.tensor(1.0))  # already fainter than FAINT: left as it is
    assert FAINT > 6
    angle = lambda t: torch.atan2(t[0, 1], t[0, 0])  # noqa: E731
    assert torch.allclose(angle(out), angle(ab), atol=1e-5)  # the hue is kept
