"""Zhang et al.'s colorizers: ECCV16 ("Colorful Image Colorization", classification over ab bins) and
SIGGRAPH17 ("Real-Time User-Guided Image Colorization", U-Net-like regression with sparse ab hints).

Module names and parameter shapes follow the public PyTorch release (richzhang/colorization,
colorizers/eccv16.py and siggraph17.py) at width 1, so `import_zhang_weights` loads its `.pth` files
strictly. The release normalises differently from us: input L as (L-50)/100 and ab as ab/110 (in and out),
where we use (L-50)/50 and ab/128; the import folds the difference into the weights (see there).
`width` scales every channel count (0.125 for quick CPU tests).
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from polychromify.color import AB_SCALE, L_CENTER, L_RANGE, ab_bins, annealed_mean
from polychromify.errors import PolychromifyError
from polychromify.models.registry import ColorModel, create_model, register_model

RELEASE_L_CENTER, RELEASE_L_NORM, RELEASE_AB_NORM = 50.0, 100.0, 110.0  # release's BaseColor constants
SIGGRAPH_CLASSES = 529  # the release's classification branch: 23 x 23 ab grid


def _c(channels: int, width: float) -> int:
    return max(1, round(channels * width))


def _block(
    chans: list[int], stride: int = 1, dilation: int = 1, norm: bool = True, relu_first: bool = False
) -> nn.Sequential:
    """3x3 convs chans[0] -> chans[1] -> ..., each followed by ReLU (the last conv strided), then BatchNorm:
    the release's Sequential layout, so the state-dict keys (conv at 0, 2, 4..., or 1, 3... after a leading
    ReLU) are the same."""
    layers: list[nn.Module] = [nn.ReLU(True)] if relu_first else []
    for i, (cin, cout) in enumerate(pairwise(chans)):
        s = stride if i == len(chans) - 2 else 1
        layers += [nn.Conv2d(cin, cout, 3, stride=s, padding=dilation, dilation=dilation), nn.ReLU(True)]
    if norm:
        layers.append(nn.BatchNorm2d(chans[-1]))
    return nn.Sequential(*layers)


@register_model(
    "eccv16", "Zhang et al. 2016: VGG-style net, logits over ab bins, annealed mean (32.2M parameters)"
)
class ECCV16(ColorModel):
    """ECCV16 colorizer: L (N,1,H,W) in [-1,1] -> logits (N,Q,H/4,W/4) over the ab bins `bins`.

    Eight conv blocks (three stride-2 convs, dilated blocks 5-6, a transposed conv back up in model8) end
    in a 1x1 conv to Q logits; `decode` takes their annealed mean at `temperature` and upsamples
    bilinearly. `bins` (Q,2, CIELAB units) is a buffer: `color.ab_bins()` (Q=262) by default; pass
    `num_bins` only to load weights that bring their own bins (the release: 313). `model_out`, the
    release's 1x1 "bins -> ab" conv, is kept frozen as bins / AB_SCALE for the layout and keys.
    Parameters at width 1: 32,222,802 with Q=262; 32,236,011 with the release's 313 bins (its exact count;
    626 of them the frozen model_out).
    """

    kind = "classification"

    def __init__(self, width: float = 1.0, temperature: float = 0.38, num_bins: int | None = None) -> None:
        super().__init__()
        c64, c128, c256, c512 = (_c(n, width) for n in (64, 128, 256, 512))
        self.temperature = temperature
        default = torch.tensor(ab_bins(), dtype=torch.float32)
        q = num_bins or len(default)
        self.register_buffer("bins", default if q == len(default) else torch.zeros(q, 2))  # (Q,2) CIELAB
        self.model1 = _block([1, c64, c64], stride=2)  # 1/2
        self.model2 = _block([c64, c128, c128], stride=2)  # 1/4
        self.model3 = _block([c128, c256, c256, c256], stride=2)  # 1/8
        self.model4 = _block([c256, c512, c512, c512])
        self.model5 = _block([c512] * 4, dilation=2)
        self.model6 = _block([c512] * 4, dilation=2)
        self.model7 = _block([c512] * 4)
        self.model8 = nn.Sequential(
            nn.ConvTranspose2d(c512, c256, 4, stride=2, padding=1),  # back to 1/4
            nn.ReLU(True),
            nn.Conv2d(c256, c256, 3, padding=1),
            nn.ReLU(True),
            nn.Conv2d(c256, c256, 3, padding=1),
            nn.ReLU(True),
            nn.Conv2d(c256, q, 1),  # logits over the bins
        )
        self.model_out = nn.Conv2d(q, 2, 1, bias=False)
        self.model_out.weight.requires_grad_(False)  # a function of the bins, never trained
        with torch.no_grad():
            self.model_out.weight.copy_(self.bins.T[:, :, None, None] / AB_SCALE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N,1,H,W) -> logits (N,Q,H/4,W/4)
        for block in (self.model1, self.model2, self.model3, self.model4, self.model5, self.model6):
            x = block(x)
        return self.model8(self.model7(x))

    def decode(self, out: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
        """Logits (N,Q,h,w) -> annealed-mean ab (N,2,*size) in [-1,1]."""
        return super().decode(annealed_mean(out, self.bins, self.temperature), size)


@register_model(
    "siggraph17", "Zhang et al. 2017: U-Net with ab hints + mask, tanh regression (34.2M parameters)"
)
class SIGGRAPH17(ColorModel):
    """SIGGRAPH17 colorizer: (L, a, b, mask) (N,4,H,W) -> ab (N,2,H,W) in [-1,1]; no hints = automatic.

    Encoder as ECCV16's but downsampling by striding the input of blocks 2-4; decoder with transposed
    convs and 3x3 shortcut convs from blocks 3, 2, 1 added in; regression head 1x1 conv + tanh, scaled by
    `ab_gain` (1; 110/128 for imported release weights, whose tanh spans +-110 CIELAB units). The
    release's classification branch `model_class` (529 classes) is kept, frozen and unused, so its
    weights load strictly. Inputs are padded to a multiple of 8 and the output cropped back.
    Parameters at width 1: 34,187,027 (the release's exact count; 135,953 of them in model_class).
    """

    takes_hints = True

    def __init__(self, width: float = 1.0, ab_gain: float = 1.0) -> None:
        super().__init__()
        c64, c128, c256, c512 = (_c(n, width) for n in (64, 128, 256, 512))
        self.ab_gain = ab_gain
        self.model1 = _block([4, c64, c64])
        self.model2 = _block([c64, c128, c128])
        self.model3 = _block([c128, c256, c256, c256])
        self.model4 = _block([c256, c512, c512, c512])
        self.model5 = _block([c512] * 4, dilation=2)
        self.model6 = _block([c512] * 4, dilation=2)
        self.model7 = _block([c512] * 4)
        self.model8up = nn.Sequential(nn.ConvTranspose2d(c512, c256, 4, stride=2, padding=1))
        self.model3short8 = nn.Sequential(nn.Conv2d(c256, c256, 3, padding=1))
        self.model8 = _block([c256, c256, c256], relu_first=True)
        self.model9up = nn.Sequential(nn.ConvTranspose2d(c256, c128, 4, stride=2, padding=1))
        self.model2short9 = nn.Sequential(nn.Conv2d(c128, c128, 3, padding=1))
        self.model9 = _block([c128, c128], relu_first=True)
        self.model10up = nn.Sequential(nn.ConvTranspose2d(c128, c128, 4, stride=2, padding=1))
        self.model1short10 = nn.Sequential(nn.Conv2d(c64, c128, 3, padding=1))
        self.model10 = nn.Sequential(nn.ReLU(True), nn.Conv2d(c128, c128, 3, padding=1), nn.LeakyReLU(0.2))
        self.model_class = nn.Sequential(nn.Conv2d(c256, SIGGRAPH_CLASSES, 1))
        self.model_class.requires_grad_(False)  # unused by forward; frozen so DDP sees no idle parameters
        self.model_out = nn.Sequential(nn.Conv2d(c128, 2, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N,4,H,W) -> (N,2,H,W) in [-1,1]
        h, w = x.shape[-2:]
        x = F.pad(x, (0, -w % 8, 0, -h % 8), mode="replicate")  # shortcuts need sizes divisible by 8
        c1 = self.model1(x)  # full size
        c2 = self.model2(c1[:, :, ::2, ::2])  # 1/2
        c3 = self.model3(c2[:, :, ::2, ::2])  # 1/4
        y = self.model4(c3[:, :, ::2, ::2])  # 1/8
        y = self.model7(self.model6(self.model5(y)))
        y = self.model8(self.model8up(y) + self.model3short8(c3))
        y = self.model9(self.model9up(y) + self.model2short9(c2))
        y = self.model10(self.model10up(y) + self.model1short10(c1))
        return self.ab_gain * self.model_out(y)[:, :, :h, :w]


def import_zhang_weights(path: str | Path, name: str) -> ColorModel:
    """Load a released `.pth` state dict (eccv16 or siggraph17) into our full-width model, in eval mode.

    Adapts the release's normalisation to ours. Input: both centre L at 50 and map "no colour" to 0, so
    only the first conv's per-channel weights change: L weights x 50/100 (ours (L-50)/50 is twice theirs),
    hint ab weights x 128/110; exact, borders included. Output: ECCV16's `model_out` holds the bins / 110,
    so bins = model_out x 110 (our `bins` buffer) and decoding at temperature 1 reproduces the release's
    softmax-then-mean; SIGGRAPH17's tanh gives ab/110, so its output is scaled by ab_gain = 110/128.
    """
    if name not in ("eccv16", "siggraph17"):
        raise PolychromifyError(f"can import Zhang et al. weights for eccv16 or siggraph17, not {name!r}")
    path = Path(path)
    if not path.is_file():
        raise PolychromifyError(f"no such weights file: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many types for foreign or damaged files
        raise PolychromifyError(f"cannot read {path} as PyTorch weights: {_first_line(exc)}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PolychromifyError(f"{path} is not a state dict (a mapping of names to tensors)")
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}

    if name == "eccv16":
        out_w = state.get("model_out.weight")
        num_bins = out_w.shape[1] if out_w is not None and out_w.ndim == 4 else None
        model = create_model("eccv16", num_bins=num_bins, temperature=1.0)
    else:
        model = create_model("siggraph17", ab_gain=RELEASE_AB_NORM / AB_SCALE)
    ours = model.state_dict()
    extra = {"bins"} if name == "eccv16" else set()
    for key, value in ours.items():  # older BatchNorm files have no counters
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = value.clone()
    _check_keys(path, name, state, ours, extra)

    assert RELEASE_L_CENTER == L_CENTER  # otherwise the first conv's bias would change too
    first = state["model1.0.weight"].clone()  # (64, C_in, 3, 3)
    first[:, 0] *= L_RANGE / RELEASE_L_NORM
    if name == "siggraph17":
        first[:, 1:3] *= AB_SCALE / RELEASE_AB_NORM  # channel 3, the mask, is 0/1 in both
    state["model1.0.weight"] = first
    if name == "eccv16":
        bins = state["model_out.weight"][:, :, 0, 0].T * RELEASE_AB_NORM  # (Q,2) CIELAB
        if not torch.isfinite(bins).all() or bins.abs().max() > AB_SCALE:
            raise PolychromifyError(f"{path}: model_out does not hold ab bin centres (values beyond +-128)")
        state["bins"] = bins
        state["model_out.weight"] = bins.T[:, :, None, None] / AB_SCALE
    model.load_state_dict(state, strict=True)
    return model.eval()


def _check_keys(path: Path, name: str, state: dict, ours: dict, extra: set[str]) -> None:
    """One clear line for missing/unexpected keys or wrong shapes (load_state_dict's message is long)."""
    missing = sorted(set(ours) - extra - set(state))
    unexpected = sorted(set(state) - set(ours))
    if missing or unexpected:
        what = [
            f"missing {', '.join(missing[:3])}" if missing else "",
            f"unexpected {', '.join(unexpected[:3])}",
        ]
        raise PolychromifyError(
            f"{path} is not a {name} release state dict: {'; '.join(w for w in what if w)}"
        )
    for key in state:
        if key not in extra and state[key].shape != ours[key].shape:
            raise PolychromifyError(
                f"{path} does not fit {name}: {key} has shape {tuple(state[key].shape)}, "
                f"expected {tuple(ours[key].shape)}"
            )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
