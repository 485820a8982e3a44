"""`polychromify compare`: the seed's final-results table, extended, plus the pictures to look at.

REPORT/results.csv, results.md   one row per model (grey baseline first); results.json also holds them
REPORT/unseen.md                 the same on the photos of `unseen` only (e.g. those a shipped model never
                                 saw in training), when some are in the split
REPORT/grid.png                  rows of photos; columns Input, each model, Original (the seed's figure)
REPORT/curves.png                train/val loss and validation seed accuracy per epoch for each run
REPORT/ab_histograms.png         predicted vs true ab distribution per model: the picture of "shy" colours
REPORT/by_kind.md, by_kind.csv   the same metrics per kind of photo (the dataset's categories, e.g. the
                                 corpus's sub-folders), when it has more than one: the rare kinds' view
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from polychromify.color import AB_SCALE, lab_to_rgb  # noqa: E402
from polychromify.data.dataset import LabDataset, first_views  # noqa: E402
from polychromify.evaluate import predict_split, run_info, score_arrays, score_predictions  # noqa: E402

COLUMNS = [  # (key, header, format)
    ("model", "Model", "{}"),
    ("parameters", "Parameters", "{:,}"),
    ("train_seconds", "Training time", "{}"),
    ("seed_accuracy", "Seed accuracy", "{:.4f}"),
    ("psnr_rgb", "PSNR RGB (dB)", "{:.2f}"),
    ("psnr_lab", "PSNR ab (dB)", "{:.2f}"),
    ("ssim", "SSIM", "{:.4f}"),
    ("auc", "AuC (%)", "{:.2f}"),
    ("auc_rebalanced", "Rebalanced AuC (%)", "{:.2f}"),
    ("cf", "CF", "{:.1f}"),
    ("delta_cf", "ΔCF", "{:.1f}"),
    ("hue_accuracy", "Hue accuracy", "{:.3f}"),
    ("hue_warm", "Warm", "{:.3f}"),
    ("hue_green", "Green", "{:.3f}"),
    ("hue_blue", "Blue", "{:.3f}"),
    ("images_per_s", "Images/s", "{:.1f}"),
]


def compare(
    runs: list[str],
    data: str | Path,
    out: str | Path,
    split: str = "test",
    limit: int | None = None,
    grid_rows: int = 6,
    whole: bool = False,
    unseen: set[str] | None = None,
    degrade: str | None = None,
) -> tuple[str, dict]:
    """Evaluate `runs` (plus grey) on a dataset split and write the report; returns the Markdown table and
    what results.json holds.
    whole: score the whole photos only (not their random crops). unseen: photo names (as in the dataset's
    manifest) whose rows also go to unseen.md. degrade: a `data.degrade.LEVELS` name: two more columns,
    rebalanced AuC and hue accuracy with every input damaged like an old print at that level."""

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = ["grey"] + [r for r in runs if r != "grey"]
    preds = {name: predict_split(name, data, split, limit, whole=whole) for name in names}  # one each
    ds = LabDataset(data, split)
    idx = (ds.whole_photos() if whole else np.arange(len(ds)))[: len(preds["grey"][0])]
    samples = [ds.samples[i] for i in idx]  # in the order of the predictions
    rows = [score_predictions(name, *preds[name]) for name in names]
    columns = list(COLUMNS)
    if degrade is not None:  # the same runs on damaged inputs: what an old print does to each
        for name, r in zip(names, rows, strict=True):
            damaged = score_predictions(
                name, *predict_split(name, data, split, limit, whole=whole, degrade=degrade)
            )
            r |= {f"{k}_degraded": damaged[k] for k in ("auc_rebalanced", "hue_accuracy")}
        columns[-1:-1] = [
            ("auc_rebalanced_degraded", f"Rebalanced AuC, {degrade} damage", "{:.2f}"),
            ("hue_accuracy_degraded", f"Hue accuracy, {degrade} damage", "{:.3f}"),
        ]
    for r in rows:
        r["model"] = _label(r["model"])
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[k for k, _, _ in columns])
        writer.writeheader()
        writer.writerows({k: r.get(k) for k, _, _ in columns} for r in rows)
    table = markdown_table(rows, columns)
    (out / "results.md").write_text(table + "\n")
    report = {"rows": rows}
    pick = np.array([s["source"] in (unseen or ()) for s in samples])
    if pick.any():
        report["unseen"] = [
            {"model": _label(name), "images": int(pick.sum())}
            | score_arrays(*(x[pick] for x in preds[name][:3]))
            | run_info(name)
            for name in names
        ]
        (out / "unseen.md").write_text(markdown_table(report["unseen"]) + "\n")
    report["by_kind"] = _by_kind(preds, [str(s.get("category", "")) for s in samples], out)
    (out / "results.json").write_text(json.dumps(report, indent=1))
    views = first_views(samples)  # with random crops, consecutive samples are views of one photo
    picks = views[np.linspace(0, len(views) - 1, min(grid_rows, len(views))).round().astype(int)]
    samples = {name: tuple(x[picks] for x in preds[name][:3]) for name in names}
    _save(_grid(samples), out / "grid.png")
    _save(_curves([r for r in runs if (Path(r) / "metrics.jsonl").exists()]), out / "curves.png")
    _save(_histograms(preds), out / "ab_histograms.png")
    return table, report


KIND_COLUMNS = [  # (key, header, format): the keys are the headers
    (k, k, f)
    for k, f in [
        ("model", "{}"),
        ("kind", "{}"),
        ("images", "{}"),
        ("auc_rebalanced", "{:.2f}"),
        ("delta_cf", "{:.1f}"),
        ("psnr_rgb", "{:.2f}"),
        ("ssim", "{:.4f}"),
        ("seed_accuracy", "{:.4f}"),
        ("hue_accuracy", "{:.3f}"),
        ("hue_warm", "{:.3f}"),
        ("hue_green", "{:.3f}"),
        ("hue_blue", "{:.3f}"),
    ]
]


def _label(model: str) -> str:
    return Path(model).name if model not in ("grey", "default") else model


def _by_kind(preds: dict, kinds: list[str], out: Path) -> list[dict]:
    """by_kind.md/.csv: each model's metrics on the samples of each category (`kinds`: each sample's),
    when there are several; returns the rows."""
    kinds = np.array(kinds)
    if len(set(kinds)) < 2:
        return []
    rows = []
    for name, (L, pred, true, _) in preds.items():
        for kind in sorted(set(kinds)):
            pick = kinds == kind
            rows.append({"model": _label(name), "kind": kind, "images": int(pick.sum())})
            rows[-1] |= score_arrays(L[pick], pred[pick], true[pick])
    with open(out / "by_kind.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[k for k, _, _ in KIND_COLUMNS])
        writer.writeheader()
        writer.writerows({k: r[k] for k, _, _ in KIND_COLUMNS} for r in rows)
    (out / "by_kind.md").write_text(markdown_table(rows, KIND_COLUMNS) + "\n")
    return rows


def markdown_table(rows: list[dict], columns: list[tuple[str, str, str]] = COLUMNS) -> str:
    def cell(key: str, fmt: str, value: object) -> str:
        if value is None:
            return "-"
        if key == "train_seconds":
            minutes = float(value) / 60
            return f"{minutes:.0f} min" if minutes >= 1 else f"{float(value):.0f} s"
        return fmt.format(value)

    lines = ["| " + " | ".join(h for _, h, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(k, f, r.get(k)) for k, _, f in columns) + " |" for r in rows]
    return "\n".join(lines)


def _grid(samples: dict[str, tuple]) -> plt.Figure:
    names = list(samples)
    L, _, true = samples[names[0]]  # (L, predicted ab, true ab) of the first rows
    n = len(L)
    cols = ["Input", *[x for x in names if x != "grey"], "Original"]
    fig, axes = plt.subplots(n, len(cols), figsize=(1.6 * len(cols), 1.6 * n), squeeze=False)
    for i in range(n):
        images = [np.repeat(lab_to_rgb(L[i], np.zeros_like(true[i].transpose(1, 2, 0)))[..., :1], 3, 2)]
        images += [lab_to_rgb(L[i], samples[x][1][i].transpose(1, 2, 0)) for x in names if x != "grey"]
        images.append(lab_to_rgb(L[i], true[i].transpose(1, 2, 0)))
        for j, img in enumerate(images):
            axes[i, j].imshow(img)
            axes[i, j].axis("off")
            if i == 0:
                axes[i, j].set_title(Path(cols[j]).name, fontsize=8)
    fig.tight_layout()
    return fig


def _curves(runs: list[str]) -> plt.Figure:
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(12, 3.8))
    colours = plt.cm.tab20(np.linspace(0, 1, max(len(runs), 2)))  # distinct for up to 20 runs
    for run, colour in zip(runs, colours, strict=False):
        records = [json.loads(x) for x in (Path(run) / "metrics.jsonl").read_text().splitlines() if x.strip()]
        epochs = [r["epoch"] for r in records]
        loss_ax.plot(epochs, [r["train_loss"] for r in records], ".-", color=colour)
        loss_ax.plot(epochs, [r["val_loss"] for r in records], ".--", color=colour)
        acc_ax.plot(
            epochs,
            [r.get("val_seed_accuracy", np.nan) for r in records],
            ".-",
            color=colour,
            label=Path(run).name,
        )
    loss_ax.set(
        xlabel="epoch", ylabel="loss", yscale="log", title="loss, each model's own (solid train, dashed val)"
    )
    acc_ax.set(xlabel="epoch", ylabel="seed accuracy", title="validation seed accuracy")
    if acc_ax.lines:
        acc_ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    return fig


def _histograms(preds: dict[str, tuple]) -> plt.Figure:
    names = [n for n in preds if n != "grey"]
    true = next(iter(preds.values()))[2]
    panels = [("ground truth", true)] + [(Path(n).name, preds[n][1]) for n in names]
    cols = min(len(panels), 6)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    edges = np.linspace(-110, 110, 89)
    for ax, (title, ab) in zip(axes.flat, panels, strict=False):
        a, b = (ab[:, c].ravel() * AB_SCALE for c in (0, 1))
        h, _, _ = np.histogram2d(b, a, bins=[edges, edges])
        ax.imshow(np.log1p(h), origin="lower", extent=(-110, 110, -110, 110), cmap="magma")
        ax.set(title=title, xlabel="a", ylabel="b")
    fig.tight_layout()
    return fig


def _save(fig: plt.Figure, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)
