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
import itertools
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
    write_grey(path, [grey_of(rgb) for rgb in truth])
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
        encode([np.ascontiguousarray(rgb) for rgb in truth], path, preset)
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
SECTIONS = ("results", "speed", "pan", "presets", "stabilisation", "keyframes", "films")
FILMS = Path(__file__).parents[1].parent / "shared" / "data" / "films"
FILM_HINTS = Path(__file__).with_name("film_keyframes.json")
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


def grainy(truth: list[np.ndarray], grain: float, seed: int) -> list[np.ndarray]:
    """The grey frames of colour frames, film grain (std `grain` grey levels) added."""
    rng = np.random.default_rng(seed)
    return [np.clip(grey_of(t) + rng.normal(0, grain, t.shape[:2]), 0, 255).astype(np.uint8) for t in truth]


def pan_frames(
    photos: list[Path], frames: int, w: int = 640, h: int = 360, step: int = 1
) -> tuple[list[np.ndarray], list[int]]:
    """One shot per photo, a slow pan (`step` px a frame) across it: the colour frames and the frames
    that start a shot."""
    truth, firsts = [], []
    for photo in photos:
        wide = cover(photo, w + step * frames, h)
        firsts.append(len(truth))
        truth += [wide[:, i * step : i * step + w] for i in range(frames)]
    return truth, firsts


