"""The `polychromify` command: a table of commands, each a config (config.py, whose fields are its options)
and a few lines calling library code. The library is imported inside the commands, so that `--help` and a
mistyped option answer at once, without loading torch."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any

from polychromify import config as c
from polychromify.arguments import add_options, read_options
from polychromify.errors import PolychromifyError
from polychromify.runtime import keep_freed_memory, set_thread_budget, share_cores_with_codecs
from polychromify.version import __version__


def prepare(job: c.PrepareJob) -> int:
    from polychromify.data.prepare import prepare, summary

    print(summary(prepare(job.src, job.out, job.settings, overwrite=job.overwrite), job.out))
    return 0


def colorize(job: c.ColorizeJob) -> int:
    from polychromify.photos import colorize_job

    return colorize_job(job)


def evaluate(job: c.EvaluateJob) -> int:
    from polychromify.evaluate import evaluate_job

    return evaluate_job(job)


def compare(job: c.CompareJob) -> int:
    from polychromify.report import compare

    table, _ = compare(job.runs, job.data, job.out, job.split, job.limit, degrade=job.degrade)
    print(f"{table}\nreport written to {job.out}")
    return 0


def sweep(job: c.SweepJob) -> int:
    from polychromify.study import Budget, sweep

    print(sweep(job.data, job.out, Budget(job.epochs, job.max_minutes, steps_per_epoch=job.steps_per_epoch)))
    return 0


def study(job: c.StudyJob) -> int:
    from polychromify.study import study_job

    print(f"study written to {study_job(job) / 'README.md'}")
    return 0


def video(job: c.VideoJob) -> int:
    share_cores_with_codecs()  # before torch loads
    from polychromify.video import video_job

    return video_job(job)


def serve(job: c.ServeJob) -> int:
    from polychromify.web.serve import serve

    serve(job)
    return 0


def export(job: c.ExportJob) -> int:
    from polychromify.export import export_model

    meta = export_model(job.model, job.out, job.overwrite)
    print(f"exported {job.model} (trained at {meta['trained_input_size'] or '?'} px) -> {job.out}")
    return 0


def models(job: c.ModelsJob) -> int:
    from polychromify.models import model_table, table_lines

    print(json.dumps(model_table(), indent=1) if job.json else "\n".join(table_lines(model_table())))
    return 0


def train(job: c.TrainJob) -> int:
    from polychromify.train import summary, train_job

    run = train_job(job)
    if int(os.environ.get("RANK", 0)) == 0:
        print(summary(run))
    return 0


def import_weights(job: c.ImportWeightsJob) -> int:
    from polychromify.checkpoint import save_run
    from polychromify.models.zhang import import_zhang_weights

    if job.out.exists() and any(job.out.iterdir()):
        raise PolychromifyError(f"{job.out} already exists; choose another --out")
    save_run(job.out, import_zhang_weights(job.file, job.model), {"imported_from": str(job.file)})
    print(f"imported {job.model} weights from {job.file} -> {job.out}")
    return 0


@dataclass(frozen=True)
class Command:
    name: str
    job: type  # its config: the options
    run: Callable[[Any], int]  # config -> exit code
    help: str
    description: str | None = None
    _: KW_ONLY
    guide: str  # the page (in the source tree) that explains it, named at the end of its --help


GUIDE = "README.md"  # the top level's guide: where to start


class _Formatter(argparse.HelpFormatter):
    """argparse's help, with the line breaks of a description or an epilog kept (each line wrapped alone)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        fill = super()._fill_text
        return "\n".join(fill(line, width, indent) for line in text.splitlines())


