"""`polychromify colorize`: inputs (files, folders, zips, globs) -> colour photos under OUT, mirroring the
tree."""

from __future__ import annotations

import glob
import json
import os
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from polychromify.config import ColorizeJob, ColourOptions
from polychromify.data.images import EXTENSIONS, ImageError, open_image
from polychromify.data.prepare import list_sources
from polychromify.errors import PolychromifyError
from polychromify.inference import Colorizer, Hint, parse_hint
from polychromify.reference import Reference

Hints = dict[str, list[Hint]] | list[Hint]  # the same for every photo, or by file name
# Output format by extension; inputs with any other extension are written as PNG.
SAVE_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


MAX_MEMBER_BYTES = 512 * 1024 * 1024  # a photo inside a zip is read into memory: larger ones are refused


@dataclass(frozen=True)
class Job:
    src: Path
    dst: Path
    member: str | None = None  # a photo inside the zip archive `src`

    @property
    def name(self) -> str:
        return f"{self.src}/{self.member}" if self.member else str(self.src)


def zip_photos(path: Path) -> list[str]:
    """The photos inside a zip archive, by their names there: what `prepare` would read from it (no hidden
    files or macOS resource forks) with a photo's extension, never a name that would leave the output folder
    (absolute or '..')."""
    return [
        n
        for n, _, _ in list_sources(path)
        if Path(n).suffix.lower() in EXTENSIONS and not n.startswith("/") and ".." not in Path(n).parts
    ]


def plan(inputs: Sequence[str], out: Path, fmt: str | None = None) -> list[Job]:
    """Each input -> its output path under `out`: a file keeps its name, a folder's files keep their path
    relative to the folder, a zip's photos their path inside it under a folder named as the zip, a glob's
    matches keep their path relative to the glob's fixed prefix."""
    out_r = out.resolve()
    jobs: list[Job] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            root = path.resolve()
            if out_r == root or root in out_r.parents:
                raise PolychromifyError(
                    f"output folder {out} is inside input folder {item}; choose another -o"
                )
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in EXTENSIONS
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            jobs += [Job(p, out / p.relative_to(path)) for p in files]
        elif path.suffix.lower() == ".zip" and path.is_file() and zipfile.is_zipfile(path):
            jobs += [Job(path, out / path.stem / n, n) for n in zip_photos(path)]
        elif path.exists() or not glob.has_magic(item):
            jobs.append(Job(path, out / path.name))  # a missing file is reported when it is processed
        else:
            base = Path(item.split("*")[0].split("?")[0].split("[")[0])
            base = base if str(item).endswith("/") or base.is_dir() else base.parent
            matches = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
            if not matches:
                raise PolychromifyError(f"no files match {item!r}")
            jobs += [Job(p, out / p.relative_to(base)) for p in matches]
    if fmt:
        return [replace(j, dst=j.dst.with_suffix("." + fmt)) for j in jobs]
    return [
        j if j.dst.suffix.lower() in SAVE_FORMATS else replace(j, dst=j.dst.with_name(j.dst.name + ".png"))
        for j in jobs
    ]


def load_hints(hint_args: Sequence[str], hints_file: Path | None) -> Hints:
    """--hint X,Y,#RRGGBB (for every input) or --hints FILE.json: a list [{x,y,color}] for every input, or
    {"file name": [...]} per input."""
    hints = [parse_hint(h) for h in hint_args]
    if hints_file is None:
        return hints
    try:
        data = json.loads(Path(hints_file).read_text())
    except (OSError, ValueError) as exc:
        raise PolychromifyError(f"cannot read hints file {hints_file}: {exc}") from None

    def parse_list(items: object) -> list[Hint]:
        if not isinstance(items, list):
            raise PolychromifyError(f"hints file {hints_file}: expected a list of {{x, y, color}}")
        try:
            return [parse_hint(f"{h['x']},{h['y']},{h['color']}") for h in items]
        except (KeyError, TypeError):
            raise PolychromifyError(f"hints file {hints_file}: each hint needs x, y and color") from None

    if isinstance(data, dict):
        return {name: hints + parse_list(v) for name, v in data.items()}
    return hints + parse_list(data)


