"""Model registry: `@register_model` on a factory, `create_model(name, **overrides)`, `list_models()`.

Every model is a `ColorModel`: it takes the network input built by `ColorModel.make_input` and its
`predict_ab` gives ab (N,2,H,W) in [-1,1] at the input's size, whatever the model predicts inside.
A model remembers how it was built (`model.arch`), so a run folder rebuilds it with no command line.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from polychromify.errors import PolychromifyError
from polychromify.reference import Reference, check_reference_model, colours_like

_FACTORIES: dict[str, Callable[..., ColorModel]] = {}
# Arguments that only say where a model's starting weights come from (a pretrained encoder's file): they
# are left out of `model.arch`, since a run folder's own weights already hold what they loaded.
BUILD_ONLY_ARGS = frozenset({"encoder_weights"})
_DESCRIPTIONS: dict[str, str] = {}


class ColorModel(nn.Module):
    """Base class of every colorization network.

    kind: "regression" (forward gives ab in [-1,1]) or "classification" (forward gives logits over
    quantised ab bins, decoded by annealed mean). takes_hints: input is L plus sparse ab hints and a mask.
    """

    kind: str = "regression"
    takes_hints: bool = False
    # Whether the family runs faster in bf16 than in fp32 where bf16 is native, as measured for every family
    # by bench/train.py (docs/performance.md "Precision"): what `--precision auto` goes by (precision.choose).
    bf16_pays: bool = True
    arch: dict[str, Any]

    @staticmethod
    def make_input(L: torch.Tensor, hints: torch.Tensor | None, takes_hints: bool) -> torch.Tensor:
        """L (N,1,H,W) normalised to [-1,1]; hints (N,3,H,W) = (a, b, mask) or None -> network input."""
        if not takes_hints:
            return L
        if hints is None:
            hints = L.new_zeros(L.shape[0], 3, *L.shape[2:])
        return torch.cat([L, hints], dim=1)

    def decode(self, out: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
        """Network output -> ab (N,2,*size) in [-1,1]. Regression: resize only; classification models
        override this to decode their logits."""
        if out.shape[-2:] != tuple(size):
            out = nn.functional.interpolate(out, size=tuple(size), mode="bilinear", align_corners=False)
        return out

    def param_groups(self, lr: float) -> list[dict]:
        """Optimiser parameter groups; models with a pretrained part give it a lower rate."""
        return [{"params": list(self.parameters()), "lr": lr}]

    def predict_ab(
        self, L: torch.Tensor, hints: torch.Tensor | None = None, reference: Reference | None = None
    ) -> torch.Tensor:
        """L (N,1,H,W) in [-1,1] (+ hints (N,3,H,W)) -> ab (N,2,H,W) in [-1,1]. reference: a colour
        photo's `Reference`, whose colours a classification model's distributions are matched to."""
        out = self(self.make_input(L, hints, self.takes_hints))
        if reference is not None:
            check_reference_model(self)
            return colours_like(self, out, L.shape[-2:], reference)
        return self.decode(out, L.shape[-2:])


def register_model(name: str, description: str = "") -> Callable:
    """Decorator: register a factory (a class or function returning a ColorModel) under `name`."""

    def wrap(factory: Callable[..., ColorModel]) -> Callable[..., ColorModel]:
        if name in _FACTORIES:
            raise ValueError(f"model {name!r} registered twice")
        _FACTORIES[name] = factory
        _DESCRIPTIONS[name] = description or (inspect.getdoc(factory) or "").split("\n")[0]
        return factory

    return wrap


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    return sorted(_FACTORIES)


def describe(name: str) -> str:
    return _DESCRIPTIONS[name]


def create_model(name: str, **overrides: Any) -> ColorModel:
    """Build the model registered as `name`, with keyword overrides of its factory's defaults."""
    if name not in _FACTORIES:
        raise PolychromifyError(f"unknown model {name!r}; choose one of: {', '.join(sorted(_FACTORIES))}")
    factory = _FACTORIES[name]
    params = inspect.signature(factory).parameters
    unknown = set(overrides) - set(params)
    if unknown:
        raise PolychromifyError(
            f"model {name!r} has no argument(s) {sorted(unknown)}; it takes {sorted(params)}"
        )
    model = factory(**overrides)
    model.arch = {"name": name, "kwargs": {k: v for k, v in overrides.items() if k not in BUILD_ONLY_ARGS}}
    return model


def input_grid(h: int, w: int, size: int) -> tuple[int, int]:
    """A (h, w) photo's size at a network's input: longer side `size` (never upscaling), multiples of 16
    for the U-Nets."""
    scale = min(1.0, size / max(h, w))
    return max(16, round(h * scale / 16) * 16), max(16, round(w * scale / 16) * 16)


def load_strictly(module: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """load_state_dict(strict=True) with one clear line, "`what`: <the first mismatch>", on failure."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        lines = str(exc).strip().splitlines()
        raise PolychromifyError(f"{what}: {' '.join(lines[:2])[:300]}") from None


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """For inference: every Conv2d directly followed by a BatchNorm2d in an nn.Sequential absorbs it (the
    normalisation becomes the convolution's weights and bias; the same outputs up to rounding, one pass over
    the activations less). In place, on a model in eval mode; returns it."""
    if model.training:
        raise ValueError("fold_batch_norm needs a model in eval mode")
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            conv, bn = seq[i], seq[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                seq[i], seq[i + 1] = fuse_conv_bn_eval(conv, bn), nn.Identity()
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def model_table() -> list[dict[str, Any]]:
    """Every registered model: name, parameter count, kind, whether it takes hints, a line about it."""
    rows = []
    for name in list_models():
        m = create_model(name)
        rows.append(
            {
                "name": name,
                "parameters": count_parameters(m),
                "kind": m.kind,
                "hints": m.takes_hints,
                "description": describe(name),
            }
        )
    return rows


def table_lines(rows: list[dict[str, Any]]) -> list[str]:
    """`model_table` as aligned lines for people."""
    return [
        f"{r['name']:<14} {r['parameters']:>12,}  {r['kind']:<14} {'hints ' if r['hints'] else '      '}"
        f"{r['description']}"
        for r in rows
    ]
