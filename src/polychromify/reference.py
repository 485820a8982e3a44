"""Colours taken from a reference photo (SIGGRAPH17's global hints), for any model over ab bins.

A classification model gives, per pixel, p(bin | photo): what it sees in the photo weighed by its training
photos' colour distribution (the prior). A reference photo says what this photo's colour distribution should
be, so `match_reference` swaps the prior: it finds one bias per bin, the same for every pixel, such that the
photo's mean predicted distribution equals the reference's ab histogram (the EM of Saerens et al. 2002 for
a shifted class prior, on the annealed distribution that is decoded), then scales the colours to the
reference's mean chroma (`colours_like`). Each pixel keeps the network's ranking of colours (the pixels it
finds sky-like take the reference's blues first) and the photo as a whole takes the reference's palette and
saturation. Nothing is trained: it is a decoding step, a few ms per photo.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from polychromify.color import AB_SCALE, ab_length, bin_prior, rgb_to_lab
from polychromify.config import ColourOptions
from polychromify.data.images import open_image, to_rgb_array
from polychromify.errors import PolychromifyError

SIDE = 256  # the reference is reduced to this longer side: its histogram, not its detail, is what counts
ITERATIONS = 5  # EM steps; on held-out photos the histogram's gap stops shrinking after 3 to 5
EM_PIXELS = 4096  # about this many pixels per image (every k-th) take part in the EM
FLOOR = 1e-4  # a bin the reference lacks keeps this share, so no colour is ruled out entirely
# How far the photo's colour distribution goes towards the reference's: its target is the geometric blend
# own^(1 - s) * reference^s (the default s and what it means: config.ColourOptions.reference_strength).
STRENGTH = ColourOptions.reference_strength


@dataclass(eq=False)
class Reference:
    """A reference photo's colours: its ab (1,2,h,w) in [-1,1], reduced; `histogram` over a model's bins."""

    ab: torch.Tensor
    strength: float = STRENGTH
    _histograms: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.strength <= 1:
            raise PolychromifyError(f"reference strength must be between 0 and 1, not {self.strength:g}")

    @classmethod
    def of(
        cls, image: str | Path | bytes | Image.Image | np.ndarray, strength: float = STRENGTH
    ) -> Reference:
        """A colour photo (path, file bytes, PIL image or uint8 array) -> its colours, with a clear error
        for a file that is not a photo and for a black-and-white one (it has no colours to give).
        strength: from 0 (the model's own colours) to 1 (the reference's palette in its proportions)."""
        where = f" {image}" if isinstance(image, str | Path) else ""
        try:
            if isinstance(image, str | Path | bytes):
                im = open_image(image, min_size=SIDE)
            else:
                im = Image.fromarray(to_rgb_array(image))
        except PolychromifyError as exc:
            raise PolychromifyError(f"reference photo{where}: {exc}") from None
        im.thumbnail((SIDE, SIDE))
        ab = torch.from_numpy(rgb_to_lab(np.asarray(im))[1]).permute(2, 0, 1)[None].float()
        if float(ab.abs().amax()) * AB_SCALE < 3:  # chroma under 3 CIELAB units everywhere
            raise PolychromifyError(f"reference photo{where} has no colours (it is black and white)")
        return cls(ab, strength)

    @functools.cached_property
    def mean_chroma(self) -> torch.Tensor:
        """The mean chroma of its pixels, in [0,1] units of ab (a 0-d tensor)."""
        return ab_length(self.ab).mean()

    def histogram(self, bins: torch.Tensor) -> torch.Tensor:
        """The share (Q,) of the reference's pixels nearest each of `bins` (Q,2) in CIELAB units."""
        key = (tuple(bins.shape), float(bins.abs().sum()))
        if key not in self._histograms:
            self._histograms[key] = torch.from_numpy(bin_prior(self.ab, bins.float().cpu())).float()
        return self._histograms[key]


def match_reference(
    logits: torch.Tensor, target: torch.Tensor, temperature: float, strength: float = 1.0
) -> torch.Tensor:
    """Logits (N,Q,h,w) -> logits whose annealed distributions softmax(logits / T), averaged over each
    image's pixels, match own^(1 - strength) * target^strength, normalised, where own is that average
    before and target (Q,) the reference's histogram: one additive bias per bin and image, found by EM."""
    n, q = logits.shape[:2]
    z = logits.float().permute(0, 2, 3, 1).reshape(n, -1, q) / temperature  # (N,P,Q): softmax over memory
    z = z[:, :: max(1, z.shape[1] // EM_PIXELS)]  # one bias per bin: a spread sample of pixels finds it
    own = torch.softmax(z, dim=-1).mean(1, keepdim=True)  # (N,1,Q)
    wanted = torch.log(target.to(z) + FLOOR).view(1, 1, -1)
    log_target = torch.log_softmax((1 - strength) * torch.log(own + FLOOR) + strength * wanted, dim=-1)
    bias = z.new_zeros(n, 1, q)
    for _ in range(ITERATIONS):
        bias += log_target - torch.log(torch.softmax(z + bias, dim=-1).mean(1, keepdim=True) + FLOOR)
    return logits.float() + (bias * temperature).view(n, q, 1, 1)


def colours_like(model, logits: torch.Tensor, size, reference: Reference) -> torch.Tensor:
    """A classification model's logits (N,Q,h,w) -> ab (N,2,*size) in [-1,1] in the reference's colours:
    the distributions matched to its histogram (`match_reference`), then each image's mean chroma brought
    to the reference's (blended with the model's own by the strength as the histogram is). The matched
    distributions are broader, so their annealed mean alone would be paler than the reference."""
    s = reference.strength
    target = reference.histogram(model.bins).to(logits.device)
    plain = model.decode(logits, logits.shape[-2:])  # only its mean chroma counts: on the logits' grid
    ab = model.decode(match_reference(logits, target, model.temperature, s), size)
    own, now = (ab_length(t).mean((1, 2)).clamp_min(1e-6) for t in (plain, ab))  # (N,)
    wanted = reference.mean_chroma.to(own) ** s * own ** (1 - s)
    return (ab * (wanted / now).view(-1, 1, 1, 1)).clamp(-1, 1)


def check_reference_model(model) -> None:
    """A clear error for a model that gives colours directly (no distribution over bins to reweigh)."""
    if getattr(model, "kind", None) != "classification":
        name = getattr(model, "arch", {}).get("name", type(model).__name__)
        raise PolychromifyError(
            f"model {name} predicts colours directly: a reference photo needs a model over ab bins "
            "(the default, mnv2-unet, unet or eccv16)"
        )
