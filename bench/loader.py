"""Data path throughput: how fast the training loop gets batches from a prepared dataset; prints JSON.

    python bench/loader.py --data DIR [--batch 32] [--seconds 5]

Measures what the trainer does per step before the model runs: `LabDataset.batch` on a random order
with random horizontal flips (memory-mapped float16 shards -> flipped in float16 -> float32 tensors),
in the training process itself (no worker processes are needed). Compare with `train_images_per_s` of
bench/train.py.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from polychromify.data.dataset import LabDataset
from polychromify.precision import machine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a folder made by `polychromify prepare`")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    ds = LabDataset(a.data, "train")
    rng = np.random.default_rng(0)
    gen = torch.Generator().manual_seed(0)
    images, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < a.seconds:
        idx = rng.choice(len(ds), min(a.batch, len(ds)), replace=False)  # unsorted, as trained
        L, ab = ds.batch(idx, (torch.rand(len(idx), generator=gen) < 0.5).numpy())
        images += len(L)
    seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "benchmark": "loader",
                "machine": machine(),
                "size": ds.size,
                "samples": len(ds),
                "batch": a.batch,
                "loader_images_per_s": round(images / seconds, 1),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
