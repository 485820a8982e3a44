"""Evaluate colorizers on real colour photos: each is greyed, colorized at full resolution and compared
with the original. Every report carries the grey baseline (ab = 0) as its floor."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from polychromify import metrics
from polychromify.color import lab_to_rgb, rgb_to_lab
from polychromify.data.images import EXTENSIONS, open_image
from polychromify.errors import PolychromifyError
from polychromify.inference import Colorizer


def list_images(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise PolychromifyError(f"no such folder: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)
    if not files:
        raise PolychromifyError(f"no images in {folder}")
    return files


def image_metrics(
    pred_rgb: np.ndarray, true_rgb: np.ndarray, counts: torch.Tensor | None = None
) -> dict[str, float]:
    """All per-image metrics of one colorized photo against its original (both (H,W,3) uint8).
    `counts`: ground-truth ab-bin counts of the whole evaluation set, for the rebalanced AuC."""
    p, t = _ab(pred_rgb), _ab(true_rgb)
    cf_p, cf_t = metrics.colourfulness(pred_rgb), metrics.colourfulness(true_rgb)
    return {
        "auc": metrics.auc(p, t),
        "auc_rebalanced": metrics.auc(p, t, metrics.rebalancing_weights(t, counts)),
        "psnr_rgb": metrics.psnr(pred_rgb, true_rgb),
        "mse_ab": metrics.mse_ab(p, t),
        "seed_accuracy": metrics.seed_accuracy(p, t),
        "cf": cf_p,
        "cf_true": cf_t,
        "delta_cf": abs(cf_p - cf_t),
    }


def _ab(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb_to_lab(rgb)[1]).permute(2, 0, 1)[None]  # (1,2,H,W)


def evaluate_images(model: str | Path, folder: str | Path, device: str = "cpu", max_side: int = 640) -> dict:
    """Mean metrics of `model` ('grey', 'default' or a run folder) over the colour photos in `folder`.
    Photos larger than `max_side` are reduced first so the numbers do not depend on camera size."""
    files = list_images(folder)
    colorizer = None if str(model) == "grey" else Colorizer(model, device)
    truths = []
    for path in files:
        im = open_image(path)
        im.thumbnail((max_side, max_side))
        truths.append(np.asarray(im))
    counts = sum(metrics.bin_counts(_ab(t)) for t in truths)  # the set's colour distribution
    rows, seconds = [], 0.0
    for true in truths:
        t0 = time.perf_counter()
        if colorizer is None:
            L, ab = rgb_to_lab(true)
            pred = lab_to_rgb(L, np.zeros_like(ab))
        else:
            pred = colorizer.colorize_array(true)
        seconds += time.perf_counter() - t0
        rows.append(image_metrics(pred, true, counts))
    out = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    return {"model": str(model), "images": len(files), **out, "images_per_s": len(files) / max(seconds, 1e-9)}
