"""`polychromify sweep` and `polychromify study`: the seed's hyper-parameter table and the whole study.

Both are resumable: a run folder that finished is reused, one that was interrupted is resumed.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from polychromify.checkpoint import atomic_write_text
from polychromify.config import PrepareConfig, StudyJob
from polychromify.data.dataset import LabDataset
from polychromify.data.prepare import prepare
from polychromify.errors import PolychromifyError
from polychromify.evaluate import evaluate_dataset
from polychromify.models.autoencoders import HP_TABLE
from polychromify.models.mobilenet import MobileNetV2, load_imagenet
from polychromify.precision import machine
from polychromify.report import COLUMNS, KIND_COLUMNS, compare, markdown_table
from polychromify.train import STATE, TrainConfig, resume_config, train


@dataclass(frozen=True)
class Budget:
    """Per-model training settings of a study."""

    epochs: int = 25
    max_minutes: float | None = None
    batch_size: int = 32
    steps_per_epoch: int | None = None


@dataclass(frozen=True)
class Mode:
    """A study preset: the budget of every row, the data and the widths that fit it."""

    budget: Budget
    crops_per_image: int  # random crops per photo on top of the whole photo
    zhang_width: float  # channel width of ECCV16 and SIGGRAPH17 (1 = the papers')
    few_photos: int  # training photos of the small side of the "larger dataset" pair


MODES = {
    "quick": Mode(Budget(max_minutes=0.5), crops_per_image=4, zhang_width=0.25, few_photos=16),
    "standard": Mode(Budget(max_minutes=5), crops_per_image=4, zhang_width=0.25, few_photos=100),
    "full": Mode(Budget(), crops_per_image=0, zhang_width=1.0, few_photos=100),  # the seed's 25 epochs
}


def train_or_reuse(
    model: str,
    data: str | Path,
    out: Path,
    budget: Budget,
    model_args: dict | None = None,
    **options: object,
) -> Path:
    """Train `model` into `out` unless a finished run is there; resume an interrupted one. `options`:
    more TrainConfig fields (balance, train_photos)."""
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
        **options,
    )
    return train(cfg, overwrite=out.exists())


SWEEP_COLUMNS = [
    ("row", "Model", "{}"),
    ("neurons", "Neurons", "{}"),
    ("filters", "Filters", "{}"),
    ("strides", "Strides/Upsampling", "{}"),
    ("batch_norm", "BN", "{}"),
] + [c for c in COLUMNS if c[0] not in ("model", "images_per_s", "psnr_lab", "auc", "cf")]


def sweep(
    data: str | Path,
    out: str | Path,
    budget: Budget,
    split: str = "test",
    whole: bool = False,
    reuse: dict[str, Path] | None = None,
) -> str:
    """Re-run the seed's hyper-parameter table (rows v1..v5, grey first) and write SWEEP/sweep.md and
    sweep.json. reuse: row -> a finished run of the same model and settings (trained elsewhere)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [{"row": "grey"} | evaluate_dataset("grey", data, split, whole=whole)]
    for name, preset in HP_TABLE.items():
        run = (reuse or {}).get(name) or train_or_reuse(name, data, out / name, budget)
        yes_no = {k: "yes" if v is True else "no" if v is False else v for k, v in preset.items()}
        rows.append({"row": name[3:]} | yes_no | evaluate_dataset(run, data, split, whole=whole))
    atomic_write_text(out / "sweep.json", json.dumps(rows, indent=1))
    table = markdown_table(rows, SWEEP_COLUMNS)
    atomic_write_text(out / "sweep.md", table + "\n")
    return table


def study_models(mode: Mode) -> dict[str, tuple[str, dict]]:
    """The final-results rows: name in the report -> (registered model, its arguments)."""
    zhang = {} if mode.zhang_width == 1 else {"width": mode.zhang_width}
    return {
        "cnn": ("cnn", {}),
        "v0": ("v0", {}),
        "v1": ("v1", {}),
        "polychromify": ("v2", {}),
        "v3": ("v3", {}),
        "eccv16": ("eccv16", zhang),
        "siggraph17": ("siggraph17", zhang),
    }


