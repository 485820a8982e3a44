"""The networks' arithmetic: fp32 (the reference) or bf16 autocast (bfloat16 matmuls and convolutions,
fp32 weights), one definition for training, colorize, video and the web server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from polychromify.errors import PolychromifyError

if TYPE_CHECKING:
    import torch

PRECISIONS = ("fp32", "bf16")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise PolychromifyError(f"unknown precision {precision!r}: use fp32 or bf16")
    return precision


def autocast(device_type: str, precision: str) -> torch.autocast:
    """The autocast context of `precision` on a device type ('cpu', 'cuda', ...); a no-op for fp32."""
    import torch  # here, so that the command line's option parsing does not load torch

    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16")
