"""Training losses: MSE on ab for regression models, class-rebalanced soft cross-entropy for bin models."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from polychromify.color import soft_encode_sparse
from polychromify.models.registry import ColorModel


def compute_loss(
    model: ColorModel,
    out: torch.Tensor,
    ab: torch.Tensor,
    class_weights: torch.Tensor | np.ndarray | None = None,
) -> torch.Tensor:
    """Scalar loss of the network output `out` against ground truth ab (N,2,H,W) in [-1,1].

    Regression: MSE with out (N,2,h,w). Classification: `rebalanced_cross_entropy` of logits (N,Q,h,w)
    over the model's `bins`. The ground truth is brought to the output's size first (area average).
    """
    if out.shape[-2:] != ab.shape[-2:]:
        ab = resize_ab(ab, out.shape[-2:])
    if model.kind == "regression":
        return F.mse_loss(out, ab)
    if model.kind == "classification":
        return rebalanced_cross_entropy(out, ab, model.bins, class_weights)
    raise ValueError(f"model kind {model.kind!r} has no loss")


def resize_ab(ab: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """ab (N,2,H,W) -> (N,2,*size): area average when shrinking (no aliasing), bilinear when growing."""
    if size[0] <= ab.shape[-2] and size[1] <= ab.shape[-1]:
        return F.adaptive_avg_pool2d(ab, tuple(size))
    return F.interpolate(ab, size=tuple(size), mode="bilinear", align_corners=False)


def rebalanced_cross_entropy(
    logits: torch.Tensor,
    ab: torch.Tensor,
    bins: torch.Tensor,
    class_weights: torch.Tensor | np.ndarray | None = None,
) -> torch.Tensor:
    """ECCV16 loss: mean over pixels of v(gt bin) * CE(soft_encode(ab), softmax(logits)).

    logits (N,Q,h,w); ab (N,2,h,w) in [-1,1]; bins (Q,2) CIELAB; class_weights (Q,) or None (uniform).
    """
    with torch.no_grad():
        idx, target = soft_encode_sparse(ab.float(), bins)  # (N,h,w,k): the k nearest bins, nearest first
    # The soft target has k non-zeros and sums to 1, so -sum(target * log_softmax) = logsumexp - sum(target *
    # logits at idx): no dense (N,Q,h,w) target, and Q is the last, contiguous axis of channels-last logits.
    z = logits.movedim(1, -1)  # (N,h,w,Q)
    ce = z.logsumexp(-1) - (target * z.gather(-1, idx)).sum(-1)  # (N,h,w)
    if class_weights is None:
        return ce.mean()
    weights = torch.as_tensor(class_weights, dtype=ce.dtype, device=ce.device)
    return (ce * weights[idx[..., 0]]).mean()


def distill_loss(logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """KL(teacher || network) over the ab bins, averaged over pixels; both (N,Q,h,w) logits."""
    target = teacher_logits.log_softmax(1)
    return F.kl_div(logits.log_softmax(1), target, log_target=True, reduction="none").sum(1).mean()
