"""Benchmark video colorization with a model (default: the shipped one); prints JSON.

    python bench/video.py [--frames 60] [--smooth 0.7] [--preset veryfast] [--precision auto] [--omp passive]

Generates a grey clip with grain at 1280x720 and 640x480 (libx264), colorizes it end to end (decode,
predict, smooth, compose, encode) and reports frames/s and the flicker figure with and without smoothing.
The ceiling comes from the same run: `transcode_frames_per_s` decodes and re-encodes the clip with the
same preset and no colorization at all. The colour tables are built first, once per process, and their
time is reported apart (`tables_s`). `--omp spin` keeps OpenMP's default busy-waiting, which
`polychromify video` turns off (OMP_WAIT_POLICY=PASSIVE) before torch loads.
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

from polychromify.precision import PRECISIONS, machine  # these load no torch: OpenMP settings must precede it
from polychromify.runtime import keep_freed_memory, share_cores_with_codecs


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


def transcode(src: Path, dst: Path, preset: str, crf: int = 18) -> float:
    """Decode and re-encode `src` as `polychromify video` writes it, with no colorization: frames/s."""
    start = time.perf_counter()
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        s = out.add_stream("libx264", rate=vin.average_rate)
        s.width, s.height, s.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        s.options = {"crf": str(crf), "preset": preset}
        frames = 0
        for frame in inp.decode(vin):
            out.mux(s.encode(av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")))
            frames += 1
        out.mux(s.encode(None))
    return frames / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--smooth", type=float, default=0.7)
    ap.add_argument("--model", default="default")
    ap.add_argument("--preset", default="veryfast", help="x264 preset")
    ap.add_argument("--precision", default="auto", choices=PRECISIONS)
    ap.add_argument("--omp", default="passive", choices=("passive", "spin"), help="OpenMP wait policy")
    a = ap.parse_args()
    keep_freed_memory()  # as `polychromify` does
    if a.omp == "passive":  # as `polychromify video` does, before torch loads
        share_cores_with_codecs()
    from polychromify.color import build_tables
    from polychromify.inference import Colorizer
    from polychromify.video import colorize_video

    colorizer = Colorizer(a.model, precision=a.precision)
    t0 = time.perf_counter()
    build_tables()  # once per process, before any frame: reported apart from the frame rate
    tables_s = time.perf_counter() - t0
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for w, h in ((1280, 720), (640, 480)):
            src, dst = Path(tmp, f"{w}x{h}.mp4"), Path(tmp, f"out{w}.mp4")
            make_clip(src, w, h, a.frames)
            r = colorize_video(src, dst, colorizer, smooth=a.smooth, preset=a.preset, progress=False)
            ceiling = transcode(src, Path(tmp, f"copy{w}.mp4"), a.preset)
            results.append(
                {
                    "size": f"{w}x{h}",
                    "frames": r["frames"],
                    "frames_per_s": r["frames_per_s"],
                    "transcode_frames_per_s": round(ceiling, 2),
                    "flicker": r["flicker"],
                    "flicker_unsmoothed": r["flicker_unsmoothed"],
                    "smooth": a.smooth,
                    "preset": a.preset,
                    "precision": colorizer.precision,
                    "omp": a.omp,
                    "megabytes": round(dst.stat().st_size / 1e6, 2),
                }
            )
    out = {
        "benchmark": "video",
        "machine": machine(),
        "model": a.model,
        "tables_s": round(tables_s, 2),
        "results": results,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
