"""Benchmark `prepare` on a synthetic folder of large JPEGs; prints JSON.

    python bench/prepare.py [--n 48] [--megapixels 12] [--workers 0]

Reports photos/s and MB/s of the whole run (both cores by default), and, single-threaded, the
decode time of one photo at full size vs. Pillow's reduced-size `draft` decode that prepare uses.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from polychromify.data.images import open_image
from polychromify.data.prepare import PrepareConfig, prepare
from polychromify.precision import machine


def synthetic_photo(seed: int, megapixels: float) -> Image.Image:
    """A smooth, colourful, camera-sized image (low-frequency colour field + grain), JPEG-friendly."""
    rng = np.random.default_rng(seed)
    w = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    h = int(w * 3 / 4)
    coarse = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), "RGB")
    im = np.asarray(coarse.resize((w, h), Image.Resampling.BICUBIC), dtype=np.int16)
    im = im + rng.integers(-6, 7, (h, w, 1), dtype=np.int16)
    return Image.fromarray(np.clip(im, 0, 255).astype(np.uint8), "RGB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--workers", type=int, default=0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "photos")
        src.mkdir()
        for i in range(a.n):
            synthetic_photo(i, a.megapixels).save(src / f"{i:04d}.jpg", quality=90)
        mb = sum(p.stat().st_size for p in src.iterdir()) / 1e6
        t0 = time.perf_counter()
        m = prepare(src, Path(tmp, "ds"), PrepareConfig(workers=a.workers), progress=False)
        dt = time.perf_counter() - t0
        one = src / "0000.jpg"
        t_full = _best(lambda: open_image(one))
        t_draft = _best(lambda: open_image(one, min_size=128))
    print(
        json.dumps(
            {
                "benchmark": "prepare",
                "machine": machine(),
                "photos": a.n,
                "megapixels": a.megapixels,
                "input_mb": round(mb, 1),
                "workers": a.workers or os.cpu_count(),
                "samples": sum(m["counts"].values()),
                "seconds": round(dt, 2),
                "photos_per_s": round(a.n / dt, 2),
                "mb_per_s": round(mb / dt, 2),
                "decode_full_s": round(t_full, 4),
                "decode_draft_s": round(t_draft, 4),
                "draft_speedup": round(t_full / t_draft, 1),
                "est_minutes_kaggle_4319": round(4319 / (a.n / dt) / 60, 1),
            },
            indent=1,
        )
    )


def _best(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


if __name__ == "__main__":
    main()
