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

`stabilisation` compares the ways of holding colours over time on 640x360 clips made from real colour
photos (`--photos`, default samples/color), each turned grey and scored against its colour truth:
`film`, a grainy two-shot film (a slow pan, 1 px a frame, across each of two photos, film grain added);
`object`, a cut-out of one photo (an ellipse) sliding across another, the camera still. Methods:
`per_frame` (the network on every frame alone: --every 1 --smooth 0), `smooth0` (--smooth 0 with the
default --every 2), `old` (the smoothing before 2026-12: --no-motion --smooth 0.7), `new` (the defaults:
motion-compensated stabilisation), and `new_S` for each of --strengths. Scores: `flicker` (the report's:
mean |ab change| between frames in CIELAB units, on the network's grid); `warp_error` (Lai et al. 2018, on
the output frames, with Farneback's flow on the clean grey frames: not the stabiliser's DIS flow);
`cdc` (TCVC's colour distribution consistency); `psnr` and `delta_e` (CIEDE2000) against the truth, mean
over frames; for `object`, `psnr_uncovered` / `delta_e_uncovered` over the pixels the object covered in
one of the 8 frames before and no longer covers (where a trail of its colour would show), and
`psnr_moving` over the object itself (pooled over the frames). `speed` gives 720p frames/s of the three
with the default preset, and the time the flow takes per frame.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

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


SAMPLES = Path(__file__).parents[1] / "samples" / "color"
SECTIONS = ("results", "speed", "pan", "presets", "stabilisation")
UNCOVERED_FRAMES = 8  # how long after the object left a pixel its colour could still trail there
METHODS = {  # colorize_video settings; `new` takes the library's defaults
    "per_frame": {"every": 1, "smooth": 0.0},
    "smooth0": {"smooth": 0.0, "motion": False},
    "old": {"smooth": 0.7, "motion": False},
    "new": {},
}


def cover(photo: Path, w: int, h: int) -> np.ndarray:
    """The photo scaled to cover w x h and centre-cropped: (h,w,3) uint8."""
    img = Image.open(photo).convert("RGB")
    scale = max(w / img.width, h / img.height)
    img = img.resize((max(w, round(img.width * scale)), max(h, round(img.height * scale))), Image.LANCZOS)
    left, top = (img.width - w) // 2, (img.height - h) // 2
    return np.asarray(img.crop((left, top, left + w, top + h)))


def grey_of(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).convert("L"))


def write_grey(path: Path, greys: list[np.ndarray], fps: int = 25) -> None:
    """A grey film as `polychromify video` would get one: H.264 4:2:0 at --crf 12."""
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = greys[0].shape[1], greys[0].shape[0], "yuv420p"
        s.options = {"crf": "12"}
        for g in greys:
            out.mux(s.encode(av.VideoFrame.from_ndarray(np.repeat(g[..., None], 3, 2), format="rgb24")))
        out.mux(s.encode(None))


def film_clip(
    path: Path, photos: list[Path], frames: int, w: int = 640, h: int = 360, step: int = 1, grain: float = 6.0
) -> tuple[list[np.ndarray], list[int]]:
    """A grainy film, one shot per photo: a slow pan (`step` px a frame) across it, grain (std `grain`
    grey levels) on the grey frames. Returns the colour truth and the frames that start a shot."""
    rng = np.random.default_rng(0)
    truth, cuts, greys = [], [], []
    for photo in photos:
        wide = cover(photo, w + step * frames, h)
        cuts.append(len(truth))
        for i in range(frames):
            rgb = wide[:, i * step : i * step + w]
            truth.append(rgb)
            greys.append(np.clip(grey_of(rgb) + rng.normal(0, grain, (h, w)), 0, 255).astype(np.uint8))
    write_grey(path, greys)
    return truth, cuts[1:]


