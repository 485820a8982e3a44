"""The `polychromify` command: each sub-command parses its options and calls library code."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from pathlib import Path

from polychromify.errors import PolychromifyError, check_output_file
from polychromify.precision import PRECISIONS
from polychromify.runtime import keep_freed_memory, share_cores_with_codecs


def cmd_prepare(a: argparse.Namespace) -> int:
    from polychromify.data.prepare import PrepareConfig, parse_split, prepare

    cfg = PrepareConfig(
        size=a.size,
        resize=a.resize,
        crops_per_image=a.crops_per_image,
        split=parse_split(a.split),
        seed=a.seed,
        crop_seed=a.crop_seed,
        min_chroma=a.min_chroma,
        workers=a.workers,
        exclude=tuple(a.exclude),
    )
    m = prepare(a.src, a.out, cfg, overwrite=a.overwrite)
    if m.get("reused"):
        print(f"{a.out} is up to date (same photos and settings); nothing to do")
        return 0
    c, p = m["counts"], m["photos"]
    print(f"prepared {sum(c.values())} samples from {sum(p.values())} photos -> {a.out}")
    print("  " + ", ".join(f"{s}: {c[s]} samples / {p[s]} photos" for s in c))
    if m["skipped"]:
        print(f"  skipped {len(m['skipped'])} files (all listed in {Path(a.out) / 'manifest.json'}):")
        for s in m["skipped"][:10]:
            print(f"    {s['file']}: {s['reason']}")
        if len(m["skipped"]) > 10:
            print(f"    ... and {len(m['skipped']) - 10} more")
    return 0


def cmd_models(a: argparse.Namespace) -> int:
    from polychromify.models.registry import count_parameters, create_model, describe, list_models

    rows = []
    for name in list_models():
        m = create_model(name)
        rows.append(
            {
                "name": name,
                "parameters": count_parameters(m),
                "kind": m.kind,
                "hints": m.takes_hints,
                "description": describe(name),
            }
        )
    if a.json:
        _print_json(rows)
    else:
        for r in rows:
            print(
                f"{r['name']:<14} {r['parameters']:>12,}  {r['kind']:<14} "
                f"{'hints ' if r['hints'] else '      '}"
                f"{r['description']}"
            )
    return 0


def cmd_train(a: argparse.Namespace) -> int:
    from polychromify.train import TrainConfig, resume_config, train

    if a.resume:
        cfg = resume_config(a.resume, epochs=a.epochs, max_minutes=a.max_minutes, device=a.device)
    else:
        missing = [f"--{k}" for k in ("model", "data", "out") if getattr(a, k) is None]
        if missing:
            raise PolychromifyError(f"train needs {', '.join(missing)} (or --resume RUN)")
        cfg = TrainConfig(
            model=a.model,
            data=str(a.data),
            out=str(a.out),
            model_args=_parse_kv(a.model_arg),
            epochs=a.epochs or 25,
            batch_size=a.batch_size,
            lr=a.lr,
            max_minutes=a.max_minutes,
            device=a.device or "auto",
            precision=a.precision,
            compile=a.compile,
            seed=a.seed,
            flip=not a.no_flip,
            patience=a.patience,
            rebalance=a.rebalance_lambda,
            hint_p=a.hint_p,
            degrade=a.degrade,
            balance=a.balance,
            train_photos=a.train_photos,
            steps_per_epoch=a.steps_per_epoch,
            init=str(a.init) if a.init else None,
            teacher=str(a.teacher) if a.teacher else None,
            distill=a.distill,
            schedule=a.schedule,
            keep=a.keep,
            tensorboard=a.tensorboard,
        )
    run = train(cfg, resume=bool(a.resume), overwrite=a.overwrite)
    if int(os.environ.get("RANK", 0)) == 0:
        config = json.loads((run / "config.json").read_text())
        print(
            f"trained {config['arch']['name']} ({config['parameters']:,} parameters) for "
            f"{config['epochs_done']} epochs in {config['train_seconds']:.0f} s "
            f"(best epoch {config['best_epoch']}, val loss {config['best_val_loss']:.4f}, "
            f"stopped by {config['status']}) -> {run}"
        )
    return 0


def cmd_import_weights(a: argparse.Namespace) -> int:
    from polychromify.checkpoint import save_run
    from polychromify.models.zhang import import_zhang_weights

    if a.out.exists() and any(a.out.iterdir()):
        raise PolychromifyError(f"{a.out} already exists; choose another --out")
    model = import_zhang_weights(a.file, a.model)
    save_run(a.out, model, {"imported_from": str(a.file)})
    print(f"imported {a.model} weights from {a.file} -> {a.out}")
    return 0


def cmd_colorize(a: argparse.Namespace) -> int:
    from polychromify.inference import Colorizer
    from polychromify.photos import colorize_files, load_hints, plan

    jobs = plan(a.inputs, a.out, a.format)
    world, rank = int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0))
    jobs = jobs[rank::world]  # under torchrun each rank takes its share
    hints = load_hints(a.hint, a.hints)
    reference = _reference(a.reference, a.reference_strength)
    colorizer = Colorizer(a.model, _device(a.device), a.input_size, a.precision, a.runtime, mirror=a.mirror)
    _check_colour_inputs(colorizer, a.model, hints, reference)

    def report(line: str) -> None:
        print(f"polychromify: {line}", file=sys.stderr)

    done, skipped, failed = colorize_files(
        jobs, colorizer, hints, a.saturation, a.skip_existing, report=report, reference=reference
    )
    print(
        f"colorized {done} photo(s) -> {a.out}"
        + (f", {skipped} already done" if skipped else "")
        + (f", {failed} failed" if failed else "")
    )
    return 1 if failed else 0


def cmd_video(a: argparse.Namespace) -> int:
    share_cores_with_codecs()  # before torch loads
    from polychromify.inference import Colorizer
    from polychromify.photos import load_hints
    from polychromify.video import check_input, check_options, colorize_video

    check_options(a.smooth, a.saturation, a.every, a.preset)  # before the model loads
    check_input(a.input)
    if a.report:
        check_output_file(a.report)
    hints = load_hints(a.hint, None)
    reference = _reference(a.reference, a.reference_strength)
    colorizer = Colorizer(a.model, _device(a.device), a.input_size, a.precision, a.runtime, mirror=a.mirror)
    _check_colour_inputs(colorizer, a.model, hints, reference)
    try:
        report = colorize_video(
            a.input,
            a.out,
            colorizer,
            a.smooth,
            a.saturation,
            hints,
            a.codec,
            a.crf,
            a.batch_size,
            a.preset,
            a.overwrite,
            every=a.every,
            reference=reference,
            motion=a.motion,
            metrics=a.report is not None,
        )
    except KeyboardInterrupt:
        partial = a.out.with_name(f"{a.out.stem}.partial{a.out.suffix}")
        print(f"polychromify: interrupted; the frames done so far are in {partial}", file=sys.stderr)
        return 130
    if a.report:
        a.report.write_text(json.dumps(report, indent=1))
    print(
        f"colorized {report['frames']} frames at {report['frames_per_s']} frames/s -> {a.out} "
        f"(flicker {report['flicker']:.3f}, per-frame {report['flicker_unsmoothed']:.3f}, "
        f"{len(report['cuts'])} cuts)"
    )
    return 0


def cmd_serve(a: argparse.Namespace) -> int:
    import uvicorn

    from polychromify.precision import check_precision
    from polychromify.web.app import SETTINGS_ENV, Limits

    models = {"default": "default"}
    for item in a.model:
        models[Path(item).name if item != "default" else "default"] = str(item)
    limits = Limits(
        max_upload_bytes=a.max_upload_mb * 1024 * 1024,
        max_pixels=a.max_pixels,
        max_queue=a.max_queue,
        body_seconds=a.body_timeout,
    )
    if a.workers < 1 or a.max_queue < 0 or a.body_timeout <= 0:
        raise PolychromifyError("--workers must be 1 or more, --max-queue 0 or more, --body-timeout over 0")
    threads = max(1, (os.cpu_count() or 1) // a.workers) if a.workers > 1 else None  # cores shared out
    # each worker is a fresh process that builds the app from these (web.app.app_from_env)
    settings = {"models": models, "limits": vars(limits), "precision": check_precision(a.precision)}
    os.environ[SETTINGS_ENV] = json.dumps(settings | {"threads": threads})
    url = f"http://{a.host}:{a.port}{a.root_path}"
    print(f"serving on {url}  (models: {', '.join(models)}; workers: {a.workers})")
    uvicorn.run(
        "polychromify.web.app:app_from_env",
        factory=True,
        host=a.host,
        port=a.port,
        workers=a.workers,
        root_path=a.root_path,
        forwarded_allow_ips=a.forwarded_allow_ips,
        timeout_keep_alive=5,  # an idle kept-alive connection is closed after 5 s
        timeout_graceful_shutdown=10,  # on SIGTERM, requests still running get 10 s
        log_level="warning",
    )
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    from polychromify.export import export_model

    meta = export_model(a.model, a.out, a.overwrite)
    print(f"exported {a.model} (trained at {meta['trained_input_size'] or '?'} px) -> {a.out}")
    return 0


def cmd_compare(a: argparse.Namespace) -> int:
    from polychromify.report import compare

    table, _ = compare(a.runs, a.data, a.out, a.split, a.limit, degrade=a.degrade)
    print(table)
    print(f"report written to {a.out}")
    return 0


def cmd_sweep(a: argparse.Namespace) -> int:
    from polychromify.study import Budget, sweep

    print(
        sweep(
            a.data,
            a.out,
            Budget(epochs=a.epochs, max_minutes=a.max_minutes, steps_per_epoch=a.steps_per_epoch),
        )
    )
    return 0


def cmd_study(a: argparse.Namespace) -> int:
    from polychromify.study import Budget, study

    budget = None
    if a.epochs or a.max_minutes or a.steps_per_epoch:
        budget = Budget(epochs=a.epochs or 25, max_minutes=a.max_minutes, steps_per_epoch=a.steps_per_epoch)
    mode = "quick" if a.quick else a.budget
    out = study(a.photos, a.out, mode, budget, a.size, a.crops_per_image, a.encoder_weights, a.degrade)
    print(f"study written to {out / 'README.md'}")
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from polychromify.evaluate import evaluate_dataset, evaluate_images, plot_hint_sweep

    if (a.images is None) == (a.data is None):
        raise PolychromifyError("evaluate needs either --images FOLDER or --data DIR")
    names = ["grey"] + [r for r in a.runs if r != "grey"]  # the grey baseline always comes first
    counts = _hint_counts(a.hints) if a.hints else None
    if counts is not None and a.images is None:
        raise PolychromifyError("--hints needs --images FOLDER")
    if a.reference and (a.images is None or counts is not None):
        raise PolychromifyError("--reference needs --images FOLDER (and no --hints)")
    device = _device(a.device) if a.images is not None else None
    if a.per_photo is not None and a.images is None:
        raise PolychromifyError("--per-photo needs --images FOLDER")
    per_photo = a.per_photo is not None
    for path in ([a.per_photo] if per_photo else []) + ([a.plot] if counts is not None else []):
        check_output_file(path)  # before the work, not after it
    if a.saturation != 1.0 and a.images is None:
        raise PolychromifyError("--saturation needs --images FOLDER")
    if a.degrade and (a.images is None or counts is not None or a.reference):
        raise PolychromifyError("--degrade needs --images FOLDER (and no --hints or --reference)")
    opts = {"precision": a.precision, "mirror": a.mirror, "per_photo": per_photo, "saturation": a.saturation}
    if counts is not None:  # SIGGRAPH17's sweep: photos at 256 px, n hints drawn from the truth
        results = [evaluate_images("grey", a.images, device, max_side=256, per_photo=per_photo)]
        for run in names[1:]:
            for n in counts:
                sweep = {"max_side": 256, "hints": n, "seed": a.seed, "spread": a.spread}
                results.append(evaluate_images(run, a.images, device, **sweep, **opts))
        print(f"hint sweep plotted -> {plot_hint_sweep(results, a.plot)}", file=sys.stderr)
    elif a.images is not None:
        results = [evaluate_images(run, a.images, device, **opts) for run in names]
        if a.degrade:  # the same runs on damaged inputs, each with its change from the clean input
            for clean in list(results):
                damaged = evaluate_images(clean["model"], a.images, device, degrade=a.degrade, **opts)
                change = {k: v - clean[k] for k, v in damaged.items() if isinstance(v, float) and k in clean}
                results.append(damaged | {"change": change})
        results += [
            evaluate_images(
                run, a.images, device, reference=a.reference, strength=a.reference_strength, **opts
            )
            for run in (names[1:] if a.reference else [])
        ]
    else:
        results = [evaluate_dataset(run, a.data, a.split, a.limit, a.precision) for run in names]
    if per_photo:
        print(f"each photo's metrics -> {_write_per_photo(results, a.per_photo)}", file=sys.stderr)
    if a.json:
        for r in results:
            print(json.dumps(r))
        return 0
    keys = [
        "auc",
        "auc_rebalanced",
        "psnr_rgb",
        "delta_cf",
        "hue_accuracy",
        "hue_warm",
        "hue_green",
        "hue_blue",
        *(["speckle", "damage_speckle", "grey_coloured"] if a.degrade else []),
    ]
    print(f"{'model':<28}{'hints':>6}" + "".join(f"{k:>15}" for k in [*keys, "images_per_s"]))
    for r in results:
        cells = "".join(f"{r.get(k, 0.0):>15.3f}" for k in [*keys, "images_per_s"])  # clean: no damage
        name = r["model"] + (f" +ref {Path(r['reference']).name}" if "reference" in r else "")
        name += f" x{r['saturation']:g}" if "saturation" in r else ""
        name += f" ({r['degrade']})" if "degrade" in r else ""
        print(f"{name[-28:]:<28}{r.get('hints', 0):>6}" + cells)
    return 0


def _reference(path: Path | None, strength: float):
    from polychromify.reference import Reference

    return None if path is None else Reference.of(path, strength)


def _check_colour_inputs(colorizer, model: str, hints, reference) -> None:
    if hints and not colorizer.takes_hints:
        raise PolychromifyError(f"model {model} does not take colour hints")
    if reference is not None and not colorizer.takes_reference:
        raise PolychromifyError(
            f"model {model} cannot take colours from a reference photo: that needs a model over ab bins "
            "(the default, mnv2-unet, unet or eccv16) on the torch runtime"
        )


def _write_per_photo(results: list[dict], path: Path) -> Path:
    """One CSV row per model (and hint count, saturation or reference) and photo; takes "photos" out of
    `results`."""
    import csv

    rows = []
    for r in results:
        run = {k: r[k] for k in ("model", "hints", "mirror", "saturation", "reference", "degrade") if k in r}
        rows += [run | photo for photo in r.pop("photos")]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for row in rows for k in row)))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _saturation(text: str) -> float:
    """--saturation: a number >= 0, refused by the parser (before any model loads) otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be >= 0, not {text}")
    return value


