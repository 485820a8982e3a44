"""Evaluate colorizers on a prepared dataset split, or on real colour photos (each greyed, colorized at full
resolution and compared with the original). Every report carries the grey baseline (ab = 0) as its floor."""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from skimage.metrics import structural_similarity

from polychromify import metrics
from polychromify.checkpoint import model_folder, read_config, resolve_model
from polychromify.color import L_CENTER, L_RANGE, bin_prior, lab_to_rgb, rgb_to_lab, to_grey
from polychromify.config import EvaluateJob
from polychromify.data.dataset import LabDataset
from polychromify.data.degrade import LEVELS, degrade_batch, photo_rng
from polychromify.data.degrade import degrade as old_print_damage
from polychromify.data.images import EXTENSIONS, ImageError, open_image
from polychromify.errors import PolychromifyError, check_output_file
from polychromify.inference import Colorizer, Hint, to_rgb_array
from polychromify.precision import autocast, pick_device, resolve
from polychromify.reference import STRENGTH, Reference


def list_images(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise PolychromifyError(f"no such folder: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)
    if not files:
        raise PolychromifyError(f"no images in {folder}")
    return files


def image_metrics(
    pred_rgb: np.ndarray,
    true_rgb: np.ndarray,
    counts: torch.Tensor | None = None,
    truth: Truth | None = None,
) -> dict[str, Any]:
    """All per-image metrics of one colorized photo against its original (both (H,W,3) uint8), plus the
    hue accuracy's counts under "hue_counts". `counts`: ground-truth ab-bin counts of the whole evaluation
    set, for the rebalanced AuC; `truth`: the original's `Truth`, when several models are scored on it."""
    truth = truth or Truth.of(true_rgb, counts)
    p, t = _ab(pred_rgb), truth.ab
    cf_p = metrics.colourfulness(pred_rgb)
    return {
        "ssim": float(structural_similarity(pred_rgb, true_rgb, channel_axis=2, data_range=255)),
        "auc": metrics.auc(p, t),
        "auc_rebalanced": metrics.auc(p, t, truth.weights),
        "psnr_rgb": metrics.psnr(pred_rgb, true_rgb),
        "mse_ab": metrics.mse_ab(p, t),
        "seed_accuracy": metrics.seed_accuracy(p, t),
        "cf": cf_p,
        "cf_true": truth.cf,
        "delta_cf": abs(cf_p - truth.cf),
        "speckle": metrics.speckle(p),
        "hue_counts": metrics.hue_counts(p, t),
        "neutral_counts": metrics.neutral_counts(p, t),
    }


@dataclass
class Truth:
    """What the metrics need of an original photo, computed once: ab (1,2,H,W), rebalancing weights, CF."""

    ab: torch.Tensor
    weights: torch.Tensor
    cf: float

    @classmethod
    def of(cls, rgb: np.ndarray, counts: torch.Tensor | None = None, ab: torch.Tensor | None = None) -> Truth:
        """`ab`: the photo's ab when the caller already has it (the conversion is the costly part)."""
        ab = _ab(rgb) if ab is None else ab
        return cls(ab, metrics.rebalancing_weights(ab, counts), metrics.colourfulness(rgb))


def mean_metrics(rows: list[dict]) -> dict[str, float]:
    """Mean of each per-image metric, and the hue accuracy over all the images' pixels."""
    # every key some row has (not all rows have all); counts are summed below, not averaged
    keys = dict.fromkeys(k for r in rows for k in r if not k.endswith("_counts"))
    means = {k: float(np.mean([r[k] for r in rows if k in r])) for k in keys}
    coloured, neutral = (sum(r["neutral_counts"][i] for r in rows) for i in (0, 1))
    grey = {"grey_coloured": coloured / neutral if neutral else float("nan")}
    return means | metrics.hue_accuracy([r["hue_counts"] for r in rows]) | grey


def _palette_distances(pred: np.ndarray, truth: Truth, ref: Reference, bins: torch.Tensor) -> dict:
    """Total variation distances of the result's ab histogram (over `bins`) to the reference's and to its
    truth's, and whether it is nearer the reference's."""
    out, own = (bin_prior(ab, bins) for ab in (_ab(pred), truth.ab))
    wanted = ref.histogram(bins).numpy()  # computed once, when the colorizer used it
    to_ref, to_own = 0.5 * np.abs(out - wanted).sum(), 0.5 * np.abs(out - own).sum()
    return {
        "reference_tv": float(to_ref),
        "own_tv": float(to_own),
        "nearer_reference": float(to_ref < to_own),
    }


def _ab(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb_to_lab(rgb)[1]).permute(2, 0, 1)[None]  # (1,2,H,W)


@functools.lru_cache(maxsize=2)
def _originals(files: tuple[Path, ...], max_side: int) -> tuple[list[np.ndarray], list[Truth]]:
    """The photos, reduced, and their `Truth`s: shared by every model scored in one process."""
    images = []
    for path in files:
        im = open_image(path)
        im.thumbnail((max_side, max_side))
        images.append(np.asarray(im))
    abs_ = [_ab(t) for t in images]
    counts = sum(metrics.bin_counts(ab) for ab in abs_)  # the set's colour distribution
    truths = [Truth.of(t, counts, ab) for t, ab in zip(images, abs_, strict=True)]
    return images, truths


def evaluate_images(
    model: str | Path,
    folder: str | Path,
    device: str = "cpu",
    max_side: int = 640,
    precision: str = "auto",
    hints: int = 0,
    seed: int = 0,
    spread: bool = True,
    reference: str | Path | None = None,
    strength: float = STRENGTH,
    mirror: bool = True,
    per_photo: bool = False,
    saturation: float = 1.0,
    degrade: str | None = None,
    damage: Callable[[np.ndarray, np.random.Generator, float], np.ndarray] = old_print_damage,
    grey: str | Path | None = None,
    mix: tuple[float, float, float] | None = None,
) -> dict:
    """Mean metrics of `model` ('grey', 'default' or a run folder) over the colour photos in `folder`.
    Photos larger than `max_side` are reduced first so the numbers do not depend on camera size. `hints`:
    that many colour hints per photo drawn from the truth (`truth_hints`, seeded by `seed` and the photo's
    place), given as `--hint` gives them. spread=False: the hint network alone (no `spread_hints`).
    reference: "own" (each photo's own colours, SIGGRAPH17's global-hint protocol: how far a palette
    steers), "other" (another photo's: how far a foreign palette is taken) or a colour photo whose colours
    every photo takes, at `strength` (see `Reference`); rows then also carry `_palette_distances`.
    mirror: the Colorizer's mirror averaging (on, as `colorize` runs; off, as `video` runs). per_photo: the
    result also lists each photo's own metrics under "photos". saturation: the colours scaled by it, as
    `colorize --saturation` does (grey stays grey). degrade: "mild", "medium" or "strong": each photo's grey
    is damaged like an old print (`damage`: `data.degrade`, or another chain taking the grey, a generator
    and a severity; the same damage for the same file name) before it is colorized; the result, with the
    damaged lightness, is scored against the clean original, and "damage_speckle" is the `metrics.speckle`
    of the network's ab (its grid, before composing) for the damaged input minus its ab for the clean
    input: colour that follows grain, scratches and dust rather than the scene. (Measured on the composed
    result instead, about 1 CIELAB unit comes from composing a grainy lightness alone, whatever the colours:
    8-bit rounding in dark pixels.)
    grey: a folder holding each photo's grey version under the same relative name and size (a real old
    print and its colour truth): that grey is colorized and scored against the colour photo (and the grey
    baseline is that grey itself); photos without one are left out, one line each on stderr. mix: the grey
    made from the photo's own channels with these weights of red, green and blue light (`color.to_grey`),
    another film's tonal response, instead of its CIELAB lightness."""
    files = tuple(list_images(folder))
    if grey is not None and mix is not None:
        raise PolychromifyError("give either a grey folder (pairs) or a channel mix, not both")
    partners = None
    if grey is not None:
        files, partners = _partners(files, Path(folder), Path(grey), max_side)
    colorizer = (
        None
        if str(model) == "grey"
        else Colorizer(model, device, precision=precision, spread=spread, mirror=mirror)
    )
    if hints and colorizer is not None and not colorizer.takes_hints:
        raise PolychromifyError(f"model {model} does not take colour hints")
    fixed = Reference.of(reference, strength) if reference not in (None, "own", "other") else None
    images, truths = _originals(files, max_side)
    rows, seconds = [], 0.0
    for i, (true, truth) in enumerate(zip(images, truths, strict=True)):
        if partners is not None:
            grey_in = partners[i]
            if grey_in.shape != true.shape[:2]:  # EXIF turns the partner otherwise than its colour photo
                grey_in = np.asarray(
                    Image.fromarray(grey_in).resize(true.shape[1::-1], Image.Resampling.BICUBIC)
                )
        else:
            grey_in = to_grey(true) if mix is None else to_grey(true, mix)
        given = truth_hints(true, hints, np.random.default_rng([seed, hints, i])) if hints else []
        palette = fixed
        if reference in ("own", "other"):  # "other": the colours of the photo a third of the set further on
            source = images[(i + len(images) // 3) % len(images)] if reference == "other" else true
            palette = Reference.of(source, strength) if metrics.colourfulness(source) > 0 else None
        damaged = None
        if degrade is not None:
            damaged = damage(grey_in, photo_rng(files[i].name), LEVELS[degrade])
        row, took = _photo_row(colorizer, grey_in, truth, given, palette, damaged, saturation, true)
        rows.append(row)
        seconds += took
    return {
        "model": str(model),
        "images": len(files),
        "hints": hints,
        "mirror": mirror and colorizer is not None,
        **({"degrade": degrade} if degrade is not None else {}),
        **({"pairs": str(grey)} if grey is not None else {}),
        **({"mix": list(mix)} if mix is not None else {}),
        **({"saturation": saturation} if colorizer is not None and saturation != 1.0 else {}),
        **({"reference": str(reference), "reference_strength": strength} if reference is not None else {}),
        **mean_metrics(rows),
        "images_per_s": len(files) / max(seconds, 1e-9),
        **(
            {"photos": [{"photo": f.name} | _scalars(r) for f, r in zip(files, rows, strict=True)]}
            if per_photo
            else {}
        ),
    }


def _photo_row(
    colorizer: Colorizer | None,
    source: np.ndarray,
    truth: Truth,
    given: list,
    palette: Reference | None,
    damaged: np.ndarray | None,
    saturation: float,
    true: np.ndarray,
) -> tuple[dict, float]:
    """One photo's metrics for `evaluate_images`, and the seconds its colorizing took. colorizer None: the
    grey baseline; source: the grey (H,W) uint8 it is given; given: the photo's hints; palette: the colours
    it takes (or None); damaged: the grey as --degrade damages it (None: not damaged), which is then
    colorized in its place, and the row gains "damage_speckle"; true: the colour photo it is scored
    against."""
    grey = source if damaged is None else damaged
    t0 = time.perf_counter()
    if colorizer is None:
        L, ab = rgb_to_lab(to_rgb_array(grey))
        pred = lab_to_rgb(L, np.zeros_like(ab))
    else:  # colorize_array's two steps, so that the network's colours are at hand for damage_speckle
        ab = colorizer.predict_small([grey], [given], reference=palette)[0]
        pred = colorizer.compose(grey, ab[0], saturation)
    seconds = time.perf_counter() - t0
    row = image_metrics(pred, true, truth=truth)
    if damaged is not None:  # colour that follows the damage: the network's colours, damaged - clean
        row["damage_speckle"] = 0.0
        if colorizer is not None:
            clean = colorizer.predict_small([source], [given], reference=palette)[0]
            row["damage_speckle"] = metrics.speckle(ab - clean)
    # how near the result's colours are to the reference's, and to its own
    if palette is not None and colorizer is not None:
        row |= _palette_distances(pred, truth, palette, colorizer.model.bins)
    return row, seconds


@functools.lru_cache(maxsize=2)  # each model of one evaluation takes the same pairs: read and said once
def _partners(
    files: tuple[Path, ...], colour: Path, grey: Path, max_side: int
) -> tuple[tuple[Path, ...], list[np.ndarray]]:
    """The colour photos that have a readable grey partner of their size under `grey` (same relative name),
    and those partners' grey levels (H,W) uint8, reduced as `_originals` reduces their colour photos; each
    photo without one is one line on stderr."""
    if not grey.is_dir():
        raise PolychromifyError(f"no such folder: {grey}")
    kept, greys = [], []
    for path in files:
        partner = grey / path.relative_to(colour)
        try:
            with Image.open(partner) as g, Image.open(path) as c:  # as stored, before EXIF rotation
                if g.size != c.size:
                    raise ImageError(f"is {g.size[0]}x{g.size[1]}, the colour photo {c.size[0]}x{c.size[1]}")
            im = open_image(partner)
        except (OSError, ImageError) as exc:
            reason = "missing" if isinstance(exc, FileNotFoundError) else str(exc).splitlines()[0][:120]
            print(
                f"skipped {path.relative_to(colour)}: its grey partner {partner}: {reason}", file=sys.stderr
            )
            continue
        im.thumbnail((max_side, max_side))
        kept.append(path)
        greys.append(to_grey(np.asarray(im)))
    if not kept:
        raise PolychromifyError(f"no photo in {colour} has a grey partner of its size in {grey}")
    return tuple(kept), greys


def _scalars(row: dict) -> dict:
    """A photo's metrics without the count pairs, plus its hue hits and strongly coloured pixels (all, and
    per hue family): hits / pixels is the photo's own hue accuracy; summed over photos, the set's."""
    out = {k: v for k, v in row.items() if not k.endswith("_counts")}
    for family, (hits, pixels) in row.get("hue_counts", {}).items():
        key = "hue" if family == "all" else f"hue_{family}"
        out |= {f"{key}_hits": hits, f"{key}_pixels": pixels}
    return out


# SIGGRAPH17's official sweep (richzhang/colorization-pytorch, resources/psnrs_siggraph.npy): PSNR (dB) of
# the RGB result against the number of hints, 1000 ImageNet validation photos at 256x256.
SIGGRAPH17_PSNR = {0: 24.43, 1: 25.37, 2: 26.20, 5: 27.39, 10: 28.42, 20: 29.34, 50: 30.42, 100: 31.13}
HINT_PATCH = 6


def truth_hints(rgb: np.ndarray, n: int, rng: np.random.Generator, patch: int = HINT_PATCH) -> list:
    """SIGGRAPH17's hint protocol: n patches of patch x patch pixels whose top-left corners are drawn from a
    normal around the centre (mean (size - patch + 1)/2, standard deviation (size - patch + 1)/4 per axis,
    clipped into the photo), each hint the patch's mean colour. Returned as `Hint`s at the patches'
    centres, the colour the hex sRGB of the patch's mean L and ab, as `--hint X,Y,#RRGGBB` gives them."""
    h, w = rgb.shape[:2]
    L, ab = rgb_to_lab(rgb)
    out = []
    for _ in range(n):
        y = int(np.clip(rng.normal((h - patch + 1) / 2, (h - patch + 1) / 4), 0, max(0, h - patch)))
        x = int(np.clip(rng.normal((w - patch + 1) / 2, (w - patch + 1) / 4), 0, max(0, w - patch)))
        cell = (slice(y, y + patch), slice(x, x + patch))
        mean = lab_to_rgb(np.array([[L[cell].mean()]]), ab[cell].reshape(-1, 2).mean(0)[None, None])
        colour = "#" + "".join(f"{v:02x}" for v in mean[0, 0])
        out.append(Hint(min(x + patch / 2, w - 1), min(y + patch / 2, h - 1), colour))
    return out


def plot_hint_sweep(rows: list[dict], path: str | Path) -> Path:
    """PSNR against the number of hints for each model, with SIGGRAPH17's own sweep beside it."""
    import matplotlib  # only for this plot: it takes a second to load

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ref = sorted(SIGGRAPH17_PSNR.items())
    ax.plot(
        [k for k, _ in ref], [v for _, v in ref], "k--o", ms=3, label="SIGGRAPH17 (its own sweep, ImageNet)"
    )
    for name in dict.fromkeys(r["model"] for r in rows):
        mine = sorted((r["hints"], r["psnr_rgb"]) for r in rows if r["model"] == name)
        style = "-s" if len(mine) > 1 else "s"
        ax.plot([k for k, _ in mine], [v for _, v in mine], style, label=f"{Path(name).name} (these photos)")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("hints per photo (6x6 patches of the truth's mean colour)")
    ax.set_ylabel("PSNR of the RGB result (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def run_info(model: str | Path) -> dict:
    """Parameter count and training time of a run folder or shipped model (empty for 'grey')."""
    if str(model) == "grey":
        return {"parameters": 0, "train_seconds": 0.0}
    config = read_config(model_folder(model))
    return {"parameters": config.get("parameters"), "train_seconds": config.get("train_seconds")}


@torch.no_grad()
def predict_split(
    model: str | Path,
    data: str | Path,
    split: str = "test",
    limit: int | None = None,
    batch_size: int = 32,
    precision: str = "auto",
    whole: bool = False,
    degrade: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(L (N,H,W) in [0,100], predicted ab (N,2,H,W), true ab (N,2,H,W), seconds of prediction) of the
    first `limit` samples, or with `whole` of the whole photos only (no random crops). degrade: a LEVELS
    name: every input damaged like an old print at that level (seeded by the batch: the same steps at
    every level, stronger), and the damaged L returned."""
    ds = LabDataset(data, split)
    idx = ds.whole_photos() if whole else np.arange(len(ds))
    idx = idx[:limit] if limit else idx
    n = len(idx)
    if n == 0:
        raise PolychromifyError(f"split {split!r} of {data} is empty")
    net = None if str(model) == "grey" else resolve_model(model)
    arithmetic = "fp32" if net is None else resolve(precision, torch.device("cpu"), net).precision
    Ls, preds, trues, seconds = [], [], [], 0.0
    for start in range(0, n, batch_size):
        L, ab = ds.batch(idx[start : start + batch_size])
        if degrade is not None:
            rng = photo_rng(f"{start}")
            L = degrade_batch(L, rng, 1.0, LEVELS[degrade])
        t0 = time.perf_counter()
        with autocast("cpu", arithmetic):
            pred = torch.zeros_like(ab) if net is None else net.predict_ab(L).float()
        seconds += time.perf_counter() - t0
        Ls.append(L[:, 0].numpy() * L_RANGE + L_CENTER)
        preds.append(pred.numpy())
        trues.append(ab.numpy())
    return np.concatenate(Ls), np.concatenate(preds), np.concatenate(trues), seconds


def evaluate_dataset(
    model: str | Path,
    data: str | Path,
    split: str = "test",
    limit: int | None = None,
    precision: str = "auto",
    whole: bool = False,
) -> dict:
    """Mean metrics of `model` ('grey', 'default' or a run folder) on a split of a prepared dataset
    (`whole`: its whole photos only, not their random crops)."""
    return score_predictions(
        model, *predict_split(model, data, split, limit, precision=precision, whole=whole)
    )


def score_predictions(
    model: str | Path, L: np.ndarray, pred: np.ndarray, true: np.ndarray, seconds: float
) -> dict:
    """Mean metrics of the output of `predict_split` (so one prediction can serve several reports)."""
    return {
        "model": str(model),
        "images": len(L),
        **score_arrays(L, pred, true),
        **run_info(model),
        "images_per_s": len(L) / max(seconds, 1e-9),
    }


def score_arrays(L: np.ndarray, pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Mean metrics of predicted against true ab (N,2,H,W) in [-1,1] with their L (N,H,W) in [0,100]."""
    counts = metrics.bin_counts(torch.from_numpy(true))
    rows = []
    for i in range(len(L)):
        p_rgb = lab_to_rgb(L[i], pred[i].transpose(1, 2, 0))
        t_rgb = lab_to_rgb(L[i], true[i].transpose(1, 2, 0))
        row = image_metrics(p_rgb, t_rgb, counts)
        row["seed_accuracy"] = metrics.seed_accuracy(
            torch.from_numpy(pred[i : i + 1]), torch.from_numpy(true[i : i + 1])
        )
        row["mse_ab"] = metrics.mse_ab(torch.from_numpy(pred[i : i + 1]), torch.from_numpy(true[i : i + 1]))
        row["psnr_lab"] = metrics.psnr(pred[i], true[i], peak=2.0)
        rows.append(row)
    return mean_metrics(rows)


# ------------------------------------------------------------------------------ `polychromify evaluate`


def evaluate_job(job: EvaluateJob) -> int:
    """`polychromify evaluate`: the runs' metrics, grey's first, as a table or JSON lines on stdout."""
    if job.pairs is not None:
        if job.images is not None or job.data is not None:
            raise PolychromifyError("--pairs GREY COLOUR takes the place of --images and --data")
        job = dataclasses.replace(job, images=job.pairs[1])
    device = _check_job(job)
    names = ["grey"] + [r for r in job.runs if r != "grey"]  # the grey baseline always comes first
    if job.hints is not None:
        results = _hint_sweep(job, names, device)
    elif job.images is not None:
        results = _on_photos(job, names, device)
    else:
        results = [evaluate_dataset(run, job.data, job.split, job.limit, job.precision) for run in names]
    if job.per_photo is not None:
        print(f"each photo's metrics -> {_write_per_photo(results, job.per_photo)}", file=sys.stderr)
    print("\n".join(json.dumps(r) for r in results) if job.json else results_table(results, job.degrade))
    return 0


def _check_job(job: EvaluateJob) -> str | None:
    """One clear error for options that do not go together, before any work; the device for --images."""
    photos = job.images is not None
    if photos == (job.data is not None):
        raise PolychromifyError("evaluate needs either --images FOLDER or --data DIR")
    if job.hints is not None and not photos:
        raise PolychromifyError("--hints needs --images FOLDER")
    if job.reference and (not photos or job.hints is not None):
        raise PolychromifyError("--reference needs --images FOLDER (and no --hints)")
    device = str(pick_device(job.device)) if photos else None
    if job.per_photo is not None and not photos:
        raise PolychromifyError("--per-photo needs --images FOLDER")
    for path in ([job.per_photo] if job.per_photo else []) + ([job.plot] if job.hints is not None else []):
        check_output_file(path)  # before the work, not after it
    if job.saturation != 1.0 and not photos:
        raise PolychromifyError("--saturation needs --images FOLDER")
    if job.mix is not None and (not photos or job.pairs is not None):
        raise PolychromifyError("--mix needs --images FOLDER (the grey is made from its colours)")
    if job.degrade and (not photos or job.hints is not None or job.reference):
        raise PolychromifyError("--degrade needs --images FOLDER (and no --hints or --reference)")
    return device


def _options(job: EvaluateJob) -> dict[str, Any]:
    per_photo = job.per_photo is not None
    return {
        "precision": job.precision,
        "mirror": job.mirror,
        "per_photo": per_photo,
        "saturation": job.saturation,
        "grey": job.pairs[0] if job.pairs is not None else None,
        "mix": job.mix,
    }


def _hint_sweep(job: EvaluateJob, names: list[str], device: str | None) -> list[dict]:
    """SIGGRAPH17's sweep: photos at 256 px, n hints drawn from the truth; plotted to `job.plot`."""
    opts = _options(job)
    floor = {k: opts[k] for k in ("per_photo", "grey", "mix")}
    results = [evaluate_images("grey", job.images, device, max_side=256, **floor)]
    for run in names[1:]:
        for n in job.hints:
            sweep = {"max_side": 256, "hints": n, "seed": job.seed, "spread": job.spread}
            results.append(evaluate_images(run, job.images, device, **sweep, **opts))
    print(f"hint sweep plotted -> {plot_hint_sweep(results, job.plot)}", file=sys.stderr)
    return results


def _on_photos(job: EvaluateJob, names: list[str], device: str | None) -> list[dict]:
    """Each run on the photos; with --degrade again on damaged ones, each metric with its change from the
    clean input; with --reference again with the reference's colours."""
    opts = _options(job)
    results = [evaluate_images(run, job.images, device, **opts) for run in names]
    if job.degrade:
        for clean in list(results):
            damaged = evaluate_images(clean["model"], job.images, device, degrade=job.degrade, **opts)
            change = {k: v - clean[k] for k, v in damaged.items() if isinstance(v, float) and k in clean}
            results.append(damaged | {"change": change})
    for run in names[1:] if job.reference else []:
        ref = {"reference": job.reference, "strength": job.reference_strength}
        results.append(evaluate_images(run, job.images, device, **ref, **opts))
    return results


def results_table(results: list[dict], degrade: str | None = None) -> str:
    """A row per result: the main metrics (with --degrade, the speckle and near-grey ones too)."""
    keys = [
        "auc",
        "auc_rebalanced",
        "psnr_rgb",
        "delta_cf",
        "hue_accuracy",
        "hue_warm",
        "hue_green",
        "hue_blue",
    ]
    keys += ["speckle", "damage_speckle", "grey_coloured"] if degrade else []
    keys += ["grey_coloured"] if not degrade and any("pairs" in r or "mix" in r for r in results) else []
    lines = [f"{'model':<28}{'hints':>6}" + "".join(f"{k:>15}" for k in [*keys, "images_per_s"])]
    for r in results:
        cells = "".join(f"{r.get(k, 0.0):>15.3f}" for k in [*keys, "images_per_s"])  # clean: no damage
        name = r["model"] + (f" +ref {Path(r['reference']).name}" if "reference" in r else "")
        name += f" x{r['saturation']:g}" if "saturation" in r else ""
        name += f" ({r['degrade']})" if "degrade" in r else ""
        name += " mix " + ",".join(f"{w:.2g}" for w in r["mix"]) if "mix" in r else ""
        lines.append(f"{name[-28:]:<28}{r.get('hints', 0):>6}" + cells)
    return "\n".join(lines)


def _write_per_photo(results: list[dict], path: Path) -> Path:
    """One CSV row per model (and hint count, saturation or reference) and photo; takes "photos" out of
    `results`."""
    rows = []
    for r in results:
        run = {k: r[k] for k in ("model", "hints", "mirror", "saturation", "reference", "degrade") if k in r}
        rows += [run | photo for photo in r.pop("photos")]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for row in rows for k in row)))
        writer.writeheader()
        writer.writerows(rows)
    return path
