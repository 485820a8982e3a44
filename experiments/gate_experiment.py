"""docs/old-prints.md, "Choosing the network per photo does not pay either": can a small gate on the
input's lightness say, per photo, how much of `old-prints` to blend with `clean`?

    python experiments/gate_experiment.py CORPUS [EPOCHS]   # 9 min, 2-core EPYC, native bf16; JSON lines

For every corpus photo not held out (assets/default/heldout.txt), greyed at 640 px: the photo clean and
twice damaged at a random severity (`data.degrade`), on the networks' grid (longer side 256). For each,
the hue hits (`metrics.hue_counts`, on the grid) of the logit blend w x old-prints + (1 - w) x clean at
w = 0, 0.25, 0.5, 0.75, 1. A gate (three convolutions, global mean, one linear unit: w = sigmoid) is
trained on five sixths of the photos to maximise its blend's hits (linear between the five w) and scored
on the last sixth against fixed w; the networks saw every one of these photos in their own training.
"""

import json
import sys
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from polychromify.checkpoint import ASSETS, resolve_model
from polychromify.color import normalize_l, rgb_to_lab, to_grey
from polychromify.data.degrade import degrade
from polychromify.data.images import open_image
from polychromify.inference import Colorizer
from polychromify.metrics import hue_counts

WS = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])


def samples(corpus: Path) -> list[dict]:
    held = set((ASSETS / "default" / "heldout.txt").read_text().split())
    files = sorted(p for p in corpus.rglob("*.jpg") if str(p.relative_to(corpus)) not in held)
    grid = Colorizer("clean")
    clean, old = resolve_model("clean"), resolve_model("old-prints")
    out = []
    for k, path in enumerate(files):
        im = open_image(path)
        im.thumbnail((640, 640))
        grey = to_grey(np.asarray(im))
        rng = np.random.default_rng(zlib.crc32(str(path.relative_to(corpus)).encode()))
        for severity in (0.0, *rng.uniform(0, 1, 2)):
            damaged = grey if severity == 0 else degrade(grey, rng, severity)
            L = torch.from_numpy(grid.small_lightness([damaged]))
            h, w = L.shape[-2:]
            truth = torch.from_numpy(
                rgb_to_lab(np.asarray(im.convert("RGB").resize((w, h), Image.Resampling.BOX)))[1]
            ).permute(2, 0, 1)[None]
            x = normalize_l(L)
            with torch.no_grad():
                za, zb = (m(m.make_input(x, None, m.takes_hints)) for m in (clean, old))
                blends = (clean.decode(s * zb + (1 - s) * za, (h, w)) for s in WS)
                hits = [hue_counts(ab, truth)["all"] for ab in blends]
            out.append({"photo": k, "severity": float(severity), "x": x, "hits": hits})
    return out


def main() -> None:
    data = samples(Path(sys.argv[1]))
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    rng = np.random.default_rng(0)
    photos = sorted({d["photo"] for d in data})
    held = set(rng.choice(photos, len(photos) // 6, replace=False).tolist())
    train = [d for d in data if d["photo"] not in held]
    test = [d for d in data if d["photo"] in held]
    torch.manual_seed(0)
    gate = nn.Sequential(
        *(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU()),
        *(nn.Conv2d(16, 16, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 1)),
    )
    opt = torch.optim.AdamW(gate.parameters(), 3e-3, weight_decay=1e-3)

    def blend_hits(d: dict, w: torch.Tensor) -> torch.Tensor:  # linear between the five measured shares
        hits = torch.tensor([float(h) for h, _ in d["hits"]])
        return (torch.clamp(1 - (w - WS).abs() / 0.25, min=0) * hits).sum()

    for epoch in range(epochs):
        for i, j in enumerate(rng.permutation(len(train))):
            d = train[j]
            loss = -blend_hits(d, torch.sigmoid(gate(d["x"]))[0, 0]) / max(d["hits"][0][1], 1)
            (loss / 16).backward()
            if i % 16 == 15:
                opt.step()
                opt.zero_grad()
        with torch.no_grad():
            shares = [float(torch.sigmoid(gate(d["x"]))) for d in test]
        row = {"epoch": epoch + 1}
        for kind, keep in (("clean", lambda d: d["severity"] == 0), ("damaged", lambda d: d["severity"] > 0)):
            chosen = [(d, s) for d, s in zip(test, shares, strict=True) if keep(d)]
            total = sum(d["hits"][0][1] for d, _ in chosen)

            def score(share_of, chosen=chosen, total=total) -> float:
                return round(
                    sum(float(blend_hits(d, torch.tensor(share_of(s)))) for d, s in chosen) / total, 4
                )

            row[f"gate_{kind}"] = score(lambda s: s)
            for w in (0.0, 0.5, 1.0):
                row[f"w{w}_{kind}"] = score(lambda s, w=w: w)
            row[f"share_{kind}_median"] = round(float(np.median([s for _, s in chosen])), 3)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
