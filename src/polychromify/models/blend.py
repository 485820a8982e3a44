"""`blend`: several trained models over the same ab bins as one, their logits averaged before one decoding.
A blend of one network is that network behind the blend's cleaner and confidence scaling (`old-photos`).

A model trained on clean photos and one trained on damaged ones (`old-prints`) err differently; the weighted
mean of their logits (a geometric mean of their distributions) keeps what each does best. It is built from
its members' run folders (checkpoint.load_model), not from the registry: it has no weights of its own,
except an optional `cleaner` in front of them (`models.cleaner`: grain taken out of the input they read).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from polychromify.color import confident_colours
from polychromify.errors import PolychromifyError
from polychromify.models.cleaner import Cleaner
from polychromify.models.registry import ColorModel


class Blend(ColorModel):
    kind = "classification"

    def __init__(
        self,
        members: Sequence[ColorModel],
        weights: Sequence[float],
        cleaner: Cleaner | None = None,
        neutral: bool = False,
    ) -> None:
        super().__init__()
        if len(members) < 1 or len(weights) != len(members) or min(weights) < 0 or sum(weights) <= 0:
            raise PolychromifyError("a blend needs one or more members and a weight >= 0 for each")
        first = members[0]
        for m in members:
            if m.kind != "classification" or not torch.equal(m.bins, first.bins):
                raise PolychromifyError("a blend's members must all be models over the same ab bins")
            if m.takes_hints != first.takes_hints:
                raise PolychromifyError("a blend's members must all take hints, or none")
        self.members = nn.ModuleList(members)
        self.cleaner = cleaner  # grain and noise taken out of the members' input L (models.cleaner)
        self.neutral = neutral  # colours scaled by how sure the distribution is of them (confident_colours)
        self.register_buffer("weights", torch.tensor(weights, dtype=torch.float32) / sum(weights))
        self.takes_hints = first.takes_hints
        self.bf16_pays = all(m.bf16_pays for m in members)

    @property
    def bins(self) -> torch.Tensor:  # (Q,2) CIELAB units: what reference photos' histograms are over
        return self.members[0].bins

    @property
    def temperature(self) -> float:
        return self.members[0].temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The members' logits (N,Q,h,w), weighted and summed; with a cleaner, of the cleaned L."""
        if self.cleaner is not None:
            x = torch.cat([self.cleaner(x[:, :1]), x[:, 1:]], 1)
        return sum(w * m(x) for w, m in zip(self.weights.to(x.dtype), self.members, strict=True))

    def decode(self, out: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
        """The first member's decoding; with `neutral`, on the logits' grid, then `confident_colours`."""
        first = self.members[0]
        if not self.neutral:
            return first.decode(out, size)
        ab = first.decode(out, out.shape[-2:])  # on the logits' grid
        ab = confident_colours(ab, out, self.bins, getattr(first, "smooth", 0.0))
        return super().decode(ab, size)  # resized
