"""`polychromify prepare`: a folder or zip of photos -> 128x128 Lab shards + manifest.json.

Output layout (DIR):
  manifest.json                    settings, split counts, every sample's source, every skipped file
  {split}/L-00000.npy              (n,1,S,S) float16, L in [0,100]
  {split}/ab-00000.npy             (n,2,S,S) float16, ab in [-1,1] (ab / 128, as the seed)
The whole folder is written under a temporary name and renamed at the end, so an interrupted run
leaves either no DIR or the previous one.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import hashlib
import json
import multiprocessing as mp
import os
import re
import shutil
import zipfile
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from polychromify.color import chroma, grey_lightness, rgb_to_lab, to_grey
from polychromify.config import SPLITS, PrepareConfig
from polychromify.data.images import ImageError, open_image
from polychromify.errors import PolychromifyError

FORMAT = "polychromify-dataset"
MIN_CROP_SCALE = 0.3  # random crops cover 30%..90% of the shorter side
MIN_SIDE = 16  # smaller photos are skipped: a 1xN stripe stretched to SxS teaches nothing


# ---------------------------------------------------------------- sources


def list_sources(src: Path, exclude: Path | None = None) -> list[tuple[str, int, int]]:
    """All candidate files under a folder (recursive) or in a zip: (relative name, size, mtime_ns), sorted."""
    if not src.exists():
        raise PolychromifyError(f"source not found: {src}")
    if src.is_file():
        if not zipfile.is_zipfile(src):
            raise PolychromifyError(f"source is neither a folder nor a .zip archive: {src}")
        with zipfile.ZipFile(src) as zf:
            items = [
                (i.filename, i.file_size, 0)
                for i in zf.infolist()
                if not i.is_dir() and not _hidden(i.filename)
            ]
    else:
        exclude = exclude.resolve() if exclude else None
        items = []
        for root, dirs, files in os.walk(src):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and Path(root, d).resolve() != exclude)
            for name in files:
                if name.startswith("."):
                    continue
                p = Path(root, name)
                st = p.stat()
                items.append((p.relative_to(src).as_posix(), st.st_size, st.st_mtime_ns))
    return sorted(items)


def _hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in name.split("/"))


def categories(names: list[str]) -> dict[str, str | None]:
    """Category of each file = its first folder below the common root (None for files at the root)."""
    parts = [n.split("/") for n in names]
    depth = 0  # strip folders shared by every file (e.g. a zip with one top folder)
    while parts and all(len(p) > depth + 1 and p[depth] == parts[0][depth] for p in parts):
        depth += 1
    return {n: (p[depth] if len(p) > depth + 1 else None) for n, p in zip(names, parts, strict=True)}


def split_of(key: str, seed: int, fractions: tuple[float, float, float]) -> str:
    """Hash-based split: a photo's split depends only on its key (its content's hash, or its block of
    names: `name_block`) and the seed, never on the others."""
    u = int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "big") / 2**64
    edge = 0.0
    for name, frac in zip(SPLITS, fractions, strict=True):
        edge += frac
        if u < edge:
            return name
    return SPLITS[-1]


def name_block(rel: str, block: int) -> str:
    """The block of neighbouring names `rel` belongs to: its folder and the last number in its name // block
    (img1043.jpg and img1057.jpg share a block for block=20); the name itself if it has no number."""
    stem = Path(rel).stem
    digits = re.findall(r"\d+", stem)
    if not digits:
        return rel
    pattern = re.sub(r"\d+", "#", stem)
    return f"{Path(rel).parent}/{pattern}|{int(digits[-1]) // block}"


# ---------------------------------------------------------------- one photo (runs in a worker)


def _process(job: tuple[str, bool, str, PrepareConfig]) -> dict:
    root, is_zip, rel, cfg = job
    try:
        if is_zip:
            with zipfile.ZipFile(root) as zf:
                data = zf.read(rel)
        else:
            data = Path(root, rel).read_bytes()
    except OSError as exc:
        return {"rel": rel, "error": f"cannot read file: {exc.strerror or exc}"}
    sha = hashlib.sha256(data).hexdigest()
    need = cfg.size / MIN_CROP_SCALE if cfg.crops_per_image else cfg.size
    try:
        im = open_image(data, min_size=int(need))
    except ImageError as exc:
        return {"rel": rel, "sha": sha, "error": str(exc)}
    w, h = im.size
    if min(w, h) < MIN_SIDE:
        return {"rel": rel, "sha": sha, "error": f"too small ({w}x{h} pixels, at least {MIN_SIDE} a side)"}
    grey = None
    if cfg.grey is not None:  # the pair's grey photo: its L is the input, the colour photo's ab the target
        try:
            grey = open_image(Path(cfg.grey, rel).read_bytes(), min_size=int(need))
        except OSError:
            return {"rel": rel, "sha": sha, "error": f"no grey partner {Path(cfg.grey, rel)}"}
        except ImageError as exc:
            return {"rel": rel, "sha": sha, "error": f"grey partner: {exc}"}
        if grey.size != im.size:
            gw, gh = grey.size
            return {"rel": rel, "sha": sha, "error": f"grey partner is {gw}x{gh}, the colour photo {w}x{h}"}
    boxes: list[tuple[int, int, int, int] | None] = [_main_box(w, h, cfg.resize)]
    rng = np.random.default_rng(int(sha[:16], 16) ^ (cfg.seed if cfg.crop_seed is None else cfg.crop_seed))
    for _ in range(cfg.crops_per_image):
        side = max(1, int(min(w, h) * rng.uniform(MIN_CROP_SCALE, 0.9)))
        x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        boxes.append((x, y, x + side, y + side))
    Ls, abs_ = [], []
    for box in boxes:
        tile = im.resize((cfg.size, cfg.size), Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)
        L, ab = rgb_to_lab(np.asarray(tile))
        if grey is not None:
            tile = grey.resize((cfg.size, cfg.size), Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)
            L = grey_lightness()[to_grey(np.asarray(tile))]
        Ls.append(L[None])
        abs_.append(ab.transpose(2, 0, 1))
    mean_chroma = float(chroma(abs_[0].transpose(1, 2, 0)).mean())
    if mean_chroma < cfg.min_chroma:
        return {
            "rel": rel,
            "sha": sha,
            "error": f"no colour (mean chroma {mean_chroma:.2f} < {cfg.min_chroma})",
        }
    # Boxes are recorded in the coordinates of the decoded (possibly draft-reduced) image, as fractions.
    frac_boxes = [
        None if b is None else [round(v / d, 5) for v, d in zip(b, (w, h, w, h), strict=True)] for b in boxes
    ]
    return {
        "rel": rel,
        "sha": sha,
        "boxes": frac_boxes,
        "L": np.stack(Ls).astype(np.float16),
        "ab": np.stack(abs_).astype(np.float16),
    }


def _main_box(w: int, h: int, rule: str) -> tuple[int, int, int, int] | None:
    if rule == "stretch":
        return None
    side = min(w, h)
    x, y = (w - side) // 2, (h - side) // 2
    return (x, y, x + side, y + side)


# ---------------------------------------------------------------- the whole run


def is_dataset(path: Path) -> bool:
    """True when `path` holds a previous `prepare` output."""
    try:
        return json.loads((path / "manifest.json").read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def fingerprint(src: Path, items: list[tuple[str, int, int]], cfg: PrepareConfig) -> str:
    """Cheap identity of (inputs, settings): names, sizes and mtimes, not contents."""
    settings = {k: v for k, v in asdict(cfg).items() if k != "workers"} | {"workers": 0}  # not a setting
    for key in ("crop_seed", "grey", "block"):  # datasets made before these options keep their identity
        if settings[key] in (None, 0):
            del settings[key]
    h = hashlib.sha256(json.dumps([str(src.resolve()), settings, items]).encode())
    return h.hexdigest()


def prepare(
    src: str | Path,
    out: str | Path,
    cfg: PrepareConfig | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Build a dataset in `out` from the photos in `src`; returns the manifest (with `"reused": True`
    when `out` already held the same dataset)."""
    cfg = cfg or PrepareConfig()
    src, out = Path(src), Path(out)
    items = [
        it
        for it in list_sources(src, exclude=out)
        if not any(
            fnmatch.fnmatch(it[0], pat) or fnmatch.fnmatch(Path(it[0]).name, pat) for pat in cfg.exclude
        )
    ]
    if not items:
        raise PolychromifyError(f"no files found in {src}")
    fp = fingerprint(src, items, cfg)
    _clear_leftovers(out)
    if out.exists():
        if is_dataset(out):
            old = json.loads((out / "manifest.json").read_text())
            if old.get("fingerprint") == fp:
                return old | {"reused": True}
            if not overwrite:
                raise PolychromifyError(
                    f"{out} holds a dataset made from other inputs or settings; "
                    "pass --overwrite to replace it"
                )
        elif not out.is_dir() or any(out.iterdir()):
            raise PolychromifyError(f"{out} exists and is not a polychromify dataset; choose another --out")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        manifest = _build(src, items, cfg, tmp, progress)
        manifest["fingerprint"] = fp
        _write_json(tmp / "manifest.json", manifest)
        _replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def _build(
    src: Path, items: list[tuple[str, int, int]], cfg: PrepareConfig, tmp: Path, progress: bool
) -> dict:
    names = [n for n, _, _ in items]
    cats = categories(names)
    jobs = [(str(src), src.is_file(), n, cfg) for n in names]
    buffers: dict[str, list[dict]] = {s: [] for s in SPLITS}
    shards: dict[str, list[dict]] = {s: [] for s in SPLITS}
    samples: dict[str, list[dict]] = {s: [] for s in SPLITS}
    photos: Counter[str] = Counter()
    seen: dict[str, str] = {}
    skipped: list[dict] = []
    for s in SPLITS:
        (tmp / s).mkdir(parents=True)

    def flush(split: str) -> None:
        buf = buffers[split]
        if not buf:
            return
        k = len(shards[split])
        files = {"L": f"{split}/L-{k:05d}.npy", "ab": f"{split}/ab-{k:05d}.npy"}
        np.save(tmp / files["L"], np.concatenate([r["L"] for r in buf]))
        np.save(tmp / files["ab"], np.concatenate([r["ab"] for r in buf]))
        shards[split].append(files | {"n": sum(len(r["L"]) for r in buf)})
        buf.clear()

    workers = cfg.workers or os.cpu_count() or 1
    bar = tqdm(total=len(jobs), unit="photo", desc="prepare", disable=not progress or None)
    with _pool(workers) as pool:
        results = pool.imap(_process, jobs, chunksize=4) if pool else map(_process, jobs)
        for r in results:
            bar.update()
            rel = r["rel"]
            if "error" in r:
                skipped.append({"file": rel, "reason": r["error"]})
                continue
            if r["sha"] in seen:
                skipped.append({"file": rel, "reason": f"duplicate of {seen[r['sha']]}"})
                continue
            seen[r["sha"]] = rel
            split = split_of(name_block(rel, cfg.block) if cfg.block else r["sha"], cfg.seed, cfg.split)
            photos[split] += 1
            samples[split] += [{"source": rel, "category": cats[rel], "box": b} for b in r["boxes"]]
            buffers[split].append(r)
            if sum(len(b["L"]) for b in buffers[split]) >= cfg.shard_size:
                flush(split)
    bar.close()
    for s in SPLITS:
        flush(s)
    total = sum(len(v) for v in samples.values())
    if total == 0:
        reasons = Counter(s["reason"].split(" (")[0] for s in skipped)
        raise PolychromifyError(f"no usable photos in {src} (skipped {len(skipped)}: {dict(reasons)})")
    return {
        "format": FORMAT,
        "version": 1,
        "source": str(src.resolve()),
        "config": {k: v for k, v in asdict(cfg).items() if k != "workers"},
        "counts": {s: len(samples[s]) for s in SPLITS},
        "photos": {s: photos[s] for s in SPLITS},
        "categories": dict(Counter(c for v in samples.values() for c in (x["category"] for x in v))),
        "shards": shards,
        "samples": samples,
        "skipped": skipped,
    }


