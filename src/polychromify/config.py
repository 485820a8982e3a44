"""Every job's settings, declared once: a typed dataclass per command whose fields carry their default and
their help text. The command line is derived from these fields (`arguments.py`); the library, the web form
and the Python API take the same objects, so a default lives here and nowhere else.

A field made with `opt` is the option `--field-name` (or its `flags`), with argparse's keywords in `cli`;
`{default}` in its help is replaced by the default. A field holding another config (`nested`) puts that
config's options in its place. Fields made with plain `field` are for the library alone.
No torch here: `polychromify --help` must not load it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polychromify.errors import PolychromifyError
from polychromify.precision import PRECISIONS, check_precision

# evaluate/compare/study --degrade LEVEL -> the severity of data.degrade's damage
DEGRADE_LEVELS = {"mild": 0.35, "medium": 0.65, "strong": 1.0}
RUNTIMES = ("torch", "onnx")
SPLITS = ("train", "val", "test")


def opt(
    default: Any = dataclasses.MISSING,
    help: str | None = None,
    *,
    flags: str | tuple[str, ...] = (),
    positional: bool = False,
    convert: Any = None,
    factory: Any = None,
    compare: bool = True,
    **cli: Any,
) -> Any:
    """A field that is also a command-line option. flags: its spellings (default `--field-name`);
    convert: applied to a value given on the command line (after parsing: its errors exit with 1)."""
    meta = {
        "help": help,
        "flags": (flags,) if isinstance(flags, str) else flags,
        "positional": positional,
        "convert": convert,
        "cli": cli,
    }
    if factory is not None:
        return field(default_factory=factory, compare=compare, metadata=meta)
    return field(default=default, compare=compare, metadata=meta)


def repeatable(help: str, metavar: str, flags: str = "", factory: Any = list, convert: Any = None) -> Any:
    """An option that may be given several times: the values in a list (or what `convert` makes of it)."""
    return opt(
        help=help, factory=factory, flags=flags or (), action="append", metavar=metavar, convert=convert
    )


def nested(factory: Any) -> Any:
    """A field holding another config, whose options take this field's place on the command line."""
    return field(default_factory=factory, metadata={"nested": True})


# -------------------------------------------------------------- value checks the parser runs (exit 2)


def non_negative(text: str) -> float:
    """A number >= 0, refused by the parser (before any model loads) otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be >= 0, not {text}")
    return value


def share(text: str) -> float:
    """A share from 0 to 1, refused by the parser otherwise."""
    value = non_negative(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


# -------------------------------------------------------------- conversions after parsing (exit 1)


def parse_split(text: str) -> tuple[float, float, float]:
    """'0.64,0.16,0.2' -> (0.64, 0.16, 0.2); raises PolychromifyError on anything else."""
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise PolychromifyError(f"invalid split {text!r}: expected three numbers like 0.64,0.16,0.20")
    return parts  # type: ignore[return-value]


def parse_mix(text: str) -> tuple[float, float, float]:
    """'0,0.5,0.5' -> the weights of red, green and blue light in a grey (normalised to sum 1)."""
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or min(parts) < 0 or sum(parts) <= 0:
        raise PolychromifyError(f"invalid mix {text!r}: expected three weights >= 0 like 0,0.5,0.5 (R,G,B)")
    return tuple(p / sum(parts) for p in parts)  # type: ignore[return-value]


def parse_keyframe(text: str) -> tuple[int, Path]:
    """'120=frame120.png' -> (120, Path('frame120.png'))."""
    number, sep, path = text.partition("=")
    if not sep or not number.strip().isdigit() or not path:
        raise PolychromifyError(f"--keyframe expects N=IMAGE (N: a frame number from 0), got {text!r}")
    return int(number), Path(path)


def parse_keyframes(items: list[str]) -> dict[int, Path]:
    """The repeated --keyframe N=IMAGE -> {N: IMAGE}; a frame given twice is refused."""
    out: dict[int, Path] = {}
    for item in items:
        n, path = parse_keyframe(item)
        if n in out:
            raise PolychromifyError(f"--keyframe {n} is given twice")
        out[n] = path
    return out


def parse_model_args(items: list[str]) -> dict[str, Any]:
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


def parse_counts(text: str) -> list[int]:
    """'0,1,2,5' -> [0, 1, 2, 5]: hint counts of evaluate's sweep."""
    try:
        counts = [int(x) for x in text.split(",")]
    except ValueError:
        counts = []
    if not counts or any(n < 0 for n in counts):
        raise PolychromifyError(f"--hints {text!r}: give counts such as 0,1,2,5,10,20")
    return counts


