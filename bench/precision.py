"""Does bf16 change the results? Trains one model in fp32 (two seeds) and in bf16, scores each on the test
split of a prepared dataset, and prints JSON.

    python bench/precision.py --data data/study [--model unet] [--epochs 4] [--out runs/precision]

Runs: fp32 with seed 0 (the reference) and seed 1 (how much the metrics move from the seed alone), bf16
autocast training with seed 0, and the fp32 model predicting under bf16 autocast. Every run is scored in
the same way (`polychromify evaluate --data`); `differences` gives each metric minus the reference's, so
bf16's change can be read against the seed's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from polychromify.evaluate import predict_split, score_predictions
from polychromify.precision import autocast, machine
from polychromify.runtime import keep_freed_memory
from polychromify.train import TrainConfig, train

METRICS = ("auc", "auc_rebalanced", "psnr_rgb", "ssim", "mse_ab", "seed_accuracy", "delta_cf")


def score(run: Path, data: str, precision: str = "fp32") -> dict:
    with autocast("cpu", precision):
        result = score_predictions(run, *predict_split(run, data))
    return {k: round(result[k], 4) for k in METRICS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a dataset made by `polychromify prepare`")
    ap.add_argument("--model", default="unet")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, help="cap on steps per epoch (tiny runs)")
    ap.add_argument("--out", default="runs/precision", help="run folders (replaced)")
    ap.add_argument("--malloc", choices=("keep", "glibc"), default="keep", help="keep: as polychromify runs")
    a = ap.parse_args()
    if a.malloc == "keep":
        keep_freed_memory()
    out = Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    rows = {}
    for label, precision, seed in (("fp32", "fp32", 0), ("fp32_seed1", "fp32", 1), ("bf16", "bf16", 0)):
        cfg = TrainConfig(
            model=a.model,
            data=a.data,
            out=str(out / label),
            epochs=a.epochs,
            batch_size=a.batch,
            precision=precision,
            seed=seed,
            patience=0,
            steps_per_epoch=a.steps,
        )
        run = train(cfg, progress=False)
        rows[label] = score(run, a.data) | {
            "train_seconds": json.loads((run / "config.json").read_text())["train_seconds"]
        }
        print(f"{label}: {rows[label]}", file=sys.stderr)
    rows["fp32_model_bf16_inference"] = score(out / "fp32", a.data, "bf16")
    ref = rows["fp32"]
    differences = {
        label: {k: round(row[k] - ref[k], 4) for k in METRICS}
        for label, row in rows.items()
        if label != "fp32"
    }
    print(
        json.dumps(
            {
                "benchmark": "precision",
                "machine": machine(),
                "model": a.model,
                "epochs": a.epochs,
                "runs": rows,
                "differences": differences,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
