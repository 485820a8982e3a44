"""A real `polychromify train` epoch against the best rate bench/train.py measures for the model; prints JSON.

    python bench/epoch.py [--model mnv2-unet] [--batch 8] [--steps 24]

Prepares the four sample photos (whole plus random crops, 128x128) in a temporary folder, runs `polychromify
train` for one epoch of --steps steps with its defaults (`--precision auto`, data loading, flips, the
model's own loss and optimiser groups), and reads the epoch's training images/s from metrics.jsonl. The
same run then times bare training steps of the same model and batch in fp32 and bf16 (bench/train.py's
`bench_model`) and reports `fraction` = epoch rate / the faster of the two: what the data path and the
precision choice cost (the issue's target: >= 0.7).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mnv2-unet")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=24)
    a = ap.parse_args()
    cli = [sys.executable, "-m", "polychromify"]
    with tempfile.TemporaryDirectory() as tmp:
        data, run = Path(tmp, "data"), Path(tmp, "run")
        crops = max(1, a.batch * a.steps // 4)  # enough samples for --steps batches
        prep = [*cli, "prepare", str(REPO / "samples" / "color"), "--out", str(data)]
        prep += ["--crops-per-image", str(crops), "--split", "0.9,0.1,0"]
        subprocess.run(prep, check=True, capture_output=True)
        train = [*cli, "train", "--model", a.model, "--data", str(data), "--out", str(run)]
        train += ["--epochs", "1", "--batch-size", str(a.batch), "--steps-per-epoch", str(a.steps)]
        done = subprocess.run(train, check=True, capture_output=True, text=True)
        epoch = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
        config = json.loads((run / "config.json").read_text())
    from polychromify.precision import machine
    from train import bench_model

    rows = {p: bench_model(a.model, p, 128, a.batch, 2, 3, False, 1024) for p in ("fp32", "bf16")}
    best = max(rows, key=lambda p: rows[p]["train_images_per_s"])
    said = [line for line in done.stderr.splitlines() if "precision:" in line]
    print(
        json.dumps(
            {
                "benchmark": "epoch",
                "machine": machine(),
                "model": a.model,
                "batch": a.batch,
                "steps": a.steps,
                "precision": config["precision"],
                "precision_said": said[0] if said else None,
                "epoch_images_per_s": epoch["images_per_s"],
                "bench_images_per_s": {p: r["train_images_per_s"] for p, r in rows.items()},
                "best": best,
                "fraction": round(epoch["images_per_s"] / rows[best]["train_images_per_s"], 3),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