def _degrade_level(what: str) -> Any:
    return opt(
        None,
        f"old-print damage (blur, grain, fading, scratches, JPEG...) at this level: {what}",
        choices=tuple(DEGRADE_LEVELS),
    )


def _precision() -> Any:
    return opt(
        "auto",
        "network arithmetic: {default} (default) = bf16 where the device has native bf16 units and the model "
        "runs faster in it, else fp32; bf16 without native units is ~10x slower",
        choices=PRECISIONS,
    )


# -------------------------------------------------------------- the jobs


def _threads() -> Any:
    return opt(
        None,
        "compute threads of this process (default: the cores it may use, shared among --workers)",
        metavar="N",
        type=int,
        convert=_at_least_one,
    )


def _at_least_one(n: int) -> int:
    if n < 1:
        raise PolychromifyError(f"--threads must be 1 or more, not {n}")
    return n


@dataclass(frozen=True)
class PrepareConfig:
    """What makes a dataset: the same settings on the same photos reuse it. Its fields in this order (but
    `workers`) are that identity (data.prepare.fingerprint), so never reorder them."""

    size: int = opt(128, "side of the square samples (default: {default}, the seed)")
    resize: str = opt(
        "stretch",
        "stretch: plain resize to a square, as the seed (default); crop: centre crop",
        choices=["stretch", "crop"],
    )
    crops_per_image: int = opt(
        0,
        "K extra random crops at random scales per photo, besides the whole photo (default: {default})",
        metavar="K",
    )
    split: tuple[float, float, float] = opt(
        (0.64, 0.16, 0.20), "train,val,test fractions (default: 0.64,0.16,0.20)", convert=parse_split
    )
    seed: int = opt(0, "seed of the split and the crops (default: {default})")
    crop_seed: int | None = opt(
        None, "seed of the random crops alone (default: --seed): other crops, the same split"
    )
    min_chroma: float = opt(
        2.0, "skip photos whose mean CIELAB chroma is below this: grey photos (default: {default:g})"
    )
    shard_size: int = 4096
    workers: int = opt(0, "worker processes (default: 0 = all cores)", compare=False)
    exclude: tuple[str, ...] = repeatable(
        "leave out files whose name or relative path matches, repeatable",
        "GLOB",
        factory=tuple,
        convert=tuple,
    )
    grey: str | None = opt(
        None,
        "paired photos: a folder holding each colour photo's grey version under the same relative name and "
        "size (e.g. a real old print and its colour truth); the input L is the grey's, the target ab the "
        "colour photo's, with the same crops",
        metavar="GREY",
    )
    block: int = opt(
        0,
        "split by blocks of N neighbouring names (the number in each name // N) instead of by content: "
        "neighbouring plates of a collection are often the same place (default: 0 = by content)",
        metavar="N",
    )

    def __post_init__(self) -> None:
        if self.block < 0:
            raise PolychromifyError("--block must be >= 0")
        if len(self.split) != 3 or any(f < 0 for f in self.split) or abs(sum(self.split) - 1) > 1e-6:
            raise PolychromifyError(f"invalid split {self.split}: need three fractions >= 0 summing to 1")
        if self.split[0] <= 0:
            raise PolychromifyError("invalid split: the train fraction must be > 0")
        if self.resize not in ("stretch", "crop"):
            raise PolychromifyError(f"unknown resize rule {self.resize!r}: use 'stretch' or 'crop'")
        if not 8 <= self.size <= 1024:
            raise PolychromifyError(f"invalid size {self.size}: use 8..1024")
        if self.crops_per_image < 0:
            raise PolychromifyError("--crops-per-image must be >= 0")


@dataclass
class PrepareJob:
    src: Path = opt(Path(), "folder (searched recursively) or .zip of photos", positional=True)
    out: Path = opt(Path(), "dataset folder to create", flags=("--out", "-o"), required=True)
    settings: PrepareConfig = nested(PrepareConfig)
    overwrite: bool = opt(False, "replace a previous dataset in --out")