def future_work(mode: Mode, encoder_weights: str | Path | None) -> dict[str, dict[str, tuple[dict, dict]]]:
    """The seed's three future-work items as pairs of rows of the pretrained-encoder network (from
    scratch without `encoder_weights`), after a pair that differs only in the random seed (the noise
    floor of the others): item -> {row name: (model arguments, TrainConfig options)}."""
    pretrained = {"encoder_weights": str(encoder_weights)} if encoder_weights else None
    scratch = {"freeze": 0}  # random early layers are not worth freezing
    base_name, base = ("mnv2-unet", pretrained) if pretrained else ("mnv2-unet-scratch", scratch)
    pairs = {
        "another seed": {base_name: (base, {}), f"{base_name}-seed1": (base, {"seed": 1})},
        "balance categories": {
            base_name: (base, {}),
            f"{base_name}-balanced": (base, {"balance": "categories"}),
        },
        "larger dataset": {
            f"{base_name}-{mode.few_photos}photos": (base, {"train_photos": mode.few_photos}),
            base_name: (base, {}),
        },
    }
    if pretrained:
        pairs["pretrained encoder"] = {"mnv2-unet-scratch": (scratch, {}), "mnv2-unet": (pretrained, {})}
    return pairs


def study(
    photos: str | Path,
    out: str | Path,
    mode: str | Mode = "standard",
    budget: Budget | None = None,
    size: int = 128,
    crops_per_image: int | None = None,
    encoder_weights: str | Path | None = None,
    degrade: str | None = None,
) -> Path:
    """The whole study: prepare, train every model and the future-work pairs, compare (with the shipped
    default), sweep; writes STUDY/README.md. `budget`/`crops_per_image` override the mode's; `degrade`: the
    final table's columns on old-print damage (`compare`)."""
    started = time.monotonic()
    name = mode if isinstance(mode, str) else "custom"
    if isinstance(mode, str):
        if mode not in MODES:
            raise PolychromifyError(f"unknown study budget {mode!r}: use {', '.join(MODES)}")
        mode = MODES[mode]
    mode = replace(mode, budget=budget or mode.budget)
    if crops_per_image is not None:
        mode = replace(mode, crops_per_image=crops_per_image)
    if encoder_weights is not None:  # a wrong file fails now, not after an hour of other rows
        load_imagenet(MobileNetV2(), encoder_weights)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    fresh = not (out / "runs").exists()  # else its runs were trained on its data: never replace that
    if not fresh and not (data / "manifest.json").exists():
        raise PolychromifyError(f"{out} holds runs but no data; choose another --out")
    try:
        prepare(photos, data, PrepareConfig(size=size, crops_per_image=mode.crops_per_image), fresh)
    except PolychromifyError as exc:
        if fresh or "other inputs" not in str(exc):
            raise
        raise PolychromifyError(
            f"{out} holds a study of other photos or settings; choose another --out"
        ) from None
    train_photos = len({s["source"] for s in LabDataset(data, "train").samples})
    mode = replace(mode, few_photos=min(mode.few_photos, max(1, train_photos // 4)))
    runs: dict[str, Path] = {}
    for label, (model, args) in study_models(mode).items():
        runs[label] = train_or_reuse(model, data, out / "runs" / label, mode.budget, args)
    pairs = future_work(mode, encoder_weights)
    for rows in pairs.values():
        for label, (args, options) in rows.items():
            if label not in runs:
                runs[label] = train_or_reuse(
                    "mnv2-unet", data, out / "runs" / label, mode.budget, args, **options
                )
    unseen = _default_heldout()
    results, report = compare(
        [*map(str, runs.values()), "default"],
        data,
        out / "report",
        whole=True,
        unseen=unseen,
        degrade=degrade,
    )
    sweep_table = sweep(data, out / "sweep", mode.budget, whole=True, reuse={"hp-v3": runs["polychromify"]})
    log = out / "invocations.json"  # the wall-clock time of every invocation, for the README
    invocations = [
        *(json.loads(log.read_text()) if log.exists() else []),
        {"minutes": (time.monotonic() - started) / 60},
    ]
    atomic_write_text(log, json.dumps(invocations))
    folders = {*runs.values(), *(out / "sweep").glob("hp-*")}  # each run once (hp-v3 is polychromify's)
    trained = sum(
        float(json.loads((r / "config.json").read_text()).get("train_seconds") or 0) for r in folders
    )
    timing = (invocations, trained / 60)
    atomic_write_text(
        out / "README.md", _readme(photos, data, name, mode, results, report, pairs, sweep_table, timing)
    )
    return out


def study_job(job: StudyJob) -> Path:
    """`polychromify study`: the options -> `study`; a budget option given replaces the mode's budget."""
    budget = None
    if job.epochs or job.max_minutes or job.steps_per_epoch:
        budget = Budget(job.epochs or Budget.epochs, job.max_minutes, steps_per_epoch=job.steps_per_epoch)
    mode = "quick" if job.quick else job.budget
    return study(
        job.photos, job.out, mode, budget, job.size, job.crops_per_image, job.encoder_weights, job.degrade
    )


def _default_heldout() -> set[str]:
    """Names of the corpus photos the shipped default left out of its training (its validation photos)."""
    path = Path(__file__).parent / "assets" / "default" / "heldout.txt"
    return set(path.read_text().splitlines()) if path.exists() else set()


def _machine() -> str:
    """The benchmarks' machine block (`precision.machine`) in words."""
    m = machine()
    bf16 = "native bfloat16" if m["native_bf16"] else "no native bfloat16"
    text = f"{m['cpu']} ({m['cpu_capability']}, {bf16}), {m['cores']} CPU cores, torch {m['torch']}"
    return text + (f", {m['cuda']}" if m["cuda"] else "")


PAIR_COLUMNS = [c for c in COLUMNS if c[0] not in ("images_per_s", "psnr_lab", "auc", "cf")]


def _readme(photos, data, name, mode, results, report, pairs, sweep_table, timing) -> str:
    """The study's README: setting, final results, the future-work pairs, pictures, the sweep. timing:
    (the invocations' minutes, the training minutes of all rows)."""
    manifest = json.loads((Path(data) / "manifest.json").read_text())
    rows = {r["model"]: r for r in report["rows"]}
    invocations, trained = timing
    total = sum(x["minutes"] for x in invocations)
    took = f"{total:.0f} minutes" + (f" in {len(invocations)} invocations" if len(invocations) > 1 else "")
    sections = []
    for item, pair in pairs.items():
        table = markdown_table([rows["grey"], *(rows[label] for label in pair)], PAIR_COLUMNS)
        sections.append(f"### {item.capitalize()}\n\n{table}\n")
        if item == "balance categories" and report["by_kind"]:
            order = ["grey", *pair]
            kinds = [r for r in report["by_kind"] if r["model"] in order]
            kinds.sort(key=lambda r: (r["kind"], order.index(r["model"])))
            sections.append(
                "Per kind of photo (test split):\n\n" + markdown_table(kinds, KIND_COLUMNS) + "\n"
            )
    unseen = ""
    if "unseen" in report:
        unseen = (
            f"\n### On the {report['unseen'][0]['images']} test photos the shipped default never saw\n\n"
            "The default was trained on most of the other test photos (they are in the corpus it learned "
            "from), so its row above flatters it; these rows are all on photos no model trained on.\n\n"
            + markdown_table(report["unseen"])
            + "\n"
        )
    photos_per_split = ", ".join(f"{k} {v}" for k, v in manifest["photos"].items())
    samples = ", ".join(f"{k} {v:,}" for k, v in manifest["counts"].items())
    budget = mode.budget
    per_model = f"{budget.max_minutes:g} minutes" if budget.max_minutes else f"{budget.epochs} epochs"
    return f"""# Polychromify study (`--budget {name}`)

Command: `polychromify {" ".join(sys.argv[1:])}` on {_machine()}.
It took {took}, of which training all rows {trained:.0f} minutes (a resumed study reuses what was trained
before).
Photos: `{photos}`, split per photo by content hash as the seed's 64/16/20 ({photos_per_split}), each
stretched to {manifest["config"]["size"]}x{manifest["config"]["size"]} as the seed, plus
{mode.crops_per_image} random crops per photo: samples {samples}. Scores are on the whole test
photos (not their crops). Every row: at most {per_model} of training (Adam 1e-3, batch {budget.batch_size},
early stopping after 5 epochs without a better validation loss, the best epoch kept); ECCV16 and SIGGRAPH17
at width {mode.zhang_width:g} (1 = the papers'). `default` is the shipped model, for reference.

## Final results (test split)

{results}
{unseen}
Seed accuracy, plain AuC and PSNR favour grey, cautious output; rebalanced AuC, ΔCF and hue accuracy do not.
Hue accuracy: among the truth's pixels with chroma >= 15, the share whose output has chroma >= 5 and a hue
within 45 degrees (warm, green, blue: by the truth's hue).

![grid](report/grid.png)

![curves](report/curves.png)

![ab histograms](report/ab_histograms.png)

## The seed's future work, measured

Each pair: the same network (ImageNet MobileNetV2 encoder + U-Net decoder over ab bins, `mnv2-unet`) and the
same budget, one thing changed. The first pair changes only the random seed (initialisation of the decoder,
order of the samples): differences of that size between the rows of the other pairs are noise.

{chr(10).join(sections)}
## Hyper-parameter table (the seed's rows v1..v5)

{sweep_table}
"""
