"""Benchmark video colorization with a model (default: the shipped one); prints JSON.

    python bench/video.py [--frames 60] [--every 2] [--preset superfast] [--precision auto] [--omp passive]

Generates a grey clip with grain at 1280x720 and 640x480 (libx264), colorizes it end to end (decode,
predict, smooth, compose, encode) and reports frames/s and the flicker figure with and without smoothing.
The ceiling comes from the same run: `transcode_frames_per_s` decodes and re-encodes the clip with the
same preset and no colorization at all. The colour tables are built first, once per process, and their
time is reported apart (`tables_s`). `--omp spin` keeps OpenMP's default busy-waiting, which
`polychromify video` turns off (OMP_WAIT_POLICY=PASSIVE) before torch loads.

`pan` measures what `--every` costs in colour: 1280x720 pans across a real colour photo (samples/, 4 and
16 px a frame: slow and quick at 25 frames/s), turned grey, colorized with the network on every frame and
on every --every-th, each scored against the colour frames it came from (PSNR of the RGB frames, mean
over frames), and the two outputs against each other. `presets` measures what the fast x264 presets cost:
the colour frames of that pan encoded at --crf 18 with veryfast, superfast and ultrafast (size, PSNR
against the frames, encoding frames/s).
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


def pan_clip(path: Path, frames: int, w: int = 1280, h: int = 720, step: int = 4) -> list[np.ndarray]:
    """A grey clip panning across a real colour photo; returns the colour frames it was made from."""
    photo = Image.open(Path(__file__).parents[1] / "samples" / "color" / "lxqt-themes--Valendas.jpg")
    scale = max(h / photo.height, (w + step * frames) / photo.width)
    big = np.asarray(photo.convert("RGB").resize((round(photo.width * scale), round(photo.height * scale))))
    top = (big.shape[0] - h) // 2
    truth = [big[top : top + h, i * step : i * step + w] for i in range(frames)]
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"crf": "12"}
        for rgb in truth:
            grey = np.asarray(Image.fromarray(rgb).convert("L").convert("RGB"))
            out.mux(s.encode(av.VideoFrame.from_ndarray(grey, format="rgb24")))
        out.mux(s.encode(None))
    return truth


def pan_quality(tmp: Path, colorizer, every: int, frames: int, step: int = 4) -> dict:
    """PSNR against the colour truth of the pan colorized with the network on every frame and every Nth."""
    from polychromify.metrics import psnr
    from polychromify.video import colorize_video

    truth = pan_clip(tmp / "pan.mp4", frames, step=step)
    outs = {}
    for n in sorted({1, every}):
        colorize_video(tmp / "pan.mp4", tmp / f"pan{n}.mp4", colorizer, progress=False, every=n)
        with av.open(str(tmp / f"pan{n}.mp4")) as c:
            outs[n] = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    score = {
        f"psnr_every_{n}": round(float(np.mean([psnr(o, t) for o, t in zip(v, truth, strict=True)])), 3)
        for n, v in outs.items()
    }
    pairs = zip(outs[1], outs[every], strict=True)
    between = np.mean([psnr(x, y) for x, y in pairs]) if every != 1 else float("inf")
    return {
        "frames": frames,
        "px_per_frame": step,
        **score,
        f"psnr_every_1_vs_{every}": round(float(between), 2),
    }


def preset_costs(tmp: Path, frames: int) -> list[dict]:
    """What each fast x264 preset costs at --crf 18: the colour frames of the pan (a real photo, 720p)
    encoded as `polychromify video` encodes, then decoded: file size, PSNR against the frames, encoding
    frames/s."""
    from polychromify.metrics import psnr

    truth = pan_clip(tmp / "grey.mp4", frames)
    rows = []
    for preset in ("veryfast", "superfast", "ultrafast"):
        path, start = tmp / f"{preset}.mp4", time.perf_counter()
        with av.open(str(path), "w") as out:
            s = out.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = truth[0].shape[1], truth[0].shape[0], "yuv420p"
            s.options = {"crf": "18", "preset": preset}
            for rgb in truth:
                out.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")))
            out.mux(s.encode(None))
        seconds = time.perf_counter() - start
        with av.open(str(path)) as c:
            back = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        rows.append(
            {
                "preset": preset,
                "megabytes": round(path.stat().st_size / 1e6, 2),
                "psnr": round(float(np.mean([psnr(b, t) for b, t in zip(back, truth, strict=True)])), 2),
                "encode_frames_per_s": round(len(truth) / seconds, 1),
            }
        )
    return rows


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
    ap.add_argument("--every", type=int, default=2, help="network on every Nth frame (the default)")
    ap.add_argument("--model", default="default")
    ap.add_argument("--preset", default="superfast", help="x264 preset (default: polychromify's)")
    ap.add_argument("--precision", default="auto", choices=PRECISIONS)
    ap.add_argument("--omp", default="passive", choices=("passive", "spin"), help="OpenMP wait policy")
    a = ap.parse_args()
    keep_freed_memory()  # as `polychromify` does
    if a.omp == "passive":  # as `polychromify video` does, before torch loads
        share_cores_with_codecs()
    from polychromify.color import build_tables
    from polychromify.inference import Colorizer
    from polychromify.video import colorize_video

    colorizer = Colorizer(a.model, precision=a.precision, mirror=False)  # as `polychromify video` runs
    t0 = time.perf_counter()
    build_tables()  # once per process, before any frame: reported apart from the frame rate
    tables_s = time.perf_counter() - t0
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for w, h in ((1280, 720), (640, 480)):
            src, dst = Path(tmp, f"{w}x{h}.mp4"), Path(tmp, f"out{w}.mp4")
            make_clip(src, w, h, a.frames)
            r = colorize_video(
                src, dst, colorizer, smooth=a.smooth, preset=a.preset, progress=False, every=a.every
            )
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
                    "every": a.every,
                    "network_frames": r["network_frames"],
                    "preset": a.preset,
                    "precision": colorizer.precision,
                    "omp": a.omp,
                    "megabytes": round(dst.stat().st_size / 1e6, 2),
                }
            )
    with tempfile.TemporaryDirectory() as tmp:
        pan = []
        for step in (4, 16):
            (Path(tmp) / str(step)).mkdir()
            pan.append(pan_quality(Path(tmp) / str(step), colorizer, a.every, min(a.frames, 48), step))
        presets = preset_costs(Path(tmp), min(a.frames, 48))
    out = {
        "benchmark": "video",
        "machine": machine(),
        "model": a.model,
        "tables_s": round(tables_s, 2),
        "results": results,
        "pan": pan,
        "presets": presets,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
