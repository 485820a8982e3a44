"""Colorize images at full resolution with any trained model; shared by the CLI, video and web code.

The network sees L downscaled to `input_size` (longer side); its ab is upsampled (to half the original
size for large photos, see color._table_index) and joined with the original, full-resolution L, so detail
comes from the photo and colour from the model.
"""

from __future__ import annotations

import copy
import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from polychromify.checkpoint import ASSETS, resolve_model, shipped_config, weight_files  # noqa: F401 (the API)
from polychromify.color import grey_ab_to_rgb, grey_lightness, normalize_l, rgb_to_lab, to_grey
from polychromify.config import RUNTIMES, ColourOptions
from polychromify.data.images import to_rgb_array
from polychromify.errors import PolychromifyError
from polychromify.export import OnnxNet, export_onnx
from polychromify.models.registry import ColorModel, fold_batch_norm, input_grid
from polychromify.precision import Choice, autocast, check_precision, pick_device, resolve
from polychromify.reference import Reference
from polychromify.runtime import keep_freed_memory
from polychromify.spread import spread_hints

OPTIONS = ColourOptions()  # the defaults of the command line, the web form and this API
HINT_RADIUS = 1  # a hint paints a (2r+1)^2 patch of the network's input grid


@dataclass(frozen=True)
class Hint:
    """A user colour hint: pixel (x, y) of the original image should have the chroma of `color`."""

    x: float
    y: float
    color: str  # '#RRGGBB'

    @functools.cached_property  # converted once, not on every frame a film's hints are given to
    def ab(self) -> tuple[float, float]:
        rgb = np.array([[[int(self.color[i : i + 2], 16) for i in (1, 3, 5)]]], dtype=np.uint8)
        _, ab = rgb_to_lab(rgb)
        return float(ab[0, 0, 0]), float(ab[0, 0, 1])


