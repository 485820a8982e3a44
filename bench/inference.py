"""Benchmark inference of a model (default: the shipped one); prints JSON.

    python bench/inference.py [--model default] [--repeats 5] [--threads 0] [--precision auto] [--compare]

- images/s of the network alone at its input size (longer side 256), batch 8, channels-last as the
  Colorizer runs it;
- seconds per 12-megapixel grey JPEG end to end as `polychromify colorize` does it (decode, predict,
  upsample, Lab->RGB table, JPEG encode and write), with the time of each stage, median of --repeats;
  and the colorize stage again without mirror averaging (`--no-mirror`, as `video` runs) and with a
  reference photo's colours (`--reference`), in the same loop;
- the Python API, `colorize(img)` on the same photo as a 12-MP colour PIL image (greyed inside, a PIL image
  back), and its time over the command line's end to end (`api_over_cli`);
- with --compare, the same for PyTorch fp32 and bf16 and for onnxruntime (`--runtime onnx`, fp32) in the
  same run, in `runs`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from polychromify.inference import Colorizer, Reference, colorize
from polychromify.photos import _read, _save
from polychromify.precision import PRECISIONS, autocast, machine
from polychromify.runtime import keep_freed_memory


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def synthetic_grey_photo(w: int = 4000, h: int = 3000) -> Image.Image:
    rng = np.random.default_rng(0)
    coarse = Image.fromarray(rng.integers(0, 256, (6, 8), dtype=np.uint8), "L")
    im = np.asarray(coarse.resize((w, h), Image.Resampling.BICUBIC), dtype=np.int16)
    return Image.fromarray(np.clip(im + rng.integers(-6, 7, (h, w)), 0, 255).astype(np.uint8), "L")


def synthetic_colour_photo(w: int = 4000, h: int = 3000) -> Image.Image:
    """The grey photo's pixels with colours: what a caller of `colorize(img)` hands over (a PIL image)."""
    grey = np.asarray(synthetic_grey_photo(w, h), dtype=np.float32)
    tint = np.linspace(0.6, 1.0, w, dtype=np.float32)[None, :]
    rgb = np.stack([grey, grey * 0.9 + 20, grey * tint], -1)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def make_reference() -> Image.Image:
    """A 640x480 colour photo stand-in: a sky-to-grass gradient with noise."""
    rng = np.random.default_rng(1)
    t = np.linspace(0, 1, 480)[:, None, None]
    img = (1 - t) * np.array([70, 130, 220]) + t * np.array([80, 150, 40]) + rng.normal(0, 10, (480, 640, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def measure(model: str, runtime: str, precision: str, repeats: int) -> dict:
    """Network images/s at 256x192 (batch 8) and a 12-MP photo end to end, for one runtime and precision."""
    c = Colorizer(model, precision=precision, runtime=runtime)
    once = Colorizer(model, precision=precision, runtime=runtime, mirror=False)
    for warm in (c, once):
        warm.colorize_array(np.zeros((64, 64), np.uint8))  # warm-up, builds the Lab->RGB table
    x = torch.zeros(8, 1, 192, 256).contiguous(memory_format=torch.channels_last)
    hints = torch.zeros(8, 3, 192, 256).contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), autocast("cpu", c.precision):
        net = _median_time(lambda: c.model.predict_ab(x, hints if c.takes_hints else None), repeats)

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "photo.jpg")
        synthetic_grey_photo().save(src, quality=90)
        stages: dict[str, list[float]] = {"decode": [], "colorize": [], "encode": []}
        ref = Reference.of(np.asarray(make_reference())) if c.takes_reference else None
        with_reference, without_mirror, api = [], [], []
        # the Python API on the same photo as a colour PIL image (greyed inside), as a caller would
        colour = synthetic_colour_photo() if runtime == "torch" else None
        if colour is not None:
            colorize(colour, model, precision=precision)  # loads and keeps the model
        for _ in range(repeats):
            t0 = time.perf_counter()
            photo = _read(src)
            t1 = time.perf_counter()
            out = c.colorize_array(photo)
            t2 = time.perf_counter()
            _save(out, Path(tmp, "out.jpg"))
            t3 = time.perf_counter()
            for k, v in zip(stages, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                stages[k].append(v)
            t0 = time.perf_counter()
            once.colorize_array(photo)
            without_mirror.append(time.perf_counter() - t0)
            if colour is not None:  # in the same loop as the command line's stages: the same drift
                t0 = time.perf_counter()
                colorize(colour, model, precision=precision)
                api.append(time.perf_counter() - t0)
            if ref is not None:
                t0 = time.perf_counter()
                c.colorize_array(photo, reference=ref)
                with_reference.append(time.perf_counter() - t0)
    per_stage = {k: round(statistics.median(v), 3) for k, v in stages.items()}
    return {
        "runtime": runtime,
        "precision": c.precision,
        "precision_asked": precision,
        "precision_reason": c.choice.reason,
        "net_images_per_s": round(8 / net, 1),
        "photo_12mp_seconds": round(sum(per_stage.values()), 3),
        "photo_12mp_stages_s": per_stage,
        "colorize_12mp_without_mirror_s": round(statistics.median(without_mirror), 3),
        "colorize_12mp_with_reference_s": round(statistics.median(with_reference), 3) if ref else None,
        "api_colour_12mp_s": round(statistics.median(api), 3) if api else None,  # colorize(PIL) -> PIL
        "api_over_cli": round(statistics.median(api) / sum(per_stage.values()), 2) if api else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="default")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--precision", default="auto", choices=PRECISIONS)
    ap.add_argument("--compare", action="store_true", help="also torch fp32 and bf16, and onnxruntime")
    ap.add_argument("--malloc", choices=("keep", "glibc"), default="keep", help="keep: as polychromify runs")
    a = ap.parse_args()
    if a.malloc == "keep":
        keep_freed_memory()
    if a.threads:
        torch.set_num_threads(a.threads)
    first = measure(a.model, "torch", a.precision, a.repeats)
    others = [("torch", "fp32"), ("torch", "bf16"), ("onnx", "fp32")] if a.compare else []
    runs = [first] + [measure(a.model, r, p, a.repeats) for r, p in others]
    out = {
        "benchmark": "inference",
        "machine": machine(),
        "model": a.model,
        "threads": torch.get_num_threads(),
        "net_input": [192, 256],
        **{k: v for k, v in first.items() if k != "runtime"},
    }
    if a.compare:
        out["runs"] = runs
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
