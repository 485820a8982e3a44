"""The experiment behind docs/hints-and-references.md, "Colours from a reference photo": a *trained*
global-hint input (as SIGGRAPH17 trains one) against the decoding-time prior swap of `polychromify.reference`.

A small branch takes a sample's own ab histogram over the default's 262 bins (+ its mean chroma) and adds
what it computes to the shipped `clean` decoder (the default when this ran) at strides 16, 8 and 4 and to
its logits (zero-initialised: it starts as `clean`). `clean` stays frozen, so without a reference nothing
changes. Trained one epoch on a prepared dataset (hints sampled as in training, class-rebalanced loss),
then scored on colour photos with each photo's own colours as its reference, and with another photo's (how
far a foreign palette is taken):

    python experiments/global_hints_experiment.py train DATA BRANCH.pt [STEPS]  # ~50 min/epoch, 2 AVX2 cores
    python experiments/global_hints_experiment.py eval BRANCH.pt PHOTOS     # one line per variant
"""

import math
import sys
import time

import numpy as np
import torch
from torch import nn

from polychromify.checkpoint import load_model
from polychromify.color import (
    bin_prior,
    grey_srgb,
    normalize_l,
    rebalance_weights,
    soft_encode_sparse,
    to_grey,
)
from polychromify.data.dataset import LabDataset
from polychromify.data.hints import sample_hints
from polychromify.evaluate import _originals, image_metrics, list_images, mean_metrics
from polychromify.inference import ASSETS, Colorizer
from polychromify.losses import compute_loss
from polychromify.models.mobilenet import _up
from polychromify.reference import Reference, colours_like

base = load_model(ASSETS / "clean", "cpu").eval()
base.requires_grad_(False)
Q, C = len(base.bins), base.head.in_channels


class Branch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(Q + 1, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU())
        self.out = nn.Linear(256, 4 * C + 2 * C + C + Q)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, hist: torch.Tensor, chroma: torch.Tensor) -> list[torch.Tensor]:
        g = self.out(self.mlp(torch.cat([hist, chroma[:, None]], 1)))
        return [t[:, :, None, None] for t in torch.split(g, [4 * C, 2 * C, C, Q], 1)]


def forward(x: torch.Tensor, g: list[torch.Tensor]) -> torch.Tensor:
    """The default's forward pass (mobilenet.py) with the branch's terms added."""
    m = base
    with torch.no_grad():
        y, skips = (grey_srgb(x[:, :1]) - m.mean) / m.std, {}
        for i, layer in enumerate(m.encoder):
            y = layer(y)
            skips[i] = y
        h4, h8, h16 = m._hint_terms(x[:, 1:], skips)
        y = m.bottom(skips[18])
        y = y + m.context(y)
    y = m.up16(torch.cat([_up(y, skips[13]), skips[13]], 1)) + h16 + g[0]
    y = m.up8(torch.cat([_up(y, skips[6]), skips[6]], 1)) + h8 + g[1]
    y = m.up4[0](torch.cat([_up(y, skips[3]), skips[3]], 1)) + h4 + g[2]
    return m.head(m.up4[1](y)) + g[3]


def histograms(ab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ab (N,2,H,W) -> each sample's nearest-bin shares (N,Q) and mean chroma (N,) in [-1,1] units."""
    idx = soft_encode_sparse(ab, base.bins, k=1)[0][..., 0].flatten(1)
    hist = torch.zeros(len(ab), Q).scatter_add_(1, idx, torch.ones_like(idx, dtype=torch.float32))
    return hist / idx.shape[1], ab.float().norm(dim=1).mean((1, 2))


def train(data: str, out: str, steps: str | None = None, batch: int = 32, lr: float = 1e-3) -> None:
    """One epoch (or `steps` steps) of the branch on DATA's training split; its weights saved to OUT."""
    samples = LabDataset(data, "train")
    n = len(samples)
    probe = samples.batch(np.linspace(0, n - 1, 2000).astype(np.int64))[1]
    bins = base.bins.numpy()
    weights = torch.as_tensor(rebalance_weights(bin_prior(probe, bins), lam=0.6, bins=bins))
    branch, rng, gen = Branch(), np.random.default_rng(0), torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(branch.parameters(), lr=lr, weight_decay=1e-4)
    order, steps, t0 = rng.permutation(n), int(steps or n // batch), time.time()
    for step in range(steps):
        idx = order[step * batch : (step + 1) * batch]
        L, ab = samples.batch(idx, rng.random(len(idx)) < 0.5)
        x = base.make_input(L, sample_hints(ab, generator=gen, p=0.125), True)
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        loss = compute_loss(base, forward(x, branch(*histograms(ab))), ab, weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step}/{steps} loss {float(loss):.4f} {time.time() - t0:.0f} s", flush=True)
            torch.save(branch.state_dict(), out)


@torch.no_grad()
def evaluate(branch_file: str, photos: str) -> None:
    branch = Branch()
    branch.load_state_dict(torch.load(branch_file, weights_only=True))
    colorizer = Colorizer(base)
    images, truths = _originals(tuple(list_images(photos)), 640)
    refs = [Reference.of(im, 1.0) for im in images]

    def colorize(im: np.ndarray, ref: Reference, trained: bool, strength: float | None) -> np.ndarray:
        grey = to_grey(im)
        L = torch.from_numpy(colorizer.small_lightness([grey]))
        x = base.make_input(torch.from_numpy(normalize_l(L.numpy())), None, True)
        hist = ref.histogram(base.bins)
        out = forward(x, branch(hist[None], ref.ab.norm(dim=1).mean()[None])) if trained else base(x)
        if strength is None:
            return colorizer.compose(grey, base.decode(out, L.shape[-2:])[0])
        return colorizer.compose(grey, colours_like(base, out, L.shape[-2:], Reference(ref.ab, strength))[0])

    def tv(p: np.ndarray, q: np.ndarray) -> float:
        return 0.5 * float(np.abs(p - q).sum())

    own_hists = [r.histogram(base.bins).numpy() for r in refs]
    for trained, strength in [(False, 0.75), (False, 1.0), (True, None), (True, 0.75), (True, 1.0)]:
        rows, nearer = [], []
        for i, (im, truth) in enumerate(zip(images, truths, strict=True)):
            rows.append(image_metrics(colorize(im, refs[i], trained, strength), im, truth=truth))
            j = (i + len(images) // 3) % len(images)
            got = Reference.of(colorize(im, refs[j], trained, strength)).histogram(base.bins).numpy()
            nearer.append(tv(got, own_hists[j]) < tv(got, own_hists[i]))
        m = mean_metrics(rows)
        keys = ("psnr_rgb", "auc_rebalanced", "delta_cf", "hue_accuracy", "hue_blue")
        name = "trained branch" + (" + prior swap" if strength else "") if trained else "prior swap"
        print(
            f"{name:<26} strength {strength}",
            {k: round(m[k], 3) for k in keys},
            f"foreign palette nearer: {np.mean(nearer):.2f}",
            flush=True,
        )


if __name__ == "__main__":
    {"train": train, "eval": evaluate}[sys.argv[1]](*sys.argv[2:])
