"""`polychromify sweep` and `polychromify study`: the seed's hyper-parameter table and the whole study.

Both are resumable: a run folder that finished is reused, one that was interrupted is resumed.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from polychromify.checkpoint import atomic_write_text
from polychromify.evaluate import evaluate_dataset
from polychromify.models.autoencoders import HP_TABLE
from polychromify.report import compare
from polychromify.train import STATE, TrainConfig, resume_config, train


@dataclass(frozen=True)
class Budget:
    """Per-model training settings of a study."""

    epochs: int = 25
    max_minutes: float | None = None
    batch_size: int = 32
    steps_per_epoch: int | None = None


def train_or_reuse(
    model: str, data: str | Path, out: Path, budget: Budget, model_args: dict | None = None
) -> Path:
    """Train `model` into `out` unless a finished run is there; resume an interrupted one."""
    config = out / "config.json"
    if config.exists() and json.loads(config.read_text()).get("status") not in (None, "running"):
        return out
    if (out / STATE).exists():
        return train(resume_config(out), resume=True)
    cfg = TrainConfig(
        model=model,
        data=str(data),
        out=str(out),
        model_args=model_args or {},
        epochs=budget.epochs,
        max_minutes=budget.max_minutes,
        batch_size=budget.batch_size,
        steps_per_epoch=budget.steps_per_epoch,
    )
    return train(cfg, overwrite=out.exists())


def sweep(data: str | Path, out: str | Path, budget: Budget, split: str = "test") -> str:
    """Re-run the seed's hyper-parameter table (rows v1..v5) and write SWEEP/sweep.md and sweep.json."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, preset in HP_TABLE.items():
        run = train_or_reuse(name, data, out / name, budget)
        metrics = evaluate_dataset(run, data, split)
        rows.append(
            {
                "row": name[3:],
                **preset,
                **{
                    k: metrics[k]
                    for k in (
                        "seed_accuracy",
                        "auc",
                        "auc_rebalanced",
                        "delta_cf",
                        "psnr_rgb",
                        "parameters",
                        "train_seconds",
                    )
                },
            }
        )
    atomic_write_text(out / "sweep.json", json.dumps(rows, indent=1))
    header = (
        "| Model | Neurons | Filters | Strides/Upsampling | BN | Seed accuracy | AuC | Rebalanced AuC | ΔCF "
        "| Parameters | Time |\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [header] + [
        f"| {r['row']} | {r['neurons']} | {r['filters']} | {'yes' if r['strides'] else 'no'} "
        f"| {'yes' if r['batch_norm'] else 'no'} | {r['seed_accuracy']:.4f} | {r['auc']:.2f} "
        f"| {r['auc_rebalanced']:.2f} | {r['delta_cf']:.1f} | {r['parameters']:,} "
        f"| {r['train_seconds'] / 60:.1f} min |"
        for r in rows
    ]
    table = "\n".join(lines)
    atomic_write_text(out / "sweep.md", table + "\n")
    return table


STUDY_MODELS = {  # name in the report -> (registered model, arguments at full size, arguments with --quick)
    "cnn": ("cnn", {}, {}),
    "v0": ("v0", {}, {}),
    "v1": ("v1", {}, {}),
    "polychromify": ("v2", {}, {}),
    "v3": ("v3", {}, {}),
    "eccv16": ("eccv16", {}, {"width": 0.25}),
    "siggraph17": ("siggraph17", {}, {"width": 0.25}),
}


def study(
    photos: str | Path,
    out: str | Path,
    quick: bool = False,
    budget: Budget | None = None,
    size: int = 128,
    crops_per_image: int | None = None,
) -> Path:
    """The whole study: prepare, train every model, compare, sweep; writes STUDY/README.md."""
    from polychromify.data.prepare import PrepareConfig, prepare

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    budget = budget or (Budget(epochs=25, max_minutes=4) if quick else Budget())
    data = out / "data"
    crops = crops_per_image if crops_per_image is not None else (15 if quick else 0)
    prepare(photos, data, PrepareConfig(size=size, crops_per_image=crops), overwrite=True)
    runs = []
    for label, (name, full, small) in STUDY_MODELS.items():
        runs.append(str(train_or_reuse(name, data, out / "runs" / label, budget, small if quick else full)))
    results = compare(runs, data, out / "report")
    sweep_table = sweep(data, out / "sweep", budget)
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}"
    if torch.cuda.is_available():
        machine += f", {torch.cuda.get_device_name(0)}"
    text = f"""# Polychromify study{" (quick)" if quick else ""}

Command: `polychromify {" ".join(sys.argv[1:])}` on {machine}.
Photos: `{photos}`. Data: `{data}` (see its manifest.json). Each model trained with {budget}.

## Final results (test split)

{results}

Seed accuracy, plain AuC and PSNR favour grey, cautious output; rebalanced AuC and ΔCF do not.

![grid](report/grid.png)

![curves](report/curves.png)

![ab histograms](report/ab_histograms.png)

## Hyper-parameter table (the seed's rows v1..v5)

{sweep_table}
"""
    atomic_write_text(out / "README.md", text)
    return out
