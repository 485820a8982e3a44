"""Colorization metrics as pure functions on tensors (ab in [-1,1], shape (N,2,H,W))."""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from polychromify.color import AB_SCALE, ab_bins, ab_length, nearest_bin


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
    return ab_length((pred.float() - true.float()) * AB_SCALE)


def auc(
    pred: torch.Tensor, true: torch.Tensor, weights: torch.Tensor | None = None, max_t: int = 150
) -> float:
    """Zhang et al. 2016 AuC in %: the fraction of pixels whose ab error is within t, averaged over
    t = 0..max_t CIELAB units. `weights` (N,H,W) make it the class-rebalanced variant."""
    err = ab_error(pred, true).flatten()
    w = torch.ones_like(err, dtype=torch.float64) if weights is None else weights.flatten().double()
    # err <= t exactly when ceil(err) <= t for whole t: a weighted histogram of ceil(err), summed up
    steps = torch.ceil(err).clamp(max=max_t + 1).long()
    within = torch.bincount(steps, weights=w, minlength=max_t + 2).cumsum(0)[: max_t + 1]
    return float(100 * within.mean() / w.sum())


def bin_counts(true: torch.Tensor) -> torch.Tensor:
    """How many ground-truth pixels of ab (N,2,H,W) fall in each ab bin, (Q,)."""
    bins = torch.tensor(ab_bins(), dtype=torch.float32)
    idx = torch.cat([nearest_bin(chunk, bins) for chunk in true.float().split(8)])
    return torch.bincount(idx.flatten(), minlength=len(bins)).double()


def rebalancing_weights(true: torch.Tensor, counts: torch.Tensor | None = None) -> torch.Tensor:
    """Per-pixel weight 1/p(bin of the ground truth), (N,H,W). p is the bin distribution of the whole
    evaluation set (`counts` from `bin_counts`), or of `true` itself when not given. Each colour class
    then counts equally, so predicting grey everywhere no longer scores well."""
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


# Hue families of the truth's hue angle atan2(b, a) in degrees, [start, end) modulo 360.
HUE_FAMILIES = {"warm": (-30.0, 100.0), "green": (100.0, 200.0), "blue": (200.0, 330.0)}


def hue_counts(
    pred: torch.Tensor, true: torch.Tensor, min_true: float = 15.0, min_pred: float = 5.0, tol: float = 45.0
) -> dict[str, tuple[int, int]]:
    """Hits and totals for the hue accuracy of ab (N,2,H,W) in [-1,1]: among the truth's pixels with
    CIELAB chroma >= `min_true`, those whose prediction has chroma >= `min_pred` and a hue angle within
    `tol` degrees of the truth's. Keys: "all" and each of HUE_FAMILIES (by the truth's hue). Counts, not
    fractions, so a set of photos is scored over all its pixels (a photo may have no blue at all)."""
    p, t = pred.float() * AB_SCALE, true.float() * AB_SCALE
    cp, ct = ab_length(p), ab_length(t)
    hp = torch.rad2deg(torch.atan2(p[:, 1], p[:, 0]))
    ht = torch.rad2deg(torch.atan2(t[:, 1], t[:, 0]))
    diff = (hp - ht).abs() % 360.0
    sel = ct >= min_true
    hit = sel & (cp >= min_pred) & (torch.minimum(diff, 360.0 - diff) <= tol)
    out = {"all": (int(hit.sum()), int(sel.sum()))}
    for name, (start, end) in HUE_FAMILIES.items():
        member = (ht - start) % 360.0 < (end - start)
        out[name] = (int((hit & member).sum()), int((sel & member).sum()))
    return out


def hue_accuracy(counts: list[dict[str, tuple[int, int]]]) -> dict[str, float]:
    """`hue_counts` of several images -> hue_accuracy (all) and hue_<family> fractions (NaN: no such
    pixel)."""
    out = {}
    for key in ("all", *HUE_FAMILIES):
        hits, total = (sum(c[key][i] for c in counts) for i in (0, 1))
        out["hue_accuracy" if key == "all" else f"hue_{key}"] = hits / total if total else float("nan")
    return out


def neutral_counts(
    pred: torch.Tensor, true: torch.Tensor, max_true: float = 5.0, min_pred: float = 15.0
) -> tuple[int, int]:
    """The truth's near-grey pixels (CIELAB chroma < `max_true`: metal, stone, snow, overcast sky) that the
    prediction colours clearly (chroma > `min_pred`), and all of them; ab (N,2,H,W) in [-1,1]. A pink or
    purple cast on such pixels is the most visible error on real photographs."""
    cp, ct = (ab_length(x.float() * AB_SCALE) for x in (pred, true))
    neutral = ct < max_true
    return int((neutral & (cp > min_pred)).sum()), int(neutral.sum())


def speckle(ab: torch.Tensor, cutoff: float = 1 / 160) -> float:
    """Colour speckle: the RMS, in CIELAB units, of ab (1,2,H,W) in [-1,1] above a spatial cut-off (what a
    Gaussian blur of sigma = `cutoff` x the longer side removes: 4 px at 640 px). Predicted colours are
    smooth by nature; grain or scratches that turn into colour show up here."""
    a = ab[0].double().numpy() * AB_SCALE
    sigma = cutoff * max(a.shape[-2:])
    smooth = np.stack([ndimage.gaussian_filter(c, sigma) for c in a])
    return float(np.sqrt(((a - smooth) ** 2).sum(0).mean()))