def _add_degrade_level(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--degrade",
        choices=("mild", "medium", "strong"),  # data.degrade.LEVELS (not imported: it loads torch)
        help=f"old-print damage (blur, grain, fading, scratches, JPEG...) at this level: {what}",
    )


def _share(text: str) -> float:
    """--degrade, --distill: a share from 0 to 1, refused by the parser otherwise."""
    value = _saturation(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def _hint_counts(text: str) -> list[int]:
    try:
        counts = [int(x) for x in text.split(",")]
    except ValueError:
        counts = []
    if not counts or any(n < 0 for n in counts):
        raise PolychromifyError(f"--hints {text!r}: give counts such as 0,1,2,5,10,20")
    return counts


def _device(name: str) -> str:
    from polychromify.train import pick_device

    return str(pick_device(name))


def _parse_kv(items: list[str]) -> dict:
    """['neurons=high', 'width=0.5'] -> {'neurons': 'high', 'width': 0.5}; JSON values where possible."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise PolychromifyError(f"--model-arg expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="polychromify", description="Colorize black-and-white landscape photos and films."
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "prepare",
        help="photos (folder or zip) -> Lab training data",
        description="Turn a folder or zip of colour photos into the study's training data: "
        "square Lab samples, split 64/16/20 per photo.",
    )
    p.add_argument("src", type=Path, help="folder (searched recursively) or .zip of photos")
    p.add_argument("--out", "-o", type=Path, required=True, help="dataset folder to create")
    p.add_argument(
        "--size", type=int, default=128, help="side of the square samples (default: 128, the seed)"
    )
    p.add_argument(
        "--resize",
        choices=["stretch", "crop"],
        default="stretch",
        help="stretch: plain resize to a square, as the seed (default); crop: centre crop",
    )
    p.add_argument(
        "--crops-per-image",
        type=int,
        default=0,
        metavar="K",
        help="K extra random crops at random scales per photo, besides the whole photo (default: 0)",
    )
    p.add_argument(
        "--split", default="0.64,0.16,0.20", help="train,val,test fractions (default: 0.64,0.16,0.20)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the split and the crops (default: 0)")
    p.add_argument(
        "--crop-seed",
        type=int,
        help="seed of the random crops alone (default: --seed): other crops, the same split",
    )
    p.add_argument(
        "--min-chroma",
        type=float,
        default=2.0,
        help="skip photos whose mean CIELAB chroma is below this: grey photos (default: 2)",
    )
    p.add_argument("--workers", type=int, default=0, help="worker processes (default: 0 = all cores)")
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="leave out files whose name or relative path matches, repeatable",
    )
    p.add_argument("--overwrite", action="store_true", help="replace a previous dataset in --out")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser(
        "colorize",
        help="colorize photos (files, folders, globs) at full resolution",
        description="Colorize black-and-white photos. Colour inputs are converted to grey first. "
        "Results keep each input's relative path and name under OUT.",
    )
    p.add_argument("inputs", nargs="+", help="image files, folders (recursive) or glob patterns")
    p.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    _add_colour_options(p, mirror=True)
    p.add_argument(
        "--hints",
        type=Path,
        metavar="FILE.json",
        help='hints: [{"x":..,"y":..,"color":"#RRGGBB"}] or {"file name": [...]} ',
    )
    p.add_argument("--format", choices=["png", "jpg"], help="change the output extension (default: keep)")
    p.add_argument("--skip-existing", action="store_true", help="skip inputs whose output already exists")
    p.add_argument("--batch-size", type=int, default=4, help="same-size photos per forward pass (default: 4)")
    p.set_defaults(func=cmd_colorize)

    p = sub.add_parser(
        "evaluate",
        help="metrics of runs on a dataset split or on colour photos, with the grey baseline",
        description="With --images: grey each photo, colorize it at full resolution and compare with the "
        "original. With --data: predict a split of a prepared dataset. RUN is a run folder, 'default' (the "
        "shipped model) or 'grey'; the grey baseline is always reported first.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.add_argument("--images", type=Path, help="folder of colour photos (colorized at full resolution)")
    p.add_argument("--data", type=Path, help="dataset made by `polychromify prepare`")
    p.add_argument(
        "--split", default="test", choices=["train", "val", "test"], help="with --data (default: test)"
    )
    p.add_argument("--limit", type=int, help="with --data: at most this many samples")
    p.add_argument("--json", action="store_true", help="one JSON object per run")
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--hints",
        metavar="N,N,...",
        help="with --images: SIGGRAPH17's hint sweep, e.g. 0,1,2,5,10,20 hints per photo drawn from the "
        "truth (6x6 patches' mean colours around the centre, photos at 256 px); a row per model and count",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the --hints draw (default: 0)")
    p.add_argument(
        "--reference",
        metavar="own|other|PHOTO",
        help="with --images: each run again with colours from a reference: 'own' (each photo's own colours, "
        "SIGGRAPH17's global hints), 'other' (another photo's) or one colour photo for all",
    )
    p.add_argument("--reference-strength", type=float, default=0.75, help="with --reference (default: 0.75)")
    p.add_argument(
        "--no-spread",
        dest="spread",
        action="store_false",
        help="with --hints: the hint network alone, without spreading each hint over its region",
    )
    p.add_argument(
        "--no-mirror",
        dest="mirror",
        action="store_false",
        help="with --images: no mirror averaging (the network once per photo, as `video` runs it)",
    )
    p.add_argument(
        "--saturation",
        type=_saturation,
        default=1.0,
        help="with --images: the colours scaled as `colorize --saturation` scales them (default: 1)",
    )
    p.add_argument(
        "--plot", type=Path, default=Path("hints.png"), help="the sweep's plot (default: hints.png)"
    )
    p.add_argument(
        "--per-photo",
        type=Path,
        metavar="FILE.csv",
        help="with --images: each photo's metrics, a row per model and photo (grey's too), to this CSV file",
    )
    _add_degrade_level(
        p,
        "with --images: also score each photo so damaged (the same damage for the same file name), each "
        "metric with its change from the clean input",
    )
    _add_precision(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "compare",
        help="results table, picture grid, curves and ab histograms of several runs",
        description="Evaluate runs on a dataset split and write results.md/.csv, grid.png, curves.png and "
        "ab_histograms.png into REPORT (the grey baseline is always included).",
    )
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.add_argument("--data", type=Path, required=True, help="dataset made by `polychromify prepare`")
    p.add_argument("--out", "-o", type=Path, required=True, help="report folder")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--limit", type=int, help="at most this many samples")
    _add_degrade_level(p, "two more columns: rebalanced AuC and hue accuracy with every input damaged")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("sweep", help="re-run the seed's hyper-parameter table (rows v1..v5)")
    p.add_argument("--data", type=Path, required=True, help="dataset made by `polychromify prepare`")
    p.add_argument("--out", "-o", type=Path, required=True, help="sweep folder (resumable)")
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--max-minutes", type=float, help="training budget per row")
    p.add_argument("--steps-per-epoch", type=int)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser(
        "study", help="the whole study in one resumable command: prepare, train, compare, sweep"
    )
    p.add_argument("photos", type=Path, help="folder or zip of colour photos")
    p.add_argument("--out", "-o", type=Path, required=True, help="study folder (resumable)")
    p.add_argument(
        "--budget",
        choices=["quick", "standard", "full"],
        default="standard",
        help="quick: 30 s a row, about 15 minutes in all on 2 CPU cores; standard (default): 5 minutes a "
        "row, about 100 minutes; full: the seed's 25 epochs a row at the papers' widths (a GPU's work)",
    )
    p.add_argument("--quick", action="store_true", help="the same as --budget quick")
    p.add_argument(
        "--encoder-weights",
        type=Path,
        help="torchvision's ImageNet mobilenet_v2 .pth: adds the pretrained-encoder rows (see README)",
    )
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-minutes", type=float)
    p.add_argument("--steps-per-epoch", type=int)
    p.add_argument("--size", type=int, default=128, help="sample size (default: 128, the seed's)")
    p.add_argument(
        "--crops-per-image", type=int, help="random crops per photo (default: 4; 0 with --budget full)"
    )
    _add_degrade_level(p, "the final table's two more columns (as `compare --degrade`)")
    p.set_defaults(func=cmd_study)

    p = sub.add_parser(
        "video",
        help="colorize a film, without flicker, keeping frame rate and sound",
        description="Colorize a video with PyAV (FFmpeg's libraries). Colour sources are greyed first.",
    )
    p.add_argument("input", type=Path, help="video file (mp4, mkv, avi, mov, webm, ...)")
    p.add_argument("-o", "--out", type=Path, required=True, help="output video (.mp4: h264 by default)")
    _add_colour_options(p, mirror=False)
    p.add_argument(
        "--smooth",
        type=float,
        default=0.8,
        help="temporal stabilisation strength in [0,1): 0 = every frame alone (default: 0.8)",
    )
    p.add_argument(
        "--no-motion",
        dest="motion",
        action="store_false",
        help="smooth without optical flow (the method before 2026-12: colours trail behind what moves)",
    )
    p.add_argument("--codec", default="libx264", help="output video codec (default: libx264)")
    p.add_argument("--crf", type=int, default=18, help="x264/x265 quality, lower is better (default: 18)")
    p.add_argument(
        "--preset",
        default="superfast",
        help="x264/x265 speed: ultrafast (fastest) ... veryslow (smallest files); veryfast makes ~35%% "
        "smaller files than the default at ~25%% less speed (default: superfast)",
    )
    p.add_argument(
        "--every",
        type=int,
        default=2,
        metavar="N",
        help="run the network on every Nth frame and on each shot's first; the frames between blend the "
        "two around them (default: 2; 1 = every frame)",
    )
    p.add_argument("--batch-size", type=int, default=8, help="frames per forward pass (default: 8)")
    p.add_argument(
        "--report",
        type=Path,
        metavar="FILE.json",
        help="write frames/s and the flicker figures (flicker, warp error, CDC)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_video)

    p = sub.add_parser("serve", help="web page and JSON API on http://127.0.0.1:8000")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)"
    )
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="RUN",
        help="extra model (run folder) to offer besides 'default', repeatable",
    )
    p.add_argument("--max-upload-mb", type=int, default=25, help="largest upload (default: 25 MB)")
    p.add_argument(
        "--max-pixels", type=int, default=40_000_000, help="largest image (default: 40 megapixels)"
    )
    p.add_argument(
        "--max-queue",
        type=int,
        default=8,
        help="requests a worker holds, running or waiting; more get 503 + Retry-After (default: 8)",
    )
    p.add_argument(
        "--body-timeout",
        type=float,
        default=60,
        metavar="SECONDS",
        help="a request's body must arrive within this, else 408 (default: 60)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each with its own models, limits and share of the cores (default: 1)",
    )
    p.add_argument(
        "--root-path", default="", help="the path prefix a reverse proxy serves this under, e.g. /colorize"
    )
    p.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="proxies whose X-Forwarded-For/-Proto to trust, comma-separated or '*' "
        "(default: $FORWARDED_ALLOW_IPS or 127.0.0.1)",
    )
    _add_precision(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "export",
        help="write a model as a self-contained ONNX graph (L in [0,100] -> ab in CIELAB units)",
        description="Export 'default', a shipped model or a run folder to ONNX for onnxruntime: inputs L "
        "(N,1,H,W) in [0,100] and, for hint models, hints (N,3,H,W) = a, b in CIELAB units and a mask; "
        "output ab (N,2,H,W); N, H, W dynamic, H and W multiples of 16.",
    )
    p.add_argument("model", help="'default', a shipped model's name or a run folder")
    p.add_argument("--out", "-o", type=Path, required=True, metavar="FILE.onnx")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("models", help="list the registered models with their parameter counts")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser(
        "train",
        help="train a model on a prepared dataset into a run folder",
        description="Train a model on a `prepare` output. Under torchrun it runs "
        "DistributedDataParallel: torchrun --nproc_per_node=N -m polychromify train ...",
    )
    p.add_argument("--model", help="model name (see `polychromify models`)")
    p.add_argument("--data", type=Path, help="dataset folder made by `polychromify prepare`")
    p.add_argument("--out", "-o", type=Path, help="run folder to create")
    p.add_argument(
        "--model-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model argument, repeatable (e.g. --model-arg neurons=medium --model-arg width=0.25)",
    )
    p.add_argument("--epochs", type=int, help="epochs (default: 25, the seed's)")
    p.add_argument("--batch-size", type=int, default=32, help="batch size per process (default: 32)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: 1e-3)")
    p.add_argument("--max-minutes", type=float, help="wall-clock budget; training stops when it is spent")
    p.add_argument("--device", help="auto (default: cuda > mps > cpu), cpu, cuda, cuda:N, mps")
    _add_precision(p)
    p.add_argument(
        "--compile", action="store_true", help="torch.compile the model (slow start; see docs/performance.md)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-flip", action="store_true", help="no random horizontal flips")
    p.add_argument("--patience", type=int, default=5, help="early stopping patience in epochs (0 = off)")
    p.add_argument(
        "--balance",
        choices=["none", "categories", "clusters"],
        default="none",
        help="equalise categories (sub-folders) or k-means colour clusters when sampling",
    )
    p.add_argument(
        "--train-photos", type=int, help="train on this many of the training photos (drawn with --seed)"
    )
    p.add_argument(
        "--rebalance-lambda",
        type=float,
        default=0.5,
        help="class rebalancing of bin models: weights 1/((1-l)p + l/Q); 0.5 as ECCV16, 1 = off",
    )
    p.add_argument(
        "--hint-p",
        type=float,
        default=0.125,
        help="hint models: hints per sample are geometric with this p = P(no hint) (default: 1/8)",
    )
    p.add_argument(
        "--degrade",
        type=_share,
        default=0.0,
        metavar="P",
        help="this share of the training samples gets an old print's damage (blur, grain, fading, scratches, "
        "JPEG...) on the network's input, at a random severity; the target stays clean (default: 0)",
    )
    p.add_argument("--steps-per-epoch", type=int, help="cap on steps per epoch (default: one pass)")
    p.add_argument(
        "--init",
        type=Path,
        metavar="RUN",
        help="start from this run's weights (e.g. a hint partner from its model)",
    )
    p.add_argument(
        "--teacher",
        type=Path,
        metavar="RUN",
        help="bin models: also learn this frozen run's colours of the clean input (with --degrade: a damaged "
        "print is pulled towards the colours of its clean photo)",
    )
    p.add_argument(
        "--distill",
        type=_share,
        default=0.5,
        metavar="W",
        help="--teacher's share of the loss (a KL divergence over the ab bins); the truth's is 1 - W; "
        "1: the teacher alone (default: 0.5)",
    )
    p.add_argument(
        "--schedule",
        choices=["constant", "cosine"],
        default="constant",
        help="learning rate over the --epochs: constant (the seed's) or cosine decay to zero",
    )
    p.add_argument(
        "--keep",
        choices=["best", "last"],
        default="best",
        help="weights to keep: the best epoch by validation loss (default) or the last (after a schedule)",
    )
    p.add_argument(
        "--tensorboard",
        action="store_true",
        help="also write TensorBoard event files into RUN/tensorboard (needs polychromify[tensorboard])",
    )
    p.add_argument("--resume", type=Path, metavar="RUN", help="continue an interrupted run")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "import-weights", help="convert Zhang et al.'s released .pth weights into a run folder"
    )
    p.add_argument("file", type=Path, help="released state dict (.pth), loaded with weights_only=True")
    p.add_argument("--model", choices=["eccv16", "siggraph17"], required=True)
    p.add_argument("--out", "-o", type=Path, required=True, help="run folder to create")
    p.set_defaults(func=cmd_import_weights)
    return parser


def _add_colour_options(p: argparse.ArgumentParser, mirror: bool) -> None:
    """Options shared by colorize and video; `mirror`: the command's default for --mirror."""
    p.add_argument(
        "--model", default="default", help="'default' (shipped) or a run folder (default: default)"
    )
    p.add_argument(
        "--saturation", type=_saturation, default=1.0, help="scale the predicted colours (0 = grey)"
    )
    p.add_argument(
        "--hint",
        action="append",
        default=[],
        metavar="X,Y,#RRGGBB",
        help="colour hint at pixel (X,Y) of the original, repeatable",
    )
    p.add_argument(
        "--reference",
        type=Path,
        metavar="PHOTO",
        help="take the colours of this colour photo: the result gets its palette",
    )
    p.add_argument(
        "--reference-strength",
        type=float,
        default=0.75,
        metavar="S",
        help="with --reference: 0 = the model's own colours, 1 = the reference's palette in the reference's "
        "proportions (default: 0.75)",
    )
    p.add_argument("--device", default="auto", help="auto (default: cuda > mps > cpu), cpu, cuda, mps")
    p.add_argument("--input-size", type=int, default=256, help="longer side the network sees (default: 256)")
    p.add_argument(
        "--mirror",
        action=argparse.BooleanOptionalAction,
        default=mirror,
        help="average the colours of the photo and of its mirror image: better colours, twice the network's "
        f"time (default: {'on' if mirror else 'off'})",
    )
    _add_precision(p)
    p.add_argument(
        "--runtime",
        choices=["torch", "onnx"],
        default="torch",
        help="onnx: onnxruntime on the CPU, fp32 (pip install 'polychromify[onnx]'); --model may then be "
        "an exported .onnx file",
    )


def _add_precision(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="network arithmetic: auto (default) = bf16 where the device has native bf16 units and the "
        "model runs faster in it, else fp32; bf16 without native units is ~10x slower",
    )


def _version() -> str:
    from polychromify import __version__

    return f"polychromify {__version__}"


def _print_json(obj: object) -> None:
    print(json.dumps(obj, indent=1))


class _Stderr(logging.Handler):
    """The library's INFO lines (e.g. the precision chosen) as 'polychromify: ...' on the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"polychromify: {record.getMessage()}", file=sys.stderr)


def _say_on_stderr() -> None:
    log = logging.getLogger("polychromify")
    if not any(isinstance(h, _Stderr) for h in log.handlers):
        log.addHandler(_Stderr())
        log.setLevel(logging.INFO)
        log.propagate = False
    warnings.showwarning = lambda message, *_: print(f"polychromify: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit code 1; Ctrl-C exits 130; a reader that
    stops early (`... --json | head`) ends it quietly with 141, as for other command-line tools."""
    args = build_parser().parse_args(argv)
    keep_freed_memory()
    _say_on_stderr()
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush into it
        code = 141
    except PolychromifyError as exc:
        print(f"polychromify: error: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("polychromify: interrupted", file=sys.stderr)
        code = 130
    sys.exit(code)
