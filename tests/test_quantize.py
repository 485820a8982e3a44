"""ab quantisation (color.py), the losses and SIGGRAPH17 hint sampling."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from skimage import color as skcolor

from polychromify.color import (
    AB_SCALE,
    ab_bins,
    annealed_mean,
    bin_prior,
    nearest_bin,
    rebalance_weights,
    soft_encode,
    soft_encode_sparse,
)
from polychromify.data.hints import sample_hints
from polychromify.losses import compute_loss, rebalanced_cross_entropy


@pytest.fixture(scope="module")
def bins() -> torch.Tensor:
    return torch.tensor(ab_bins())


def random_ab(n: int = 2, h: int = 6, w: int = 7, seed: int = 0) -> torch.Tensor:
    """ab (n,2,h,w) in [-1,1] of real sRGB colours."""
    rgb = np.random.default_rng(seed).random((n * h * w, 1, 3))
    ab = skcolor.rgb2lab(rgb)[:, 0, 1:] / AB_SCALE
    return torch.tensor(ab, dtype=torch.float32).view(n, h, w, 2).permute(0, 3, 1, 2).contiguous()


def test_bins_cover_the_srgb_gamut_and_nothing_else():
    bins = ab_bins()
    # Sampling the gamut gives 262 cells, not the paper's 313 (see ab_bins); allow a little drift across
    # scikit-image versions.
    assert 250 <= len(bins) <= 275 and bins.shape[1] == 2 and bins.dtype == np.float32
    assert ab_bins() is bins and not bins.flags.writeable
    assert np.all(bins % 10 == 0)
    rng = np.random.default_rng(1)
    rgb = rng.random((100_000, 3))
    rgb[np.arange(50_000), rng.integers(0, 3, 50_000)] = rng.integers(
        0, 2, 50_000
    )  # half on the cube's faces
    ab = skcolor.rgb2lab(rgb[:, None])[:, 0, 1:]  # in-gamut colours, CIELAB
    cells = {tuple(c) for c in (np.rint(ab / 10) * 10).astype(int)}
    assert cells <= {tuple(b) for b in bins.astype(int)}  # every sRGB colour falls in some bin
    nearest = np.abs(bins[:, None, :] - ab[None, :50_000:5, :]).max(-1).min(1)  # (Q,) Chebyshev distance
    assert nearest.max() <= 6  # every bin is reached by some sRGB colour (5 = its edge): none out of gamut


def test_soft_encode_sums_to_one_and_peaks_at_the_nearest_bin(bins):
    ab = random_ab()
    z = soft_encode(ab, bins)
    assert z.shape == (2, len(bins), 6, 7)
    torch.testing.assert_close(z.sum(1), torch.ones(2, 6, 7))
    assert torch.equal(z.argmax(1), nearest_bin(ab, bins))
    assert torch.equal((z > 0).sum(1), torch.full((2, 6, 7), 5))  # k = 5 nearest bins
    exact = (bins[17] / AB_SCALE).view(1, 2, 1, 1)  # a colour on a bin centre: its Gaussian weight wins
    one = soft_encode(exact, bins)[0, :, 0, 0]
    assert one.argmax() == 17 and one[17] > 0.3
    far = torch.full((1, 2, 1, 1), 0.99)  # far outside every bin: still a valid distribution
    torch.testing.assert_close(soft_encode(far, bins).sum(), torch.tensor(1.0))


def test_bin_prior_counts_nearest_bins(bins):
    ab = (bins[[3, 3, 3, 40]] / AB_SCALE).T.reshape(1, 2, 2, 2)  # pixels exactly at bins 3, 3, 3, 40
    prior = bin_prior(ab, bins.numpy())
    assert prior.shape == (len(bins),) and prior.sum() == pytest.approx(1.0)
    assert prior[3] == pytest.approx(0.75) and prior[40] == pytest.approx(0.25)
    assert bin_prior(random_ab().numpy(), bins).sum() == pytest.approx(1.0)  # numpy input, tensor bins


def test_rebalance_weights(bins):
    b = bins.numpy().astype(np.float64)
    prior = np.exp(-np.hypot(b[:, 0], b[:, 1]) / 20)  # grey-heavy, like photos
    prior /= prior.sum()
    w = rebalance_weights(prior, lam=0.5, sigma=5.0, bins=b)
    kernel = np.exp(-((b[:, None] - b[None]) ** 2).sum(-1) / (2 * 5.0**2))
    smooth = kernel @ prior / (kernel @ prior).sum()
    assert (smooth * w).sum() == pytest.approx(1.0, abs=1e-5)
    grey, vivid = np.argmax(prior), np.argmin(prior)
    assert w[vivid] > w[grey]  # rare colours weigh more
    np.testing.assert_allclose(rebalance_weights(prior, lam=1.0, bins=b), 1.0, rtol=1e-6)
    no_smoothing = rebalance_weights(prior, lam=0.0, sigma=1e-3, bins=b)
    np.testing.assert_allclose(no_smoothing * prior, 1 / len(b), rtol=1e-4)  # lam=0: w = 1 / (Q p)
    with pytest.raises(ValueError, match="prior has shape"):
        rebalance_weights(prior[:-1], bins=b)


def test_annealed_mean(bins):
    q = len(bins)
    one_hot = torch.zeros(1, q, 2, 3)
    one_hot[:, 42] = 50.0
    torch.testing.assert_close(
        annealed_mean(one_hot, bins), (bins[42] / AB_SCALE).view(1, 2, 1, 1).expand(1, 2, 2, 3)
    )
    logits = torch.randn(2, q, 3, 3, generator=torch.Generator().manual_seed(0))
    logits += 2 * torch.nn.functional.one_hot(logits.argmax(1), q).permute(0, 3, 1, 2)  # a clear mode
    mode = bins[logits.argmax(1)].permute(0, 3, 1, 2) / AB_SCALE
    torch.testing.assert_close(annealed_mean(logits, bins, T=0.01), mode, atol=1e-3, rtol=0)
    mean = torch.einsum("nqhw,qc->nchw", logits.softmax(1), bins) / AB_SCALE
    torch.testing.assert_close(annealed_mean(logits, bins, T=1.0), mean)
    # Lower T moves the estimate away from the washed-out mean towards the mode.
    assert (annealed_mean(logits, bins, 0.38) - mode).abs().mean() < (mean - mode).abs().mean()


def test_classification_loss_prefers_the_right_logits(bins):
    model = SimpleNamespace(kind="classification", bins=bins)
    ab = random_ab(h=8, w=8)
    right = torch.log(soft_encode(ab, bins) + 1e-4)
    wrong = right.roll(37, dims=1)
    assert compute_loss(model, right, ab) < compute_loss(model, wrong, ab)
    small = torch.log(soft_encode(torch.nn.functional.avg_pool2d(ab, 2), bins) + 1e-4)  # (N,Q,4,4)
    assert compute_loss(model, small, ab) < compute_loss(model, small.roll(37, dims=1), ab)  # area-pooled gt
    ones = np.ones(len(bins), dtype=np.float32)
    torch.testing.assert_close(compute_loss(model, right, ab, ones), compute_loss(model, right, ab))
    heavy = torch.full((len(bins),), 3.0)
    torch.testing.assert_close(compute_loss(model, right, ab, heavy), 3 * compute_loss(model, right, ab))


def test_sparse_soft_encoding_finds_the_k_nearest_bins_exactly(bins):
    # real colours, arbitrary ab and ab far outside the gamut (those fall back to searching every bin)
    arbitrary, outside = torch.rand(2, 2, 16, 16) * 2 - 1, torch.rand(2, 2, 16, 16) * 6 - 3
    ab = torch.cat([random_ab(h=16, w=16), arbitrary, outside])
    for b in (bins, bins + 0.3):  # bins off the grid of 10: the search over every bin
        idx, weights = soft_encode_sparse(ab, b)
        x = ab.permute(0, 2, 3, 1).reshape(-1, 2) * AB_SCALE
        d2, nearest = (torch.cdist(x, b) ** 2).topk(5, dim=1, largest=False)
        assert torch.equal(idx.reshape(-1, 5).sort(1).values, nearest.sort(1).values)
        assert torch.equal(idx.reshape(-1, 5)[:, 0], nearest[:, 0])  # nearest first
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:3]))


def test_sparse_cross_entropy_equals_the_dense_definition(bins):
    ab = random_ab(h=8, w=8)
    logits = torch.randn(2, len(bins), 8, 8).contiguous(memory_format=torch.channels_last).requires_grad_()
    weights = torch.rand(len(bins))
    for w in (None, weights):
        ce = -(soft_encode(ab, bins) * torch.log_softmax(logits, 1)).sum(1)
        dense = (ce if w is None else ce * w[nearest_bin(ab, bins)]).mean()
        sparse = rebalanced_cross_entropy(logits, ab, bins, w)
        torch.testing.assert_close(sparse, dense)
        torch.testing.assert_close(*(torch.autograd.grad(v, logits)[0] for v in (sparse, dense)))


def test_regression_loss_is_mse_at_the_output_size():
    model = SimpleNamespace(kind="regression")
    ab = random_ab(h=8, w=8)
    assert compute_loss(model, ab, ab) == 0
    pooled = torch.nn.functional.avg_pool2d(ab, 2)
    assert compute_loss(model, pooled, ab) == pytest.approx(0.0, abs=1e-12)
    assert compute_loss(model, torch.zeros_like(ab), ab) == pytest.approx(float((ab**2).mean()))


def test_sample_hints_reveal_patch_means():
    ab = random_ab(n=64, h=16, w=16)
    hints = sample_hints(ab, torch.Generator().manual_seed(0), p=0.0, max_points=1)  # exactly one point
    assert hints.shape == (64, 3, 16, 16)
    mask = hints[:, 2]
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert torch.all(hints[:, :2] * (1 - mask[:, None]) == 0)  # zeros where no hint
    sizes = set()
    for i in range(64):
        ys, xs = torch.nonzero(mask[i], as_tuple=True)
        patch = ab[i, :, ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        assert len(ys) == patch[0].numel()  # one square patch
        sizes.add(patch.shape[-1])
        torch.testing.assert_close(hints[i, :2, ys[0], xs[0]], patch.mean((1, 2)))
    assert sizes <= {1, 3, 5, 7, 9} and len(sizes) > 2


def test_sample_hints_counts_and_determinism():
    ab = random_ab(n=400, h=8, w=8)
    a = sample_hints(ab, torch.Generator().manual_seed(5))
    b = sample_hints(ab, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    assert not torch.equal(a, sample_hints(ab, torch.Generator().manual_seed(6)))
    empty = int((a[:, 2].sum((1, 2)) == 0).sum())
    assert 25 <= empty <= 80  # about 1 in 8 of 400 images get no hint (p = 0.125)
    capped = sample_hints(ab[:4], torch.Generator().manual_seed(0), p=0.0, max_points=3, patch_sizes=(1,))
    assert torch.all(capped[:, 2].sum((1, 2)) <= 3) and torch.all(capped[:, 2].sum((1, 2)) >= 1)
