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


def image_metrics(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> dict[str, float]:
    """All per-image metrics of one colorized photo against its original (both (H,W,3) uint8)."""
    _, ab_p = rgb_to_lab(pred_rgb)
    _, ab_t = rgb_to_lab(true_rgb)
    p = torch.from_numpy(ab_p).permute(2, 0, 1)[None]
    t = torch.from_numpy(ab_t).permute(2, 0, 1)[None]
    cf_p, cf_t = metrics.colourfulness(pred_rgb), metrics.colourfulness(true_rgb)
    return {
        "auc": metrics.auc(p, t),
        "auc_rebalanced": metrics.auc(p, t, metrics.rebalancing_weights(t)),
        "psnr_rgb": metrics.psnr(pred_rgb, true_rgb),
        "mse_ab": metrics.mse_ab(p, t),
        "seed_accuracy": metrics.seed_accuracy(p, t),
        "cf": cf_p,
        "cf_true": cf_t,
        "delta_cf": abs(cf_p - cf_t),
    }


def evaluate_images(model: str | Path, folder: str | Path, device: str = "cpu", max_side: int = 640) -> dict:
    """Mean metrics of `model` ('grey', 'default' or a run folder) over the colour photos in `folder`.
    Photos larger than `max_side` are reduced first so the numbers do not depend on camera size."""
    files = list_images(folder)
    colorizer = None if str(model) == "grey" else Colorizer(model, device)
    rows, seconds = [], 0.0
    for path in files:
        im = open_image(path)
        im.thumbnail((max_side, max_side))
        true = np.asarray(im)
        t0 = time.perf_counter()
        if colorizer is None:
            L, ab = rgb_to_lab(true)
            pred = lab_to_rgb(L, np.zeros_like(ab))
        else:
            pred = colorizer.colorize_array(true)
        seconds += time.perf_counter() - t0
        rows.append(image_metrics(pred, true))
    out = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    return {"model": str(model), "images": len(files), **out, "images_per_s": len(files) / max(seconds, 1e-9)}