def object_clip(
    path: Path, background: Path, cutout: Path, frames: int, w: int = 640, h: int = 360, speed: int = 6
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A cut-out of `cutout` (an ellipse, 45% of the height) sliding across `background` at `speed` px a
    frame, the camera still, mild grain. Returns the colour truth and the object's mask per frame."""
    rng = np.random.default_rng(1)
    bg = cover(background, w, h)
    oh = int(0.45 * h)
    ow = int(1.4 * oh)
    obj = cover(cutout, ow, oh)
    shape = Image.new("L", (ow, oh))
    ImageDraw.Draw(shape).ellipse((0, 0, ow - 1, oh - 1), fill=255)
    shape = np.asarray(shape) > 0
    top, x0 = (h - oh) // 2, (w - speed * frames - ow) // 2
    truth, masks, greys = [], [], []
    for i in range(frames):
        x = x0 + i * speed
        mask = np.zeros((h, w), bool)
        mask[top : top + oh, x : x + ow] = shape
        rgb = bg.copy()
        rgb[top : top + oh, x : x + ow][shape] = obj[shape]
        truth.append(rgb)
        masks.append(mask)
        greys.append(np.clip(grey_of(rgb) + rng.normal(0, 3, (h, w)), 0, 255).astype(np.uint8))
    write_grey(path, greys)
    return truth, masks


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def scores(out: list[np.ndarray], truth: list[np.ndarray], cuts: list[int], masks=None) -> dict:
    """Temporal scores of the output frames and their fidelity to the truth (see the module's doc)."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    from polychromify.flow import TemporalScores
    from polychromify.metrics import psnr

    temporal = TemporalScores()
    psnrs, des = [], []
    sq = {"uncovered": 0.0, "moving": 0.0}  # squared RGB error summed over the region's pixels
    count = {"uncovered": 0, "moving": 0}
    de_uncovered = 0.0
    for t, (o, r) in enumerate(zip(out, truth, strict=True)):
        temporal.add(o, grey_of(r), t in cuts)  # the flow on the clean grey frames
        psnrs.append(psnr(o, r))
        de = deltaE_ciede2000(rgb2lab(o), rgb2lab(r))
        des.append(float(de.mean()))
        if masks is not None and t > 0:
            err = ((o.astype(np.float64) - r) ** 2).sum(-1)
            uncovered = np.any(masks[max(0, t - UNCOVERED_FRAMES) : t], axis=0) & ~masks[t]
            for name, m in (("uncovered", uncovered), ("moving", masks[t])):
                sq[name] += float(err[m].sum())
                count[name] += int(m.sum())
            de_uncovered += float(de[uncovered].sum())
    row = {
        "warp_error": round(temporal.warp_error, 6),
        "cdc": round(temporal.cdc, 6),
        "psnr": round(float(np.mean(psnrs)), 3),
        "delta_e": round(float(np.mean(des)), 3),
    }
    if masks is not None:
        for name in ("uncovered", "moving"):
            row[f"psnr_{name}"] = round(float(10 * np.log10(255**2 / (sq[name] / (3 * count[name])))), 3)
        row["delta_e_uncovered"] = round(de_uncovered / count["uncovered"], 3)
    return row


def stabilisation(tmp: Path, colorizer, photos: list[Path], frames: int, strengths: list[float]) -> dict:
    """Every method on each clip: the film from photos 0 and 1, the object (from photo 3) over photo 2."""
    from polychromify.video import colorize_video

    methods = dict(METHODS) | {f"new_{s}": {"smooth": s} for s in strengths}
    film_truth, film_cuts = film_clip(tmp / "film.mp4", photos[:2], frames // 2)
    object_truth, object_masks = object_clip(tmp / "object.mp4", photos[2], photos[3], frames)
    clips = {"film": (film_truth, film_cuts, None), "object": (object_truth, [], object_masks)}
    out: dict = {"photos": [p.name for p in photos[:4]]}
    for clip, (truth, cuts, masks) in clips.items():
        out[clip] = {}
        for name, settings in methods.items():
            dst = tmp / f"{clip}-{name}.mp4"
            r = colorize_video(
                tmp / f"{clip}.mp4", dst, colorizer, progress=False, overwrite=True, **settings
            )
            out[clip][name] = {
                "settings": settings,
                "flicker": r["flicker"],
                **scores(decode(dst), truth, cuts, masks),
                "restarts": r["restarts"],
                "cuts": r["cuts"],
            }
    return out


def speed(tmp: Path, colorizer, frames: int, preset: str) -> dict:
    """720p frames/s of per-frame colorization, the old smoothing and the new, with `preset`."""
    from polychromify.video import colorize_video

    src = tmp / "speed.mp4"
    make_clip(src, 1280, 720, frames)
    rows = {}
    for name, settings in METHODS.items():
        dst = tmp / f"speed-{name}.mp4"
        r = colorize_video(src, dst, colorizer, preset=preset, progress=False, **settings)
        rows[name] = {"frames_per_s": r["frames_per_s"], "flow_ms_per_frame": r["flow_ms_per_frame"]}
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
    ap.add_argument("--smooth", type=float, help="--smooth for `results` (default: polychromify's)")
    ap.add_argument("--every", type=int, default=2, help="network on every Nth frame (the default)")
    ap.add_argument("--model", default="default")
    ap.add_argument("--preset", default="superfast", help="x264 preset (default: polychromify's)")
    ap.add_argument("--precision", default="auto", choices=PRECISIONS)
    ap.add_argument("--omp", default="passive", choices=("passive", "spin"), help="OpenMP wait policy")
    ap.add_argument("--photos", type=Path, default=SAMPLES, help="colour photos for `stabilisation`")
    ap.add_argument("--sets", type=int, default=1, help="clip sets, 4 photos each (drawn at random past 1)")
    ap.add_argument(
        "--strengths", default="", help="comma-separated --smooth values to add to `stabilisation`"
    )
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"some of {','.join(SECTIONS)}")
    a = ap.parse_args()
    sections = set(a.sections.split(","))
    strengths = [float(x) for x in a.strengths.split(",") if x]
    photos = sorted(p for p in a.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    keep_freed_memory()  # as `polychromify` does
    if a.omp == "passive":  # as `polychromify video` does, before torch loads
        share_cores_with_codecs()
    elif os.environ.get("OMP_WAIT_POLICY") == "PASSIVE":  # `import polychromify` set it: back to libgomp's
        os.environ["OMP_WAIT_POLICY"] = ""  # default (an empty value is taken as unset, with a warning)
    from polychromify.color import build_tables
    from polychromify.inference import Colorizer
    from polychromify.video import colorize_video

    colorizer = Colorizer(a.model, precision=a.precision, mirror=False)  # as `polychromify video` runs
    t0 = time.perf_counter()
    build_tables()  # once per process, before any frame: reported apart from the frame rate
    tables_s = time.perf_counter() - t0
    out = {"benchmark": "video", "machine": machine(), "model": a.model, "tables_s": round(tables_s, 2)}
    smooth = {} if a.smooth is None else {"smooth": a.smooth}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for w, h in ((1280, 720), (640, 480)) if "results" in sections else ():
            src, dst = Path(tmp, f"{w}x{h}.mp4"), Path(tmp, f"out{w}.mp4")
            make_clip(src, w, h, a.frames)
            r = colorize_video(src, dst, colorizer, preset=a.preset, progress=False, every=a.every, **smooth)
            ceiling = transcode(src, Path(tmp, f"copy{w}.mp4"), a.preset)
            results.append(
                {
                    "size": f"{w}x{h}",
                    "frames": r["frames"],
                    "frames_per_s": r["frames_per_s"],
                    "transcode_frames_per_s": round(ceiling, 2),
                    "flicker": r["flicker"],
                    "flicker_unsmoothed": r["flicker_unsmoothed"],
                    "smooth": r["smooth"],
                    "flow_ms_per_frame": r["flow_ms_per_frame"],
                    "every": a.every,
                    "network_frames": r["network_frames"],
                    "preset": a.preset,
                    "precision": colorizer.precision,
                    "omp": a.omp,
                    "megabytes": round(dst.stat().st_size / 1e6, 2),
                }
            )
    if results:
        out["results"] = results
    with tempfile.TemporaryDirectory() as tmp:
        if "speed" in sections:
            out["speed_720p"] = speed(Path(tmp), colorizer, a.frames, a.preset)
        if "pan" in sections:
            out["pan"] = []
            for step in (4, 16):
                (Path(tmp) / str(step)).mkdir()
                out["pan"].append(
                    pan_quality(Path(tmp) / str(step), colorizer, a.every, min(a.frames, 48), step)
                )
        if "presets" in sections:
            out["presets"] = preset_costs(Path(tmp), min(a.frames, 48))
        if "stabilisation" in sections:
            rng = np.random.default_rng(0)
            draws = [photos[:4]] + [list(rng.choice(photos, 4, replace=False)) for _ in range(a.sets - 1)]
            out["stabilisation"] = [
                stabilisation(Path(tmp), colorizer, draw, min(a.frames, 48), strengths) for draw in draws
            ]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