def _pool(workers: int):
    if workers <= 1:
        return contextlib.nullcontext()
    return mp.get_context("spawn").Pool(workers)


def _write_json(path: Path, obj: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def _clear_leftovers(out: Path) -> None:
    """Tidy what a killed run (SIGKILL, power cut) left beside `out`: its temporary folder is removed, and a
    previous dataset caught between the two renames of `_replace_dir` is put back."""
    for left in out.parent.glob(f".{glob.escape(out.name)}.*-*"):
        kind, _, pid = left.name[len(out.name) + 2 :].partition("-")
        if kind not in ("tmp", "old") or not pid.isdigit() or _alive(int(pid)):
            continue
        if kind == "old" and not out.exists():
            os.replace(left, out)
        else:
            shutil.rmtree(left, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _replace_dir(new: Path, dst: Path) -> None:
    """Move `new` into place as `dst`; an existing `dst` is removed only after the new one is in place."""
    if dst.exists():
        old = dst.parent / f".{dst.name}.old-{os.getpid()}"
        os.replace(dst, old)
        os.replace(new, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, dst)


def summary(manifest: dict, out: str | Path) -> str:
    """What `prepare` made (or found made), for people."""
    if manifest.get("reused"):
        return f"{out} is up to date (same photos and settings); nothing to do"
    c, p, skipped = manifest["counts"], manifest["photos"], manifest["skipped"]
    lines = [f"prepared {sum(c.values())} samples from {sum(p.values())} photos -> {out}"]
    lines.append("  " + ", ".join(f"{s}: {c[s]} samples / {p[s]} photos" for s in c))
    if skipped:
        lines.append(f"  skipped {len(skipped)} files (all listed in {Path(out) / 'manifest.json'}):")
        lines += [f"    {s['file']}: {s['reason']}" for s in skipped[:10]]
        if len(skipped) > 10:
            lines.append(f"    ... and {len(skipped) - 10} more")
    return "\n".join(lines)
