"""The seed study's own networks: v0 (vanilla), v1 (conv), v2 (conv dense = Polychromify), v3 (deep conv)
and the CNN baseline. All map L (N,1,H,W) in [-1,1] to ab (N,2,H,W) in [-1,1] through a tanh."""

from __future__ import annotations

import torch
from torch import nn

from polychromify.models.registry import ColorModel, register_model

NEURONS = {"low": (64, 32, 16, 32, 64), "medium": (128, 64, 32, 64, 128), "high": (256, 128, 64, 128, 256)}
FILTERS = {"low": (16, 32, 64, 64, 32, 16), "high": (32, 64, 128, 128, 64, 32)}


def conv_block(cin: int, cout: int, stride: int = 1, bn: bool = False, dropout: float = 0.0) -> nn.Sequential:
    """3x3 conv (+BN) + ReLU (+dropout); padding keeps the size unless stride 2 halves it."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride=stride, padding=1)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.ReLU(inplace=True))
    if dropout:
        layers.append(nn.Dropout2d(dropout))
    return nn.Sequential(*layers)


@register_model("v2", "Convolutional dense autoencoder (Polychromify), 293,074 parameters at the defaults")
class ConvDenseAutoencoder(ColorModel):
    """v2 / Polychromify: 3x3 conv encoder, per-pixel dense bottleneck (Keras Dense on a 4-D tensor = 1x1
    conv), 3x3 conv decoder, 1x1 tanh output. The defaults are the seed's final model (filters low,
    neurons high, no strides, no BN): exactly 293,074 parameters."""

    def __init__(
        self,
        neurons: str = "high",
        filters: str = "low",
        strides: bool = False,
        batch_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        f, n = FILTERS[filters], NEURONS[neurons]
        stride = 2 if strides else 1
        enc, dec = f[:3], f[3:]
        self.encoder = nn.Sequential(
            conv_block(1, enc[0], stride, batch_norm),
            conv_block(enc[0], enc[1], stride, batch_norm),
            conv_block(enc[1], enc[2], stride, batch_norm),
        )
        dense: list[nn.Module] = []
        for cin, cout in zip((enc[2], *n[:-1]), n, strict=True):
            dense += [nn.Conv2d(cin, cout, 1), nn.ReLU(inplace=True)]
            if dropout:
                dense.append(nn.Dropout2d(dropout))
        self.dense = nn.Sequential(*dense)
        up = [nn.Upsample(scale_factor=2, mode="nearest")] if strides else []
        self.decoder = nn.Sequential(
            *up,
            conv_block(n[-1], dec[0], bn=batch_norm),
            *up,
            conv_block(dec[0], dec[1], bn=batch_norm),
            *up,
            conv_block(dec[1], dec[2], bn=batch_norm),
        )
        self.head = nn.Sequential(nn.Conv2d(dec[2], 2, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N,1,H,W) -> (N,2,H,W) in [-1,1]
        return self.head(self.decoder(self.dense(self.encoder(x))))


# The seed's hyper-parameter table, rows v1..v5 (its "v3" row is the final Polychromify).
HP_TABLE = {
    "hp-v1": dict(neurons="low", filters="low", strides=False, batch_norm=False),
    "hp-v2": dict(neurons="medium", filters="low", strides=False, batch_norm=False),
    "hp-v3": dict(neurons="high", filters="low", strides=False, batch_norm=False),
    "hp-v4": dict(neurons="high", filters="high", strides=True, batch_norm=False),
    "hp-v5": dict(neurons="high", filters="high", strides=True, batch_norm=True),
}


def _hp_preset(name: str, preset: dict) -> None:
    def factory(dropout: float = 0.0) -> ColorModel:
        return ConvDenseAutoencoder(**preset, dropout=dropout)

    desc = ", ".join(f"{k}={v}" for k, v in preset.items())
    register_model(name, f"Seed hyper-parameter table row {name[3:]}: v2 with {desc}")(factory)


for _name, _preset in HP_TABLE.items():
    _hp_preset(_name, _preset)
register_model("polychromify", "Alias of v2 at the seed's final settings")(ConvDenseAutoencoder)


@register_model("v0", "Vanilla fully connected autoencoder on a downsampled grid")
class VanillaAutoencoder(ColorModel):
    """v0: fully connected encoder/decoder. It sees L average-pooled to grid x grid (a dense layer on
    128x128 pixels would need tens of millions of weights) and its ab output is upsampled back."""

    # Small matmuls at batch 8: bf16 trains 0.7x and infers 0.5x as fast as fp32 even with native bf16
    # (bench/train.py, docs/performance.md "Precision"), so auto keeps this family in fp32.
    bf16_pays = False

    def __init__(self, grid: int = 32, hidden: tuple[int, ...] = (512, 128, 512)) -> None:
        super().__init__()
        self.grid = grid
        sizes = (grid * grid, *hidden)
        layers: list[nn.Module] = [nn.Flatten()]
        for cin, cout in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(cin, cout), nn.ReLU(inplace=True)]
        layers += [nn.Linear(sizes[-1], 2 * grid * grid), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N,1,H,W) -> (N,2,grid,grid)
        x = nn.functional.adaptive_avg_pool2d(x, self.grid)
        return self.net(x).view(-1, 2, self.grid, self.grid)


@register_model("v1", "Convolutional autoencoder (strided encoder, upsampling decoder)")
class ConvAutoencoder(ColorModel):
    """v1: three stride-2 3x3 convs down, three upsample + 3x3 convs up, 1x1 tanh output."""

    def __init__(self, filters: str = "low") -> None:
        super().__init__()
        f = FILTERS[filters]
        self.encoder = nn.Sequential(
            conv_block(1, f[0], 2), conv_block(f[0], f[1], 2), conv_block(f[1], f[2], 2)
        )
        up = nn.Upsample(scale_factor=2, mode="nearest")
        self.decoder = nn.Sequential(
            up, conv_block(f[2], f[3]), up, conv_block(f[3], f[4]), up, conv_block(f[4], f[5])
        )
        self.head = nn.Sequential(nn.Conv2d(f[5], 2, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.decoder(self.encoder(x)))


@register_model("v3", "Deep convolutional autoencoder (4 strided stages, batch norm)")
class DeepConvAutoencoder(ColorModel):
    """v3: two 3x3 convs per stage, four stride-2 stages down and four upsampling stages up, batch norm."""

    def __init__(self, width: int = 16, depth: int = 4) -> None:
        super().__init__()
        chans = [width * 2**i for i in range(depth + 1)]  # e.g. 16, 32, 64, 128, 256
        down: list[nn.Module] = [conv_block(1, chans[0], bn=True)]
        for cin, cout in zip(chans[:-1], chans[1:], strict=True):
            down += [conv_block(cin, cout, 2, bn=True), conv_block(cout, cout, bn=True)]
        up: list[nn.Module] = []
        for cin, cout in zip(chans[::-1][:-1], chans[::-1][1:], strict=True):
            up += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                conv_block(cin, cout, bn=True),
                conv_block(cout, cout, bn=True),
            ]
        self.encoder, self.decoder = nn.Sequential(*down), nn.Sequential(*up)
        self.head = nn.Sequential(nn.Conv2d(chans[0], 2, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.decoder(self.encoder(x)))


@register_model("cnn", "CNN baseline: six 3x3 conv + BN layers at full resolution, ~98k parameters")
class BaselineCNN(ColorModel):
    """The seed's baseline: a plain stack of 3x3 convs with batch norm, no down-sampling."""

    def __init__(self, channels: tuple[int, ...] = (32, 64, 64, 48, 32)) -> None:
        super().__init__()
        layers = [
            conv_block(cin, cout, bn=True) for cin, cout in zip((1, *channels[:-1]), channels, strict=True)
        ]
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Conv2d(channels[-1], 2, 3, padding=1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