def parse_hint(text: str) -> Hint:
    """'X,Y,#RRGGBB' -> Hint, with a clear error for anything else."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        x, y = float(parts[0]), float(parts[1])
        ok = len(parts) == 3 and math.isfinite(x) and math.isfinite(y)
        colour = re.fullmatch(r"#?([0-9a-fA-F]{6})", parts[2]) if ok else None
    except (ValueError, IndexError):
        colour = None
    if colour is None:
        raise PolychromifyError(f"invalid hint {text!r}: expected X,Y,#RRGGBB (pixel position, hex colour)")
    return Hint(x, y, "#" + colour[1].lower())


def _onnx_net(model: str | Path | ColorModel):
    """An .onnx file, or any model exported in memory, on onnxruntime."""
    if isinstance(model, str | Path) and str(model).lower().endswith(".onnx"):
        if not Path(model).is_file():
            raise PolychromifyError(f"no such file: {model}")
        return OnnxNet(Path(model))
    return OnnxNet(export_onnx(_for_inference(model, torch.device("cpu"))))


def _for_inference(model: str | Path | ColorModel, device: torch.device) -> ColorModel:
    """The model as the Colorizer runs it: a caller's own model is copied (it may go on training; in fp32
    the Colorizer folds batch norm into the convolutions, which in bf16 would cost accuracy: 2% -> 10% of
    the default's colours), in channels-last, the layout oneDNN's convolutions take and give, so nothing is
    reordered between layers (the old default in bf16: 2x faster than the default layout)."""
    net = resolve_model(copy.deepcopy(model) if isinstance(model, ColorModel) else model, device)
    return net.to(memory_format=torch.channels_last)


class Colorizer:
    """A loaded model plus the full-resolution recombination; reuse one instance for many images."""

    def __init__(
        self,
        model: str | Path | ColorModel = OPTIONS.model,
        device: str = "cpu",  # the command line's "auto" may pick a GPU; Python code says so itself
        input_size: int = OPTIONS.input_size,
        precision: str = OPTIONS.precision,
        runtime: str = OPTIONS.runtime,
        spread: bool = True,
        mirror: bool = OPTIONS.mirror,
    ) -> None:
        """runtime: "torch", or "onnx" (onnxruntime on the CPU, fp32: `model` is exported in memory first,
        or is an exported .onnx file). spread: each hint colours the region it falls in (`spread_hints`);
        False leaves hints to the network alone, which answers near the hint. mirror: the network also
        colours the mirror image (in the same batch) and the two results are averaged: better colours
        (docs/photos.md, "Mirror averaging") for twice the network's time; `polychromify video` turns it
        off."""
        check_precision(precision)
        # As the command line does: freed buffers stay in the process for the next photo instead of being
        # unmapped and page-faulted in again (a 12-MP photo 2x faster; the process keeps its peak memory).
        keep_freed_memory()
        if runtime not in RUNTIMES:
            raise PolychromifyError(f"unknown runtime {runtime!r}: use {' or '.join(RUNTIMES)}")
        self.device = torch.device(device if runtime == "torch" else "cpu")
        self.input_size = input_size
        self.spread = spread
        self.mirror = mirror
        # A shipped model may name a partner for photos with hints (a model that colorizes best on its own
        # paired with one trained to follow hints closely).
        partner = shipped_config(model).get("hint_model") if isinstance(model, str | Path) else None
        if runtime == "onnx":
            if precision == "bf16":
                raise PolychromifyError("onnxruntime runs fp32 here: use --precision auto or fp32 with it")
            self.model = _onnx_net(model)
            self.hint_model = _onnx_net(partner) if partner else self.model
            self.choice = Choice("fp32", "onnxruntime")
            self.precision = "fp32"
            return
        if str(model).lower().endswith(".onnx"):
            raise PolychromifyError(f"{model} is an ONNX graph: run it with --runtime onnx")
        self.model = _for_inference(model, self.device)
        # auto: bf16 only where the device has it natively and this model runs faster in it
        self.choice = resolve(precision, self.device, self.model)
        self.precision = self.choice.precision
        self.hint_model = _for_inference(partner, self.device) if partner else self.model
        if self.precision == "fp32":
            for net in {self.model, self.hint_model}:
                fold_batch_norm(net)

    @classmethod
    def from_options(cls, o: ColourOptions) -> Colorizer:
        """The colorizer that `colorize`, `video` and the web page's options ask for."""
        return cls(o.model, str(pick_device(o.device)), o.input_size, o.precision, o.runtime, mirror=o.mirror)

    @property
    def takes_hints(self) -> bool:
        return self.hint_model.takes_hints

    @property
    def takes_reference(self) -> bool:
        """Whether colours can come from a reference photo: models over ab bins, on the torch runtime."""
        return all(getattr(net, "kind", None) == "classification" for net in (self.model, self.hint_model))

    def colorize_array(
        self,
        rgb: np.ndarray,
        hints: Sequence[Hint] = (),
        saturation: float = 1.0,
        reference: Reference | None = None,
    ) -> np.ndarray:
        """(H,W,3) or (H,W) uint8 -> colour (H,W,3) uint8 with the same L (colour inputs are greyed first).
        reference: a `Reference` (`Reference.of(photo)`) whose colours the result takes."""
        return self.colorize_batch([rgb], [hints], saturation, reference)[0]

    def colorize_batch(
        self,
        images: Sequence[np.ndarray],
        hints: Sequence[Sequence[Hint]] | None = None,
        saturation: float = 1.0,
        reference: Reference | None = None,
    ) -> list[np.ndarray]:
        """Same-size images -> colour images; one forward pass for the whole batch."""
        greys = [to_grey(im) for im in images]  # (H,W) uint8: the photo's own lightness, kept exactly
        ab, _ = self.predict_small(greys, hints, reference=reference)
        return [self.compose(g, a, saturation) for g, a in zip(greys, ab, strict=True)]

    def predict_small(
        self,
        greys: Sequence[np.ndarray],
        hints: Sequence[Sequence[Hint]] | None = None,
        size: tuple[int, int] | None = None,
        reference: Reference | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Same-size grey images (H,W) uint8 -> (ab (N,2,gh,gw) in [-1,1], L (N,1,gh,gw) in [0,100]) at the
        network's resolution (longer side `input_size`). `size` (H,W): the size of the images the greys
        stand for, if they were downscaled; it sets the network's grid and the hints' coordinates."""
        L = torch.from_numpy(self.small_lightness(greys, size))
        return self.predict_lightness(L, hints, size or greys[0].shape, reference), L

    @torch.no_grad()
    def predict_lightness(
        self,
        L: torch.Tensor,
        hints: Sequence[Sequence[Hint]] | None,
        size: tuple[int, int],
        reference: Reference | None = None,
    ) -> torch.Tensor:
        """L (N,1,gh,gw) in [0,100] from `small_lightness` -> ab (N,2,gh,gw) in [-1,1]. `size` (H,W): the
        size of the images L stands for (the hints' coordinates); reference: colours to take (`Reference`)."""
        hints = hints or [()] * len(L)
        if any(hints) and not self.takes_hints:
            raise PolychromifyError(f"model {self.model.arch['name']} does not take colour hints")
        h, w = size
        gh, gw = L.shape[-2:]
        x = torch.from_numpy(normalize_l(L.numpy())).to(self.device, memory_format=torch.channels_last)
        hint_t = torch.stack([_hint_tensor(hs, w, h, gw, gh) for hs in hints])
        hint_t = hint_t.to(self.device, memory_format=torch.channels_last)
        net = self.hint_model if any(hints) else self.model
        if reference is not None and not isinstance(net, ColorModel):
            raise PolychromifyError("reference photos need the torch runtime (--runtime torch)")
        given = (hint_t if net.takes_hints else None,) + ((reference,) if reference is not None else ())
        if self.mirror:  # the photo and its mirror image in one batch
            x = torch.cat([x, x.flip(-1)])
            given = tuple(torch.cat([g, g.flip(-1)]) if isinstance(g, torch.Tensor) else g for g in given)
        with autocast(self.device.type, self.precision):
            ab = net.predict_ab(x, *given).float().cpu()
        if self.mirror:
            ab, mirrored = ab.chunk(2)
            ab = (ab + mirrored.flip(-1)) / 2
        if self.spread and any(hints):
            for i, hs in enumerate(hints):
                points = [(p.x * gw / w, p.y * gh / h, *p.ab) for p in hs]
                ab[i] = spread_hints(L[i], ab[i], points)
        return ab

    def small_lightness(self, greys: Sequence[np.ndarray], size: tuple[int, int] | None = None) -> np.ndarray:
        """Same-size grey images -> CIELAB L (N,1,gh,gw) in [0,100] on the network's grid (box-averaged)."""
        return grid_lightness(greys, self.input_size, size)

    @staticmethod
    def compose(grey: np.ndarray, ab: torch.Tensor, saturation: float = 1.0) -> np.ndarray:
        """Full-resolution grey (H,W) uint8 + small ab (2,gh,gw) -> colour (H,W,3) uint8 with the grey's L."""
        if saturation < 0:
            raise PolychromifyError("saturation must be >= 0")
        return grey_ab_to_rgb(grey, ab * saturation)  # upsampled to the grey's size inside


def grid_lightness(
    greys: Sequence[np.ndarray], input_size: int, size: tuple[int, int] | None = None
) -> np.ndarray:
    """Same-size grey images (of frames of `size` (H,W), default their own) -> CIELAB L (N,1,gh,gw) in
    [0,100] on the grid of a network that sees `input_size` px (box-averaged). Needs no model."""
    gh, gw = input_grid(*(size or greys[0].shape), input_size)
    lightness = grey_lightness()
    return np.stack(
        [lightness[np.asarray(Image.fromarray(g).resize((gw, gh), Image.Resampling.BOX))] for g in greys]
    )[:, None]


def _hint_tensor(hints: Sequence[Hint], w: int, h: int, gw: int, gh: int) -> torch.Tensor:
    """Hints in original pixel coordinates -> (3,gh,gw): a, b in [-1,1] and a mask."""
    t = torch.zeros(3, gh, gw)
    for hint in hints:
        if not (0 <= hint.x < w and 0 <= hint.y < h):
            raise PolychromifyError(f"hint at ({hint.x:g},{hint.y:g}) is outside the {w}x{h} image")
        cx, cy = int(hint.x * gw / w), int(hint.y * gh / h)
        ys, xs = (
            slice(max(0, cy - HINT_RADIUS), cy + HINT_RADIUS + 1),
            slice(max(0, cx - HINT_RADIUS), cx + HINT_RADIUS + 1),
        )
        a, b = hint.ab
        t[0, ys, xs], t[1, ys, xs], t[2, ys, xs] = a, b, 1.0
    return t


def colorize(
    image: str | Path | Image.Image | np.ndarray,
    model: str | Path | ColorModel = OPTIONS.model,
    hints: Sequence[Hint | str] = (),
    saturation: float = OPTIONS.saturation,
    device: str = "cpu",
    precision: str = OPTIONS.precision,
    runtime: str = OPTIONS.runtime,
    reference: str | Path | Image.Image | np.ndarray | Reference | None = None,
    reference_strength: float = OPTIONS.reference_strength,
) -> Image.Image:
    """Colorize one photo (path, PIL image or uint8 array) at its full resolution; returns a PIL image.
    reference: a colour photo (or its `Reference`) whose colours the result takes, with reference_strength
    from 0 (the model's own colours) to 1 (the reference's palette in its proportions). The model is kept
    (a few, by model, device and precision), so a loop over colorize() loads it once; a run folder whose
    weights change is loaded again."""
    parsed = [parse_hint(x) if isinstance(x, str) else x for x in hints]
    if reference is not None and not isinstance(reference, Reference):
        reference = Reference.of(reference, reference_strength)
    if isinstance(model, ColorModel):  # the caller's own network: it may change between calls
        colorizer = Colorizer(model, device, precision=precision, runtime=runtime)
    else:
        colorizer = _kept_colorizer(str(model), str(device), precision, runtime, _weights_stamp(model))
    out = colorizer.colorize_array(to_rgb_array(image, keep_grey=True), parsed, saturation, reference)
    return Image.fromarray(out, "RGB")


@functools.lru_cache(maxsize=4)  # thread-safe; a model of the default's size holds ~20 MB
def _kept_colorizer(model: str, device: str, precision: str, runtime: str, stamp: tuple | None) -> Colorizer:
    return Colorizer(model, device, precision=precision, runtime=runtime)


def _weights_stamp(model: str | Path) -> tuple[int, ...] | None:
    """When the model's weights files (a blend's: its members') last changed; None if there are none."""
    files = [Path(model)] if str(model).lower().endswith(".onnx") else weight_files(model)
    return tuple(f.stat().st_mtime_ns for f in files if f.is_file()) or None


__all__ = ["Colorizer", "Hint", "Reference", "colorize", "parse_hint", "resolve_model"]