@dataclass
class TrainConfig:
    """A training run: written into RUN/config.json, so `--resume RUN` rebuilds it."""

    model: str | None = opt(None, "model name (see `polychromify models`)")
    data: str | None = opt(None, "dataset folder made by `polychromify prepare`")
    out: str | None = opt(None, "run folder to create", flags=("--out", "-o"))
    model_args: dict[str, Any] = repeatable(
        "model argument, repeatable (e.g. --model-arg neurons=medium --model-arg width=0.25)",
        "KEY=VALUE",
        "--model-arg",
        factory=dict,
        convert=parse_model_args,
    )
    epochs: int = opt(25, "epochs (default: {default}, the seed's)")
    batch_size: int = opt(32, "batch size per process (default: {default})")
    lr: float = opt(1e-3, "Adam learning rate (default: 1e-3)")  # Adam, as the seed
    max_minutes: float | None = opt(
        None, "wall-clock budget; training stops when it is spent"
    )  # after a step
    device: str = opt("auto", "auto (default: cuda > mps > cpu), cpu, cuda, cuda:N, mps")
    precision: str = _precision()
    # the training forward, and so its backward
    compile: bool = opt(False, "torch.compile the model (slow start; see docs/performance.md)")
    seed: int = opt(0)
    flip: bool = opt(True, "no random horizontal flips", flags="--no-flip", action="store_false")
    patience: int = opt(5, "early stopping patience in epochs (0 = off)")
    balance: str = opt(
        "none",
        "equalise categories (sub-folders) or k-means colour clusters when sampling",
        choices=["none", "categories", "clusters"],
    )
    train_photos: int | None = opt(None, "train on this many of the training photos (drawn with --seed)")
    rebalance: float = opt(
        0.5,
        "class rebalancing of bin models: weights 1/((1-l)p + l/Q); {default} as ECCV16, 1 = off",
        flags="--rebalance-lambda",
    )
    hint_p: float = opt(
        0.125, "hint models: hints per sample are geometric with this p = P(no hint) (default: 1/8)"
    )
    degrade: float = opt(
        0.0,
        "this share of the training samples gets an old print's damage (blur, grain, fading, scratches, "
        "JPEG...) on the network's input, at a random severity; the target stays clean "
        "(default: {default:g})",
        type=share,
        metavar="P",
    )
    degrade_zoom: float = opt(
        1.0,
        "--degrade damages each sample at a random 1 to Z times its size, then averages it back, as on a "
        "scan larger than the network's grid; 1: at the grid's own size (default: {default:g})",
        metavar="Z",
    )
    steps_per_epoch: int | None = opt(None, "cap on steps per epoch (default: one pass)")
    init: str | None = opt(
        None,
        "start from this run's weights, or a shipped network's ('clean', 'old-prints'): fine-tuning on your "
        "own photos, a hint partner from its model",
        metavar="RUN",
    )
    teacher: str | None = opt(
        None,
        "bin models: also learn this frozen run's colours of the clean input (with --degrade: a damaged "
        "print is pulled towards the colours of its clean photo)",
        metavar="RUN",
    )
    distill: float = opt(
        0.5,
        "--teacher's share of the loss (a KL divergence over the ab bins); the truth's is 1 - W; "
        "1: the teacher alone (default: {default})",
        type=share,
        metavar="W",
    )
    schedule: str = opt(  # the cosine is applied per step
        "constant",
        "learning rate over the --epochs: constant (the seed's) or cosine decay to zero",
        choices=["constant", "cosine"],
    )
    keep: str = opt(
        "best",
        "weights to keep: the best epoch by validation loss (default) or the last (after a schedule)",
        choices=["best", "last"],
    )
    tensorboard: bool = opt(
        False,
        "also write TensorBoard event files into RUN/tensorboard (needs polychromify[tensorboard])",
    )
    extra_data: str | None = opt(
        None,
        "a second prepared dataset mixed into every batch, e.g. paired photos (`prepare --grey`): real old "
        "prints with their colours",
        metavar="DIR",
    )
    extra_share: float = opt(
        0.3, "with --extra-data: its share of each batch (default: {default:g})", type=share, metavar="P"
    )
    tonal: float = opt(
        0.0,
        "this share of the (--data) samples is greyed through a film's tonal response drawn from "
        "blue-sensitive plates to panchromatic film behind a red filter (color.tonal_mix) instead of "
        "CIELAB L; the target stays the same (default: {default:g})",
        type=share,
        metavar="P",
    )
    threads: int | None = _threads()
    val_batches: int | None = None  # cap on validation batches (None = whole split)

    def __post_init__(self) -> None:
        check_precision(self.precision)
        for name in ("extra_share", "tonal"):
            if not 0 <= getattr(self, name) <= 1:
                raise PolychromifyError(f"--{name.replace('_', '-')} is a share from 0 to 1")
        if self.keep not in ("best", "last"):
            raise PolychromifyError(f"unknown keep {self.keep!r}: use best or last")
        if self.schedule not in ("constant", "cosine"):
            raise PolychromifyError(f"unknown schedule {self.schedule!r}: use constant or cosine")
        if not 0 <= self.degrade <= 1:
            raise PolychromifyError(f"--degrade is a share from 0 to 1, not {self.degrade:g}")
        if not 1 <= self.degrade_zoom <= 8:
            raise PolychromifyError(f"--degrade-zoom is from 1 to 8, not {self.degrade_zoom:g}")
        if not 0 <= self.distill <= 1:
            raise PolychromifyError(f"--distill is a share from 0 to 1, not {self.distill:g}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise PolychromifyError("--epochs and --batch-size must be >= 1 and --lr > 0")


# what `train --resume RUN` may change of the run's own settings
RESUMABLE = ("epochs", "max_minutes", "device")


@dataclass
class TrainJob:
    run: TrainConfig = nested(TrainConfig)
    resume: str | None = opt(None, "continue an interrupted run", metavar="RUN")
    overwrite: bool = opt(False, "replace an existing run folder")
    given: frozenset[str] = frozenset()  # the options given on the command line (a resume takes RESUMABLE)


@dataclass
class ColourOptions:
    """How a photo or a film is coloured: by colorize, video, the web page and `polychromify.colorize`."""

    model: str = opt(
        "default",
        "a shipped model ('default': 'clean' and 'old-prints' blended; 'clean'; 'old-prints'; 'old-photos': "
        "one network trained on real old photographs too) or a run folder (default: {default})",
    )
    saturation: float = opt(1.0, "scale the predicted colours (0 = grey)", type=non_negative)
    hints: list[str] = repeatable(
        "colour hint at pixel (X,Y) of the original, repeatable", "X,Y,#RRGGBB", "--hint"
    )
    reference: Path | None = opt(
        None, "take the colours of this colour photo: the result gets its palette", metavar="PHOTO"
    )
    # How far the photo's colour distribution goes towards the reference's (reference.py): at 1 it takes the
    # reference's proportions too (a reference of mostly sky turns part of a field blue); at 0.75 it takes
    # the reference's colours, partly in its own proportions.
    reference_strength: float = opt(
        0.75,
        "with --reference: 0 = the model's own colours, 1 = the reference's palette in the reference's "
        "proportions (default: {default})",
        metavar="S",
    )
    device: str = opt("auto", "auto (default: cuda > mps > cpu), cpu, cuda, mps")
    input_size: int = opt(256, "longer side the network sees (default: {default})")
    mirror: bool = opt(
        True,
        "average the colours of the photo and of its mirror image: better colours, twice the network's "
        "time (default: {default})",
        action=argparse.BooleanOptionalAction,
    )
    precision: str = _precision()
    runtime: str = opt(
        "torch",
        "onnx: onnxruntime on the CPU, fp32 (pip install 'polychromify[onnx]'); --model may then be "
        "an exported .onnx file",
        choices=RUNTIMES,
    )
    threads: int | None = _threads()


@dataclass
class ColorizeJob:
    inputs: list[str] = opt(
        help="image files, folders (recursive), zip archives or glob patterns",
        factory=list,
        positional=True,
        nargs="+",
    )
    out: Path = opt(Path(), "output folder", flags=("-o", "--out"), required=True)
    colour: ColourOptions = nested(ColourOptions)
    hints_file: Path | None = opt(
        None,
        'hints: [{"x":..,"y":..,"color":"#RRGGBB"}] or {"file name": [...]} ',
        flags="--hints",
        metavar="FILE.json",
    )
    format: str | None = opt(None, "change the output extension (default: keep)", choices=["png", "jpg"])
    skip_existing: bool = opt(False, "skip inputs whose output already exists")
    batch_size: int = opt(4, "same-size photos per forward pass (default: {default})")


@dataclass
class VideoJob:
    input: Path = opt(Path(), "video file (mp4, mkv, avi, mov, webm, ...)", positional=True)
    out: Path | None = opt(None, "output video (.mp4: h264 by default)", flags=("-o", "--out"))
    # mirror averaging doubles the network's time per frame: off for films
    colour: ColourOptions = nested(lambda: ColourOptions(mirror=False))
    smooth: float = opt(
        0.95,
        "temporal stabilisation strength in [0,1): the most the earlier frames, followed along the motion, "
        "weigh against the network's colours of a frame; 0 = every frame alone (default: {default})",
    )
    motion: bool = opt(
        True,
        "smooth without optical flow (the method before 2026-12: colours trail behind what moves)",
        flags="--no-motion",
        action="store_false",
    )
    codec: str = opt("libx264", "output video codec (default: {default})")
    crf: int = opt(18, "x264/x265 quality, lower is better (default: {default})")
    preset: str = opt(
        "superfast",
        "x264/x265 speed: ultrafast (fastest) ... veryslow (smallest files); veryfast makes ~35%% "
        "smaller files than the default at ~25%% less speed (default: {default})",
    )
    every: int = opt(
        2,
        "run the network on every Nth frame and on each shot's first; the frames between blend the "
        "two around them (default: {default}; 1 = every frame)",
        metavar="N",
    )
    batch_size: int = opt(8, "frames per forward pass (default: {default})")
    keyframes: dict[int, Path] = repeatable(
        "a colour version of frame N (counted from 0), any size with the frame's aspect: its colours are "
        "carried through its shot along the motion; repeatable (get the frames with --shots)",
        "N=IMAGE",
        flags="--keyframe",
        factory=dict,
        convert=parse_keyframes,
    )
    shots: Path | None = opt(
        None,
        "write the first frame of each shot to this folder (frame-N.png, grey) and stop: colour them and "
        "give them back with --keyframe N=IMAGE",
        metavar="DIR",
    )
    report: Path | None = opt(
        None,
        "write frames/s, the flicker figures (flicker, warp error, CDC) and the shots with their keyframes",
        metavar="FILE.json",
    )
    overwrite: bool = opt(False, "replace an existing output file")


@dataclass
class EvaluateJob:
    runs: list[str] = opt(factory=list, positional=True, nargs="+", metavar="RUN")
    images: Path | None = opt(None, "folder of colour photos (colorized at full resolution)")
    data: Path | None = opt(None, "dataset made by `polychromify prepare`")
    split: str = opt("test", "with --data (default: {default})", choices=SPLITS)
    limit: int | None = opt(None, "with --data: at most this many samples")
    json: bool = opt(False, "one JSON object per run")
    device: str = opt("auto")
    hints: list[int] | None = opt(
        None,
        "with --images: SIGGRAPH17's hint sweep, e.g. 0,1,2,5,10,20 hints per photo drawn from the "
        "truth (6x6 patches' mean colours around the centre, photos at 256 px); a row per model and count",
        metavar="N,N,...",
        convert=parse_counts,
    )
    seed: int = opt(0, "seed of the --hints draw (default: {default})")
    reference: str | None = opt(
        None,
        "with --images: each run again with colours from a reference: 'own' (each photo's own colours, "
        "SIGGRAPH17's global hints), 'other' (another photo's) or one colour photo for all",
        metavar="own|other|PHOTO",
    )
    reference_strength: float = opt(ColourOptions.reference_strength, "with --reference (default: {default})")
    spread: bool = opt(
        True,
        "with --hints: the hint network alone, without spreading each hint over its region",
        flags="--no-spread",
        action="store_false",
    )
    mirror: bool = opt(
        True,
        "with --images: no mirror averaging (the network once per photo, as `video` runs it)",
        flags="--no-mirror",
        action="store_false",
    )
    saturation: float = opt(
        1.0,
        "with --images: the colours scaled as `colorize --saturation` scales them (default: {default:g})",
        type=non_negative,
    )
    plot: Path = opt(Path("hints.png"), "the sweep's plot (default: {default})")
    per_photo: Path | None = opt(
        None,
        "with --images: each photo's metrics, a row per model and photo (grey's too), to this CSV file",
        metavar="FILE.csv",
    )
    degrade: str | None = _degrade_level(
        "with --images: also score each photo so damaged (the same damage for the same file name), each "
        "metric with its change from the clean input"
    )
    precision: str = _precision()
    pairs: tuple[Path, Path] | None = opt(
        None,
        "colorize the grey photos of GREY and score them against their colour versions in COLOUR (same "
        "relative names and sizes: real old prints and their colours); the grey photo itself is the floor",
        nargs=2,
        metavar=("GREY", "COLOUR"),
        convert=lambda v: (Path(v[0]), Path(v[1])),
    )
    mix: tuple[float, float, float] | None = opt(
        None,
        "with --images: make each grey from the photo's own red, green and blue light with these weights "
        "(another film's tonal response; 0,0.5,0.5 is a blue-sensitive plate) instead of its CIELAB L",
        metavar="R,G,B",
        convert=parse_mix,
    )
    threads: int | None = _threads()


@dataclass
class CompareJob:
    runs: list[str] = opt(factory=list, positional=True, nargs="+", metavar="RUN")
    data: Path = opt(Path(), "dataset made by `polychromify prepare`", required=True)
    out: Path = opt(Path(), "report folder", flags=("--out", "-o"), required=True)
    split: str = opt("test", choices=SPLITS)
    limit: int | None = opt(None, "at most this many samples")
    degrade: str | None = _degrade_level(
        "two more columns: rebalanced AuC and hue accuracy with every input damaged"
    )


@dataclass
class SweepJob:
    data: Path = opt(Path(), "dataset made by `polychromify prepare`", required=True)
    out: Path = opt(Path(), "sweep folder (resumable)", flags=("--out", "-o"), required=True)
    epochs: int = opt(25)
    max_minutes: float | None = opt(None, "training budget per row")
    steps_per_epoch: int | None = opt(None)


@dataclass
class StudyJob:
    photos: Path = opt(Path(), "folder or zip of colour photos", positional=True)
    out: Path = opt(Path(), "study folder (resumable)", flags=("--out", "-o"), required=True)
    budget: str = opt(
        "standard",
        "quick: 30 s a row, about 15 minutes in all on 2 CPU cores; standard (default): 5 minutes a "
        "row, about 100 minutes; full: the seed's 25 epochs a row at the papers' widths (a GPU's work)",
        choices=["quick", "standard", "full"],
    )
    quick: bool = opt(False, "the same as --budget quick")
    encoder_weights: Path | None = opt(
        None,
        "torchvision's ImageNet mobilenet_v2 .pth: adds the pretrained-encoder rows (docs/evaluation.md)",
    )
    epochs: int | None = opt(None)
    max_minutes: float | None = opt(None)
    steps_per_epoch: int | None = opt(None)
    size: int = opt(128, "sample size (default: {default}, the seed's)")
    crops_per_image: int | None = opt(None, "random crops per photo (default: 4; 0 with --budget full)")
    degrade: str | None = _degrade_level("the final table's two more columns (as `compare --degrade`)")


@dataclass
class ServeJob:
    host: str = opt("127.0.0.1", "address to bind (default: {default}, this machine only)")
    port: int = opt(8000)
    models: list[str] = repeatable(
        "extra model (run folder) to offer besides 'default', repeatable", "RUN", "--model"
    )
    max_upload_mb: int = opt(25, "largest upload (default: {default} MB)")
    max_pixels: int = opt(40_000_000, "largest image (default: 40 megapixels)")
    max_queue: int = opt(
        8, "requests a worker holds, running or waiting; more get 503 + Retry-After (default: {default})"
    )
    body_timeout: float = opt(
        60.0, "a request's body must arrive within this, else 408 (default: {default:g})", metavar="SECONDS"
    )
    workers: int = opt(
        1, "worker processes, each with its own models, limits and share of the cores (default: {default})"
    )
    root_path: str = opt("", "the path prefix a reverse proxy serves this under, e.g. /colorize")
    forwarded_allow_ips: str | None = opt(
        None,
        "proxies whose X-Forwarded-For/-Proto to trust, comma-separated or '*' "
        "(default: $FORWARDED_ALLOW_IPS or 127.0.0.1)",
        metavar="IPS",
    )
    precision: str = _precision()
    threads: int | None = _threads()


@dataclass
class ExportJob:
    model: str = opt("default", "'default', a shipped model's name or a run folder", positional=True)
    out: Path = opt(Path(), flags=("--out", "-o"), required=True, metavar="FILE.onnx")
    overwrite: bool = opt(False, "replace an existing file")


@dataclass
class ModelsJob:
    json: bool = opt(False, "print JSON")


@dataclass
class ImportWeightsJob:
    file: Path = opt(Path(), "released state dict (.pth), loaded with weights_only=True", positional=True)
    model: str = opt("eccv16", choices=["eccv16", "siggraph17"], required=True)
    out: Path = opt(Path(), "run folder to create", flags=("--out", "-o"), required=True)