def colorize_files(
    jobs: Sequence[Job],
    colorizer: Colorizer,
    hints: Hints = (),
    saturation: float = 1.0,
    skip_existing: bool = False,
    progress: bool = True,
    report: Callable[[str], None] = print,
    batch_size: int = 1,
    reference: Reference | None = None,
) -> tuple[int, int, int]:
    """Colorize every job; bad inputs are reported (one line each) and skipped. Consecutive photos of the
    same size share a forward pass (up to `batch_size`). reference: colours to take, for every photo.
    Returns (done, skipped, failed)."""
    _clear_stale_temps(jobs)
    inputs = {j.src.resolve() for j in jobs if j.src.exists()}
    counts = {"done": 0, "skipped": 0, "failed": 0}
    seen: set[Path] = set()
    pending: list[tuple[Job, np.ndarray, list[Hint]]] = []

    def fail(job: Job, why: str) -> None:
        report(f"{job.name}: {why}")
        counts["failed"] += 1

    def flush() -> None:
        try:
            outs = colorizer.colorize_batch(
                [p[1] for p in pending], [p[2] for p in pending], saturation, reference
            )
        except PolychromifyError as exc:  # e.g. a hint outside one image: retry one by one to pin it down
            if len(pending) == 1:
                fail(pending[0][0], str(exc))
                pending.clear()
                return
            batch = list(pending)
            pending.clear()
            for item in batch:
                pending.append(item)
                flush()
            return
        for (job, _, _), out in zip(pending, outs, strict=True):
            try:
                _save(out, job.dst)
                counts["done"] += 1
            except PolychromifyError as exc:
                fail(job, str(exc))
        pending.clear()

    for job in tqdm(jobs, unit="photo", desc="colorize", disable=not progress or None):
        dst = job.dst.resolve()
        if dst in inputs or dst in seen:
            fail(
                job,
                f"skipped, its output {job.dst} would overwrite "
                f"{'an input' if dst in inputs else 'another result'}",
            )
            continue
        seen.add(dst)
        if skip_existing and job.dst.exists():
            counts["skipped"] += 1
            continue
        try:
            rgb = _read_job(job)
        except PolychromifyError as exc:
            fail(job, str(exc))
            continue
        if pending and (rgb.shape != pending[0][1].shape or len(pending) >= batch_size):
            flush()
        name = Path(job.member or job.src).name
        pending.append((job, rgb, hints.get(name, []) if isinstance(hints, dict) else list(hints)))
    if pending:
        flush()
    return counts["done"], counts["skipped"], counts["failed"]


def _read(src: Path | bytes) -> np.ndarray:
    """A photo from a file or its bytes: (H,W) for a grey one, else (H,W,3)."""
    try:
        return np.asarray(open_image(src, keep_grey=True))
    except ImageError as exc:
        raise PolychromifyError(str(exc)) from None


def _read_job(job: Job) -> np.ndarray:
    """The job's photo, from its file or from inside its zip archive."""
    if job.member is None:
        return _read(job.src)
    try:
        with zipfile.ZipFile(job.src) as zf:
            if zf.getinfo(job.member).file_size > MAX_MEMBER_BYTES:
                raise PolychromifyError(f"larger than {MAX_MEMBER_BYTES >> 20} MB")
            data = zf.read(job.member)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:  # the archive changed or broke since it was listed
        raise PolychromifyError(f"cannot read it from the archive: {exc}") from None
    return _read(data)


def _clear_stale_temps(jobs: Sequence[Job]) -> None:
    """Remove the temporary files (`.NAME.tmp-PID`, see `_save`) that a killed earlier run left beside these
    jobs' outputs: one listing per output folder, before the run, rather than one per photo written."""
    wanted = {(j.dst.parent, f".{j.dst.name}") for j in jobs}
    for folder in {parent for parent, _ in wanted if parent.is_dir()}:
        for left in folder.iterdir():
            name, sep, pid = left.name.rpartition(".tmp-")
            if sep and pid.isdigit() and (folder, name) in wanted:
                left.unlink(missing_ok=True)


def _save(rgb: np.ndarray, dst: Path) -> None:
    """Atomic write (temp file, then rename) in the format its extension names."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fmt = SAVE_FORMATS[dst.suffix.lower()]
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    try:
        Image.fromarray(rgb, "RGB").save(tmp, fmt, **options)
        os.replace(tmp, dst)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PolychromifyError(f"cannot write {dst}: {exc.strerror or exc}") from None


def colour_setup(
    o: ColourOptions, hints_file: Path | None = None
) -> tuple[Colorizer, Hints, Reference | None]:
    """The colorizer, hints and reference photo the options ask for, each checked: one clear error before
    any photo or frame is read."""
    hints = load_hints(o.hints, hints_file)
    reference = None if o.reference is None else Reference.of(o.reference, o.reference_strength)
    colorizer = Colorizer.from_options(o)
    if hints and not colorizer.takes_hints:
        raise PolychromifyError(f"model {o.model} does not take colour hints")
    if reference is not None and not colorizer.takes_reference:
        raise PolychromifyError(
            f"model {o.model} cannot take colours from a reference photo: that needs a model over ab bins "
            "(the default, mnv2-unet, unet or eccv16) on the torch runtime"
        )
    return colorizer, hints, reference


def colorize_job(job: ColorizeJob) -> int:
    """`polychromify colorize`: says each failure on stderr as it happens; exit code 1 if any failed."""
    jobs = plan(job.inputs, job.out, job.format)
    world, rank = int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0))
    jobs = jobs[rank::world]  # under torchrun each rank takes its share
    colorizer, hints, reference = colour_setup(job.colour, job.hints_file)

    def report(line: str) -> None:
        print(f"polychromify: {line}", file=sys.stderr)

    done, skipped, failed = colorize_files(
        jobs,
        colorizer,
        hints,
        job.colour.saturation,
        job.skip_existing,
        report=report,
        batch_size=job.batch_size,
        reference=reference,
    )
    print(
        f"colorized {done} photo(s) -> {job.out}"
        + (f", {skipped} already done" if skipped else "")
        + (f", {failed} failed" if failed else "")
    )
    return 1 if failed else 0