def object_frames(
    background: Path, cutout: Path, frames: int, w: int = 640, h: int = 360, speed: int = 6
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A cut-out of `cutout` (an ellipse, 45% of the height) sliding across `background` at `speed` px a
    frame, the camera still: the colour frames and the object's mask per frame."""
    bg = cover(background, w, h)
    oh = int(0.45 * h)
    ow = int(1.4 * oh)
    obj = cover(cutout, ow, oh)
    shape = Image.new("L", (ow, oh))
    ImageDraw.Draw(shape).ellipse((0, 0, ow - 1, oh - 1), fill=255)
    shape = np.asarray(shape) > 0
    top, x0 = (h - oh) // 2, (w - speed * frames - ow) // 2
    truth, masks = [], []
    for i in range(frames):
        x = x0 + i * speed
        mask = np.zeros((h, w), bool)
        mask[top : top + oh, x : x + ow] = shape
        rgb = bg.copy()
        rgb[top : top + oh, x : x + ow][shape] = obj[shape]
        truth.append(rgb)
        masks.append(mask)
    return truth, masks


def film_clip(
    path: Path, photos: list[Path], frames: int, w: int = 640, h: int = 360, step: int = 1, grain: float = 6.0
) -> tuple[list[np.ndarray], list[int]]:
    """A grainy film of `pan_frames`, grain of std `grain` grey levels. Returns the colour truth and the
    frames that start a shot after the first."""
    truth, firsts = pan_frames(photos, frames, w, h, step)
    write_grey(path, grainy(truth, grain, 0))
    return truth, firsts[1:]


def object_clip(
    path: Path, background: Path, cutout: Path, frames: int, w: int = 640, h: int = 360, speed: int = 6
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The film of `object_frames`, mild grain. Returns the colour truth and the object's mask per frame."""
    truth, masks = object_frames(background, cutout, frames, w, h, speed)
    write_grey(path, grainy(truth, 3.0, 1))
    return truth, masks


def keyed_film(path: Path, photos: list[Path], frames: int, w: int = 640, h: int = 360) -> tuple:
    """#46's film: a grainy slow pan across photos[0] (1 px a frame), then a cut to a cut-out of photos[2]
    sliding across photos[1], the camera still. Returns the colour truth, the shots' first frames and the
    object's masks (None in the pan)."""
    pan, _ = pan_frames(photos[:1], frames, w, h)
    still, masks = object_frames(photos[1], photos[2], frames, w, h)
    write_grey(path, grainy(pan + still, 6.0, 0))
    return pan + still, [0, frames], [None] * frames + masks


def ab_scores(out: list[np.ndarray], truth: list[np.ndarray], shots: list[int], masks: list) -> dict:
    """Fidelity of the colours alone against the truth: per frame, the mean ab distance (CIELAB units)
    and the hue accuracy (metrics.hue_counts); the ab distance on the pixels the object uncovered in the 8
    frames before; and per shot the ab flicker along the motion: |ab_t - ab_{t-1} warped onto t| (Farneback
    flow of the clean grey frames, non-occluded pixels, frames at half size), for the output and the truth."""
    import cv2
    import torch

    from polychromify.color import rgb_to_lab
    from polychromify.flow import farneback_flow, occluded, warp
    from polychromify.metrics import hue_accuracy, hue_counts

    def half(x: np.ndarray) -> np.ndarray:
        return cv2.resize(x, (x.shape[1] // 2, x.shape[0] // 2), interpolation=cv2.INTER_AREA)

    errors, hues, moving = [], [], {"out": [], "truth": []}
    unc_sum, unc_n, prev = 0.0, 0, None
    for t, (o, r) in enumerate(zip(out, truth, strict=True)):
        ab_o, ab_r = rgb_to_lab(o)[1], rgb_to_lab(r)[1]
        dist = np.linalg.norm(ab_o - ab_r, axis=-1) * 128
        errors.append(float(dist.mean()))
        pred, true = (torch.from_numpy(a).permute(2, 0, 1)[None] for a in (ab_o, ab_r))
        hues.append(hue_accuracy([hue_counts(pred, true)])["hue_accuracy"])
        if masks[t] is not None and t > 0 and masks[t - 1] is not None:
            first = max(i for i in range(t + 1) if masks[i] is None or i in shots)
            uncovered = np.any(masks[max(first, t - UNCOVERED_FRAMES) : t], axis=0) & ~masks[t]
            unc_sum += float(dist[uncovered].sum())
            unc_n += int(uncovered.sum())
        small = (half(grey_of(r)), half(ab_o), half(ab_r))
        if prev is not None and t not in shots:
            fwd, bwd = farneback_flow(small[0], prev[0]), farneback_flow(prev[0], small[0])
            keep = ~occluded(fwd, bwd)
            for name, now, before in (("out", small[1], prev[1]), ("truth", small[2], prev[2])):
                change = np.linalg.norm(now - warp(before, fwd), axis=-1)[keep] * 128
                moving[name].append((t, float(change.mean())))
        prev = small
    bounds = [*shots, len(out)]
    per_shot = [
        {k: round(float(np.mean([v for t, v in moving[k] if a < t < b])), 4) for k in moving}
        for a, b in itertools.pairwise(bounds)
    ]
    return {
        "ab_error": round(float(np.mean(errors)), 3),
        "ab_error_uncovered": round(unc_sum / unc_n, 3) if unc_n else None,
        "hue_accuracy": round(float(np.nanmean(hues)), 4),
        "ab_flicker_along_motion": per_shot,
        "per_frame": {"ab_error": [round(e, 3) for e in errors], "hue_accuracy": [round(h, 4) for h in hues]},
    }


def keyframe_study(tmp: Path, colorizer, photos: list[Path], frames: int) -> dict:
    """#46's film from three photos, coloured automatically and with the true first frame of each shot
    as keyframe: `ab_scores` and the report's per-shot flicker (`shots`) of each."""
    from polychromify.video import colorize_video

    truth, shots, masks = keyed_film(tmp / "keyed.mp4", photos, frames)
    methods = {"auto": {}, "keyed": {"keyframes": {s: truth[s] for s in shots}}}
    out: dict = {"photos": [p.name for p in photos[:3]], "frames": len(truth), "shots": shots}
    for name, settings in methods.items():
        dst = tmp / f"keyed-{name}.mp4"
        r = colorize_video(tmp / "keyed.mp4", dst, colorizer, progress=False, overwrite=True, **settings)
        out[name] = ab_scores(decode(dst), truth, shots, masks) | {"shots": r["shots"]}
    encode(truth, tmp / "truth.mp4")  # the true colours (no grain) through the encoder `video` uses
    out["truth_encoded"] = ab_scores(decode(tmp / "truth.mp4"), truth, shots, masks)
    write_perfect(tmp / "keyed.mp4", truth, tmp / "perfect.mp4")  # the floor of a colouring of this film
    out["truth_on_film"] = ab_scores(decode(tmp / "perfect.mp4"), truth, shots, masks)
    return out


def write_perfect(src: Path, truth: list[np.ndarray], dst: Path, crf: int = 18) -> None:
    """The perfect colouring of the grey film `src`, written as `polychromify video` writes its output:
    the true colours' ab on each frame's own grainy luma (`write_colours`). A film's grain stays in its
    colouring: this is the floor of its flicker."""
    import cv2

    from polychromify.color import rgb_to_lab

    half = [cv2.resize(t, (t.shape[1] // 2, t.shape[0] // 2), interpolation=cv2.INTER_AREA) for t in truth]
    write_colours(src, [rgb_to_lab(h)[1] for h in half], dst, crf)


def write_colours(src: Path, abs_: list[np.ndarray], dst: Path, crf: int = 18, **options: str) -> None:
    """Colours ab (h,w,2) in [-1,1] per frame of the grey film `src`, at most half its size, written as
    `polychromify video` writes its output (x264 superfast, 4:2:0): each frame's own luma kept bit for bit,
    the chroma planes made by `video` (`_colour_frame`). `options`: more x264 options."""
    import torch

    from polychromify.video import _colour_frame, _decode

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        s = out.add_stream("libx264", rate=25, options={"crf": str(crf), "preset": "superfast", **options})
        vin = inp.streams.video[0].codec_context
        s.width, s.height, s.pix_fmt = vin.width, vin.height, "yuv420p"
        for i, (vf, ab) in enumerate(zip(inp.decode(video=0), abs_, strict=True)):
            ab = torch.from_numpy(np.ascontiguousarray(ab.transpose(2, 0, 1)))
            out.mux(s.encode(_colour_frame(_decode(vf, i), ab, 1.0, "yuv420p")))
        out.mux(s.encode(None))


def encode(frames: list[np.ndarray], path: Path, preset: str = "superfast", crf: int = 18) -> None:
    """Colour frames encoded as `polychromify video` encodes by default (x264, 4:2:0)."""
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25, options={"crf": str(crf), "preset": preset})
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for f in frames:
            out.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(s.encode(None))


def keyframe_summary(sets: list[dict]) -> dict:
    """The issue's figures over the sets: keyed / automatic ab error, uncovered pixels keyed - automatic,
    the curves over the distance from the shot's first frame, flicker kept by the stabiliser per shot."""

    def mean(xs):
        return round(float(np.mean(xs)), 4)

    frames = sets[0]["frames"] // 2
    curves = {}
    for name in ("auto", "keyed"):
        for key in ("ab_error", "hue_accuracy"):
            per = [s[name]["per_frame"][key] for s in sets]
            curves[f"{name}_{key}"] = [
                mean([p[d] for p in per] + [p[frames + d] for p in per]) for d in range(frames)
            ]
    kept = {  # the report's flicker over its per-frame flicker, automatic: shot 0 is the pan, 1 the still
        shot: mean(
            [s["auto"]["shots"][i]["flicker"] / s["auto"]["shots"][i]["flicker_unsmoothed"] for s in sets]
        )
        for i, shot in enumerate(("pan", "static"))
    }
    along = {
        f"{name}_{shot}": mean([s[name]["ab_flicker_along_motion"][i]["out"] for s in sets])
        for name in ("auto", "keyed", "truth_encoded", "truth_on_film")
        for i, shot in enumerate(("pan", "static"))
    }
    return {
        "sets": len(sets),
        "ab_error_auto": mean([s["auto"]["ab_error"] for s in sets]),
        "ab_error_keyed": mean([s["keyed"]["ab_error"] for s in sets]),
        "ab_error_ratio": mean([s["keyed"]["ab_error"] / s["auto"]["ab_error"] for s in sets]),
        "uncovered_auto": mean([s["auto"]["ab_error_uncovered"] for s in sets]),
        "uncovered_keyed": mean([s["keyed"]["ab_error_uncovered"] for s in sets]),
        "hue_accuracy_auto": mean([s["auto"]["hue_accuracy"] for s in sets]),
        "hue_accuracy_keyed": mean([s["keyed"]["hue_accuracy"] for s in sets]),
        "flicker_kept_auto": kept,
        "ab_flicker_along_motion": along,
        "curves_by_distance": curves,
    }


def keyframe_speed(tmp: Path, colorizer, frames: int, preset: str, rounds: int = 5) -> dict:
    """720p frames/s without and with a keyframe on the first frame (the network's own colours of it),
    one after the other, `rounds` times: the best of each, and the median of the rounds' ratios (a
    machine whose speed drifts moves both runs of a round alike)."""
    from polychromify.video import colorize_video

    src = tmp / "speed-keys.mp4"
    make_clip(src, 1280, 720, frames)
    with av.open(str(src)) as c:
        first = next(c.decode(video=0)).to_ndarray(format="gray")
    key = {0: colorizer.colorize_array(first)}
    best, ratios = {"without": 0.0, "with": 0.0}, []
    for _ in range(rounds):
        fps = {}
        for name, keys in (("without", None), ("with", key)):
            r = colorize_video(
                src, tmp / "k.mp4", colorizer, preset=preset, progress=False, overwrite=True, keyframes=keys
            )
            fps[name] = r["frames_per_s"]
            best[name] = max(best[name], fps[name])
        ratios.append(fps["with"] / fps["without"])
    return {
        "frames": frames,
        **best,
        "ratios": [round(x, 3) for x in ratios],
        "ratio": round(float(np.median(ratios)), 3),
    }


def real_films(tmp: Path, colorizer, folder: Path, pictures: Path | None) -> list[dict]:
    """Each film of `folder` named in bench/film_keyframes.json, coloured automatically and with one
    keyframe per shot made by `colorize --hint` from the shot's first frame (`video --shots`): the report's
    flicker, warp error and CDC of each; `pictures`: a strip per film (grey | automatic | keyframes, the
    middle frame of the first shot)."""
    from polychromify.inference import parse_hint
    from polychromify.video import colorize_video, export_shots

    rows = []
    for name, shots in json.loads(FILM_HINTS.read_text()).items():
        if name == "about" or not (folder / name).exists():
            continue
        film = folder / name
        firsts = export_shots(film, tmp / name, colorizer.input_size, overwrite=True)
        keys = {}
        for n, hints in shots.items():
            grey = np.asarray(Image.open(tmp / name / f"frame-{int(n):06d}.png"))
            keys[int(n)] = colorizer.colorize_array(grey, [parse_hint(h) for h in hints])
        row: dict = {"film": name, "shots": firsts, "keyframes": sorted(keys)}
        frames = {}
        for method, k in (("auto", None), ("keyed", keys)):
            dst = tmp / f"{method}-{name}"
            r = colorize_video(
                film, dst, colorizer, progress=False, overwrite=True, metrics=True, keyframes=k
            )
            row[method] = {
                x: r[x] for x in ("flicker", "flicker_unsmoothed", "warp_error", "cdc", "frames_per_s")
            }
            row[method]["shots"] = r["shots"]
            frames[method] = decode(dst)
        rows.append(row)
        if pictures is not None:
            end = firsts[1] if len(firsts) > 1 else len(frames["auto"])
            t = end // 2
            grey = np.repeat(grey_of(frames["auto"][t])[..., None], 3, 2)
            strip = np.concatenate([grey, frames["auto"][t], frames["keyed"][t]], axis=1)
            pictures.mkdir(parents=True, exist_ok=True)
            Image.fromarray(strip).save(pictures / f"{Path(name).stem}-frame-{t}.jpg", quality=88)
    return rows


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
    ap.add_argument("--films", type=Path, default=FILMS, help="folder of the films for `films`")
    ap.add_argument("--pictures", type=Path, help="with `films`: write a picture per film here")
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
            out["keyframe_speed_720p"] = keyframe_speed(Path(tmp), colorizer, a.frames, a.preset)
        if "pan" in sections:
            out["pan"] = []
            for step in (4, 16):
                (Path(tmp) / str(step)).mkdir()
                out["pan"].append(
                    pan_quality(Path(tmp) / str(step), colorizer, a.every, min(a.frames, 48), step)
                )
        if "presets" in sections:
            out["presets"] = preset_costs(Path(tmp), min(a.frames, 48))
        rng = np.random.default_rng(0)
        draws = [photos[:4]] + [list(rng.choice(photos, 4, replace=False)) for _ in range(a.sets - 1)]
        if "keyframes" in sections:
            sets = [keyframe_study(Path(tmp), colorizer, draw, min(a.frames, 48)) for draw in draws]
            out["keyframes"] = {"summary": keyframe_summary(sets), "sets": sets}
        if "films" in sections and a.films.is_dir():
            out["films"] = real_films(Path(tmp), colorizer, a.films, a.pictures)
        if "stabilisation" in sections:
            out["stabilisation"] = [
                stabilisation(Path(tmp), colorizer, draw, min(a.frames, 48), strengths) for draw in draws
            ]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
