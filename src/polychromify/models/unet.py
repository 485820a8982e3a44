"""The shipped default: a small U-Net that predicts a distribution over quantised ab bins.

Chosen for quality per CPU second: it works at 1/2..1/16 resolution with skip connections (about a
tenth of v2's FLOPs per image), and it is trained like ECCV16 (class-rebalanced cross-entropy, decoded
by annealed mean) so colours are not "shy". Like SIGGRAPH17 it also takes sparse ab hints plus a mask,
and with no hints it colorizes automatically.
"""

from __future__ import annotations

import torch
from torch import nn

from polychromify.color import ab_bins, annealed_mean
from polychromify.models.registry import ColorModel, register_model


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


@register_model("unet", "Default model: U-Net over ab bins with colour hints (ECCV16 loss, SIGGRAPH17 hints)")
class HintUNet(ColorModel):
    """Encoder 1/2 -> 1/16 (channels c, 2c, 4c, 8c; dilated convs at the bottom for context), decoder back
    to 1/4 with skip connections, 1x1 head to Q bin logits at 1/4 resolution (as ECCV16). The ab it
    gives is upsampled and joined with the full-resolution L, so the photo's own detail is kept."""

    kind = "classification"
    takes_hints = True

    def __init__(self, width: int = 32, temperature: float = 0.38, context: bool = False) -> None:
        super().__init__()
        c = width
        self.temperature = temperature
        self.register_buffer("bins", torch.tensor(ab_bins(), dtype=torch.float32))  # (Q,2) CIELAB units
        self.stem = _conv(4, c, 2)  # 1/2
        self.down2 = nn.Sequential(_conv(c, 2 * c, 2), _conv(2 * c, 2 * c))  # 1/4
        self.down3 = nn.Sequential(_conv(2 * c, 4 * c, 2), _conv(4 * c, 4 * c))  # 1/8
        self.down4 = nn.Sequential(
            _conv(4 * c, 8 * c, 2), _conv(8 * c, 8 * c, dilation=2), _conv(8 * c, 8 * c, dilation=2)
        )  # 1/16
        # context=True adds the image's global average (through a 1x1 conv) to every bottleneck position:
        # a flat patch of sky is only recognisable as sky from the rest of the picture.
        self.context = (
            nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(8 * c, 8 * c, 1), nn.ReLU()) if context else None
        )
        self.up3 = _conv(8 * c + 4 * c, 4 * c)
        self.up2 = nn.Sequential(_conv(4 * c + 2 * c, 2 * c), _conv(2 * c, 2 * c))
        self.head = nn.Conv2d(2 * c, len(self.bins), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N,4,H,W) -> logits (N,Q,H/4,W/4)
        s2 = self.down2(self.stem(x))
        s3 = self.down3(s2)
        y = self.down4(s3)
        if self.context is not None:
            y = y + self.context(y)
        y = self.up3(torch.cat([_up(y, s3), s3], 1))
        y = self.up2(torch.cat([_up(y, s2), s2], 1))
        return self.head(y)

    def decode(self, out: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
        """Logits -> annealed-mean ab (N,2,*size) in [-1,1]."""
        return super().decode(annealed_mean(out, self.bins, self.temperature), size)


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return nn.functional.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)
