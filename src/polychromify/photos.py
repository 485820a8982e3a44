"""`polychromify colorize`: inputs (files, folders, globs) -> colour photos under OUT, mirroring the tree."""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from polychromify.data.images import EXTENSIONS, ImageError, open_image
from polychromify.errors import PolychromifyError
from polychromify.inference import Colorizer, Hint, parse_hint

SAVE_FORMATS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif"}


@dataclass(frozen=True)
class Job:
    src: Path
    dst: Path


def plan(inputs: Sequence[str], out: Path, fmt: str | None = None) -> list[Job]:
    """Each input -> its output path under `out`: a file keeps its name, a folder's files keep their path
    relative to the folder, a glob's matches keep their path relative to the glob's fixed prefix."""
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
        jobs = [Job(j.src, j.dst.with_suffix("." + fmt)) for j in jobs]
    return jobs


def load_hints(hint_args: Sequence[str], hints_file: Path | None) -> dict[str, list[Hint]] | list[Hint]:
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
    hints: dict[str, list[Hint]] | list[Hint] = (),
    saturation: float = 1.0,
    skip_existing: bool = False,
    progress: bool = True,
    report: Callable[[str], None] = print,
) -> tuple[int, int, int]:
    """Colorize every job; bad inputs are reported (one line each) and skipped.
    Returns (done, skipped, failed)."""
    inputs = {j.src.resolve() for j in jobs if j.src.exists()}
    done = skipped = failed = 0
    seen: set[Path] = set()
    for job in tqdm(jobs, unit="photo", desc="colorize", disable=not progress or None):
        dst = job.dst.resolve()
        if dst in inputs or dst in seen:
            report(
                f"{job.src}: skipped, its output {job.dst} would overwrite "
                f"{'an input' if dst in inputs else 'another result'}"
            )
            failed += 1
            continue
        seen.add(dst)
        if skip_existing and job.dst.exists():
            skipped += 1
            continue
        try:
            these = hints.get(job.src.name, []) if isinstance(hints, dict) else list(hints)
            rgb, fmt = _read(job.src)
            out = colorizer.colorize_array(rgb, these, saturation)
            _save(out, job.dst, fmt)
            done += 1
        except PolychromifyError as exc:
            report(f"{job.src}: {exc}")
            failed += 1
    return done, skipped, failed


def _read(path: Path) -> tuple[np.ndarray, str]:
    try:
        with Image.open(path) as im:
            fmt = im.format or "PNG"
    except (OSError, ValueError):
        fmt = "PNG"
    try:
        return np.asarray(open_image(path)), fmt
    except ImageError as exc:
        raise PolychromifyError(str(exc)) from None


def _save(rgb: np.ndarray, dst: Path, fmt: str) -> None:
    """Atomic write; the format follows the extension (the input's own unless --format changed it)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    ext = dst.suffix.lower()
    pil_fmt = {
        ".jpg": "JPEG",
        ".jpeg": "JPEG",
        ".png": "PNG",
        ".webp": "WEBP",
        ".bmp": "BMP",
        ".tif": "TIFF",
        ".tiff": "TIFF",
    }.get(ext, fmt if fmt in SAVE_FORMATS else "PNG")
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    options = {"quality": 95} if pil_fmt in ("JPEG", "WEBP") else {}
    try:
        Image.fromarray(rgb, "RGB").save(tmp, pil_fmt, **options)
        os.replace(tmp, dst)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PolychromifyError(f"cannot write {dst}: {exc.strerror or exc}") from None
