"""Colorization metrics as pure functions on tensors (ab in [-1,1], shape (N,2,H,W))."""

from __future__ import annotations

import numpy as np
import torch

from polychromify.color import AB_SCALE


def mse_ab(pred: torch.Tensor, true: torch.Tensor) -> float:
    """Mean squared error on ab in the [-1,1] scale (the seed's training loss)."""
    return float(torch.mean((pred.float() - true.float()) ** 2))


def seed_accuracy(pred: torch.Tensor, true: torch.Tensor) -> float:
    """What the seed's "accuracy" measured: Keras categorical accuracy over the channel axis of the
    (a, b) output, i.e. the fraction of pixels where argmax(a, b) agrees between prediction and truth.
    It only asks "is a larger than b?" - a weak metric, kept to compare with the seed's tables."""
    return float((pred.argmax(1) == true.argmax(1)).float().mean())


def ab_error(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Per-pixel Euclidean ab error in CIELAB units, (N,H,W)."""
    return torch.linalg.vector_norm((pred.float() - true.float()) * AB_SCALE, dim=1)


def auc(
    pred: torch.Tensor, true: torch.Tensor, weights: torch.Tensor | None = None, max_t: int = 150
) -> float:
    """Zhang et al. 2016 AuC in %: the fraction of pixels whose ab error is within t, averaged over
    t = 0..max_t CIELAB units. `weights` (N,H,W) make it the class-rebalanced variant."""
    err = ab_error(pred, true).flatten()
    w = torch.ones_like(err) if weights is None else weights.flatten().float()
    ts = torch.arange(0, max_t + 1, dtype=err.dtype)
    within = (err[None, :] <= ts[:, None]).float()  # (T,P)
    return float(100 * (within @ w).mean() / w.sum())


def bin_counts(true: torch.Tensor) -> torch.Tensor:
    """How many ground-truth pixels of ab (N,2,H,W) fall in each ab bin, (Q,)."""
    from polychromify.color import ab_bins, nearest_bin

    bins = torch.tensor(ab_bins(), dtype=torch.float32)
    idx = torch.cat([nearest_bin(chunk, bins) for chunk in true.float().split(8)])
    return torch.bincount(idx.flatten(), minlength=len(bins)).double()


def rebalancing_weights(true: torch.Tensor, counts: torch.Tensor | None = None) -> torch.Tensor:
    """Per-pixel weight 1/p(bin of the ground truth), (N,H,W). p is the bin distribution of the whole
    evaluation set (`counts` from `bin_counts`), or of `true` itself when not given. Each colour class
    then counts equally, so predicting grey everywhere no longer scores well."""
    from polychromify.color import ab_bins, nearest_bin

    bins = torch.tensor(ab_bins(), dtype=torch.float32)
    idx = torch.cat([nearest_bin(chunk, bins) for chunk in true.float().split(8)])
    counts = bin_counts(true) if counts is None else counts
    return (1.0 / counts.clamp(min=1)[idx]).float()


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness of an sRGB image (H,W,3) on the 0..255 scale."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def psnr(pred: np.ndarray, true: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB between two images of the same shape."""
    mse = np.mean((pred.astype(np.float64) - true.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(peak**2 / mse))
