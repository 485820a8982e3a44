"""Benchmark video colorization with a model (default: the shipped one); prints JSON.

    python bench/video.py [--frames 60] [--smooth 0.7] [--preset veryfast] [--precision fp32]

Generates a grey clip with grain at 1280x720 and 640x480 (libx264), colorizes it end to end (decode,
predict, smooth, compose, encode) and reports frames/s and the flicker figure with and without smoothing.
The colour tables are built first, once per process, and their time is reported apart (`tables_s`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image

from polychromify.color import build_tables
from polychromify.inference import Colorizer
from polychromify.precision import PRECISIONS
from polychromify.video import colorize_video


def make_clip(path: Path, w: int, h: int, frames: int, fps: int = 25) -> None:
    rng = np.random.default_rng(0)
    coarse = Image.fromarray(rng.integers(0, 256, (6, 8), dtype=np.uint8), "L")
    base = np.asarray(coarse.resize((w + frames, h), Image.Resampling.BICUBIC), dtype=np.float32)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(frames):  # a slow pan with film grain
            grey = np.clip(base[:, i : i + w] + rng.normal(0, 6, (h, w)), 0, 255).astype(np.uint8)
            out.mux(s.encode(av.VideoFrame.from_ndarray(np.repeat(grey[..., None], 3, 2), format="rgb24")))
        out.mux(s.encode(None))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--smooth", type=float, default=0.7)
    ap.add_argument("--model", default="default")
    ap.add_argument("--preset", default="veryfast", help="x264 preset")
    ap.add_argument("--precision", default="fp32", choices=PRECISIONS)
    a = ap.parse_args()
    colorizer = Colorizer(a.model, precision=a.precision)
    t0 = time.perf_counter()
    build_tables()  # once per process, before any frame: reported apart from the frame rate
    tables_s = time.perf_counter() - t0
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for w, h in ((1280, 720), (640, 480)):
            src = Path(tmp, f"{w}x{h}.mp4")
            make_clip(src, w, h, a.frames)
            r = colorize_video(
                src, Path(tmp, f"out{w}.mp4"), colorizer, smooth=a.smooth, preset=a.preset, progress=False
            )
            results.append(
                {
                    "size": f"{w}x{h}",
                    "frames": r["frames"],
                    "frames_per_s": r["frames_per_s"],
                    "flicker": r["flicker"],
                    "flicker_unsmoothed": r["flicker_unsmoothed"],
                    "smooth": a.smooth,
                    "preset": a.preset,
                    "precision": a.precision,
                    "megabytes": round(Path(tmp, f"out{w}.mp4").stat().st_size / 1e6, 2),
                }
            )
    out = {"benchmark": "video", "model": a.model, "tables_s": round(tables_s, 2), "results": results}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