COMMANDS = [
    Command(
        "prepare",
        c.PrepareJob,
        prepare,
        "photos (folder or zip) -> Lab training data",
        "Turn a folder or zip of colour photos into the study's training data: square Lab samples, split "
        "64/16/20 per photo.",
        guide="docs/training.md",
    ),
    Command(
        "colorize",
        c.ColorizeJob,
        colorize,
        "colorize photos (files, folders, zips, globs) at full resolution",
        "Colorize black-and-white photos. Colour inputs are converted to grey first. Results keep each "
        "input's relative path and name under OUT.",
        guide="docs/photos.md",
    ),
    Command(
        "evaluate",
        c.EvaluateJob,
        evaluate,
        "metrics of runs on a dataset split or on colour photos, with the grey baseline",
        "With --images: grey each photo, colorize it at full resolution and compare with the original. "
        "With --data: predict a split of a prepared dataset. RUN is a run folder, 'default' (the shipped "
        "model) or 'grey'; the grey baseline is always reported first.",
        guide="docs/evaluation.md",
    ),
    Command(
        "compare",
        c.CompareJob,
        compare,
        "results table, picture grid, curves and ab histograms of several runs",
        "Evaluate runs on a dataset split and write results.md/.csv, grid.png, curves.png and "
        "ab_histograms.png into REPORT (the grey baseline is always included).",
        guide="docs/evaluation.md",
    ),
    Command(
        "sweep",
        c.SweepJob,
        sweep,
        "re-run the seed's hyper-parameter table (rows v1..v5)",
        guide="docs/evaluation.md",
    ),
    Command(
        "study",
        c.StudyJob,
        study,
        "the whole study in one resumable command: prepare, train, compare, sweep",
        guide="docs/evaluation.md",
    ),
    Command(
        "video",
        c.VideoJob,
        video,
        "colorize a film, without flicker, keeping frame rate and sound",
        "Colorize a video with PyAV (FFmpeg's libraries). Colour sources are greyed first.",
        guide="docs/films.md",
    ),
    Command(
        "serve", c.ServeJob, serve, "web page and JSON API on http://127.0.0.1:8000", guide="docs/web.md"
    ),
    Command(
        "export",
        c.ExportJob,
        export,
        "write a model as a self-contained ONNX graph (L in [0,100] -> ab in CIELAB units)",
        "Export 'default', a shipped model or a run folder to ONNX for onnxruntime: inputs L (N,1,H,W) in "
        "[0,100] and, for hint models, hints (N,3,H,W) = a, b in CIELAB units and a mask; output ab "
        "(N,2,H,W); N, H, W dynamic, H and W multiples of 16.",
        guide="docs/photos.md",
    ),
    Command(
        "models",
        c.ModelsJob,
        models,
        "list the registered models with their parameter counts",
        guide="docs/training.md",
    ),
    Command(
        "train",
        c.TrainJob,
        train,
        "train a model on a prepared dataset into a run folder",
        "Train a model on a `prepare` output. Under torchrun it runs DistributedDataParallel: torchrun "
        "--nproc_per_node=N -m polychromify train ...",
        guide="docs/training.md",
    ),
    Command(
        "import-weights",
        c.ImportWeightsJob,
        import_weights,
        "convert Zhang et al.'s released .pth weights into a run folder",
        guide="docs/training.md",
    ),
]


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line; given `argv`, only the command it names gets its options (the others' would
    cost start-up time, and the top level's --help lists commands, not their options)."""
    parser = argparse.ArgumentParser(
        prog="polychromify",
        description="Colorize black-and-white landscape photos and films.",
        epilog=f"Guide: {GUIDE} (in the source tree)\n"
        "Each command names its own guide: polychromify COMMAND --help",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"polychromify {__version__}")
    sub = parser.add_subparsers(dest="_command", required=True, metavar="COMMAND")
    named = {a for a in argv if not a.startswith("-")} if argv is not None else {cmd.name for cmd in COMMANDS}
    for command in COMMANDS:
        p = sub.add_parser(
            command.name,
            help=command.help,
            description=command.description,
            epilog=f"Guide: {command.guide} (in the source tree)",
            formatter_class=_Formatter,
        )
        if command.name in named:
            add_options(p, command.job())
        p.set_defaults(_command=command)
    return parser


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


def _thread_plan(job: Any) -> tuple[int | None, int]:
    """(--threads, the processes sharing the cores) of a parsed command: its own field or its colour
    options' or training config's; `serve --workers N` shares the cores among N processes."""
    nested = [job, getattr(job, "colour", None), getattr(job, "run", None)]
    threads = next((t for part in nested if (t := getattr(part, "threads", None)) is not None), None)
    return threads, getattr(job, "workers", 1) if isinstance(job, c.ServeJob) else 1


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit code 1; Ctrl-C exits 130; a reader that
    stops early (`... --json | head`) ends it quietly with 141, as for other command-line tools."""
    argv = sys.argv[1:] if argv is None else argv
    parsed = build_parser(argv).parse_args(argv)
    keep_freed_memory()
    _say_on_stderr()
    try:
        command = parsed._command
        job = read_options(command.job, parsed)
        set_thread_budget(*_thread_plan(job))  # before torch and numpy load their pools
        code = command.run(job)
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
