"""Colorization metrics as pure functions on tensors (ab in [-1,1], shape (N,2,H,W))."""

from __future__ import annotations

import torch


def mse_ab(pred: torch.Tensor, true: torch.Tensor) -> float:
    """Mean squared error on ab in the [-1,1] scale (the seed's training loss)."""
    return float(torch.mean((pred.float() - true.float()) ** 2))


def seed_accuracy(pred: torch.Tensor, true: torch.Tensor) -> float:
    """What the seed's "accuracy" measured: Keras categorical accuracy over the channel axis of the
    (a, b) output, i.e. the fraction of pixels where argmax(a, b) agrees between prediction and truth.
    It only asks "is a larger than b?" - a weak metric, kept to compare with the seed's tables."""
    return float((pred.argmax(1) == true.argmax(1)).float().mean())
