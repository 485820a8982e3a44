"""`polychromify video`: colorize a film frame by frame without flicker, keeping frame rate, timing and sound.

Frames go through the same inference path as photos (network at low resolution, ab joined with the
full-resolution grey). The network runs on every `every`-th frame (default 2) and on the first frame of
each shot, which halves the network's share of the time. Everything temporal happens on the network's grid
(~256 px), following the motion (`flow.py`): DIS optical flow between consecutive grey frames gives, per
pixel, where it was in the previous frame and how far to trust that. The frames between two network frames
take the two frames' colours carried along the flow (the linear blend where the flow fails), and flicker
is removed by blending the network's colours toward the previous output frame warped onto the current one,
by strength x confidence (`Stabiliser`). Nothing crosses a scene cut, and a frame where most of the warp
fails (a flash, a whip pan) starts afresh. `motion=False` keeps the method before it: a per-pixel moving
average gated by the change in L (`TemporalSmoother`) and linear blends.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from polychromify.color import AB_SCALE, grey_ab_to_chroma, lab_to_rgb
from polychromify.config import VideoJob
from polychromify.errors import PolychromifyError, check_output_file
from polychromify.flow import TemporalScores, Warp, dis_flow, guide, warp_between
from polychromify.inference import Colorizer, Hint, grid_lightness
from polychromify.keyframes import Keyframes, KeyImage, check_aspect, load_keyframes
from polychromify.photos import colour_setup
from polychromify.reference import Reference

# Limited-range video luma (16..235) -> full-range grey levels, as FFmpeg converts yuv to gray.
Y_TO_GREY = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
_Y_TO_GREY_LIST = Y_TO_GREY.tolist()  # for Pillow's point(), the fastest table lookup here
COPYABLE_AUDIO = {".mp4": {"aac", "mp3", "alac", "opus", "ac3"}, ".mov": {"aac", "mp3", "alac", "pcm_s16le"}}
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
IMAGE_DEMUXERS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif")
# Chroma planes from the grey blurred this much (px at their size): a saturated colour's Cb/Cr depend on
# the grey, so the film's grain leaked into them and the encoder turned it into colour noise (docs/films.md)
CHROMA_GREY_BLUR = 2.0
FLOW_PRESET = "fast"  # DIS on the network's grid: ~1.5 ms for a frame's two flows


@dataclass
class CutDetector:
    """A frame starts a new shot when the L histograms of it and the frame before differ by more than `cut`
    (total variation distance, 0..1; motion within a shot keeps the histogram) and the mean |dL| exceeds
    `min_change` L units. The first frame starts one."""

    cut: float = 0.3
    min_change: float = 5.0
    prev_L: torch.Tensor | None = field(default=None, repr=False)

    def __call__(self, L: torch.Tensor) -> bool:
        is_cut = self.prev_L is None or (
            float((L - self.prev_L).abs().mean()) > self.min_change
            and _hist_distance(L, self.prev_L) > self.cut
        )
        self.prev_L = L
        return is_cut


@dataclass
class TemporalSmoother:
    """Exponential moving average of ab (2,h,w) over frames. Per pixel, the previous state keeps weight
    strength * exp(-|dL| / motion): where the image changes, the new prediction wins. A scene cut restarts
    the average, so colours never bleed from one shot into the next."""

    strength: float = 0.7
    motion: float = 3.0
    cuts: CutDetector = field(default_factory=CutDetector)
    state: torch.Tensor | None = field(default=None, repr=False)
    prev_L: torch.Tensor | None = field(default=None, repr=False)

    def __call__(
        self, ab: torch.Tensor, L: torch.Tensor, new_shot: bool | None = None
    ) -> tuple[torch.Tensor, bool]:
        """ab (2,h,w) in [-1,1], L (1,h,w) in [0,100] -> (smoothed ab, does this frame start a shot?).
        `new_shot`: that answer, if the caller's own CutDetector already gave it."""
        is_cut = self.cuts(L) if new_shot is None else new_shot
        if is_cut or self.strength <= 0 or self.prev_L is None:
            self.state = ab
        else:
            keep = self.strength * torch.exp(-(L - self.prev_L).abs() / self.motion)
            self.state = keep * self.state + (1 - keep) * ab
        self.prev_L = L
        return self.state, is_cut


@dataclass
class Stabiliser:
    """Motion-compensated temporal filter of ab: a running mean along the motion. Each pixel carries a
    weight, the number of earlier frames its colour stands for: the weight is carried along the flow with
    the colour and multiplied by the warp's confidence (0 where the flow fails its checks: what moves out of
    hiding starts again at weight 1, so nothing trails behind what moves). The previous output, warped onto
    the frame, pulls the network's ab towards it by weight / (weight + 1), at most `strength`: the mean
    of the frames tracked so far, then an exponential average over about 1 / (1 - strength) frames.
    Nothing crosses a cut; a frame whose warp has a mean confidence under `restart` (most of the frame fails
    the checks: a flash, a whip pan) starts afresh."""

    strength: float = 0.95
    restart: float = 0.25
    state: np.ndarray | None = field(default=None, repr=False)  # (h,w,2) float32: the previous output
    weight: np.ndarray | None = field(default=None, repr=False)  # (h,w) float32: the frames it stands for
    restarts: int = 0

    def __call__(
        self,
        ab: torch.Tensor,
        back: Warp | None,
        new_shot: bool = False,
        key: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> torch.Tensor:
        """ab (2,h,w) in [-1,1]; `back`: the warp that brings the previous frame onto this one (None for
        the first frame of a shot); `key`: the keyframes' colours (h,w,2) and confidence (h,w), which the
        result takes by that confidence -> the stabilised ab (2,h,w)."""
        x = _hwc(ab)
        fresh = new_shot or back is None or self.state is None or self.strength <= 0
        if not fresh and back.trust < self.restart:
            fresh, self.restarts = True, self.restarts + 1
        if fresh:
            self.state, self.weight = x, np.ones(x.shape[:2], np.float32)
        else:
            carried = back.confidence * back(self.weight)
            pull = np.minimum(carried / (carried + 1), self.strength)[..., None]
            self.state = x + pull * (back(self.state) - x)
            self.weight = carried + 1
        if key is not None:
            self.state = self.state + key[1][..., None] * (key[0] - self.state)
        return _chw(self.state)


def _hwc(ab: torch.Tensor) -> np.ndarray:
    """(2,h,w) tensor -> (h,w,2) float32 array, as OpenCV takes it."""
    return np.ascontiguousarray(ab.numpy().transpose(1, 2, 0), dtype=np.float32)


def _chw(ab: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(ab.transpose(2, 0, 1)))


@dataclass
class _Decoded:
    """A decoded frame: full-range grey for the network and, for 8-bit 4:2:0 video, its own planes. With
    the planes, the grey is at the chroma planes' half size (2x2 means of the luma): the network sees a
    downscaled frame anyway, and the colours are computed at that size."""

    grey: np.ndarray  # (H,W) uint8, or (H/2,W/2) with yuv
    pts: int | None
    yuv: np.ndarray | None = None  # (3H/2,W) uint8 yuv420p planes: Y kept as decoded, U and V replaced
    index: int = 0  # frame number in the film
    L: torch.Tensor | None = None  # (1,gh,gw) on the network's grid, once computed
    new_shot: bool = False
    shot: int = 0  # the number of the frame that starts its shot
    ab: torch.Tensor | None = None  # (2,gh,gw): the network's prediction, on the frames it runs on
    guide: np.ndarray | None = None  # (gh,gw) uint8: blurred L, what the flow is computed on
    flows: tuple[np.ndarray, np.ndarray] | None = None  # (gh,gw,2): to the previous frame and from it
    back: Warp | None = None  # brings the previous frame onto this one (not for a shot's first frame)
    fill: torch.Tensor | None = None  # (2,gh,gw): the colours between network frames


def _decode(vf: av.VideoFrame, index: int = 0) -> _Decoded:
    # the fast path stores the two (H/2,W/2) chroma planes as H/4 rows of the (3H/2,W) array: H % 4 == 0
    if vf.format.name == "yuv420p" and vf.color_range != 2 and vf.width % 2 == 0 and vf.height % 4 == 0:
        yuv = vf.to_ndarray()
        half = Image.fromarray(yuv[: vf.height]).reduce(2).point(_Y_TO_GREY_LIST)
        return _Decoded(np.asarray(half), vf.pts, yuv, index)
    return _Decoded(vf.to_ndarray(format="gray"), vf.pts, index=index)


def _fill(key: _Decoded, gap: list[_Decoded], after: _Decoded, follow_motion: bool) -> None:
    """Set `fill` on the frames between two network frames, `key` and `after` (if `after` starts a shot,
    from `key` alone: never across a cut). Without motion, the linear blend of the two. With it, each
    network frame's ab carried along the flow, frame to frame, onto every frame between, the two mixed by
    closeness in time x confidence; where neither warp is trustworthy, the linear blend."""
    span = after.index - key.index
    for d in gap:
        d.fill = key.ab if after.new_shot else torch.lerp(key.ab, after.ab, (d.index - key.index) / span)
    if not follow_motion:
        return
    left = _carry(key.ab, [d.back for d in gap])
    if after.new_shot:
        right = [(0.0, np.zeros_like(c)) for _, c in left]
    else:  # each frame of the gap takes the next one's colours: the warps the other way
        pairs = zip(gap, [*gap[1:], after], strict=True)
        ahead = [warp_between(e.flows[1], e.flows[0], d.guide, e.guide) for d, e in pairs]
        right = _carry(after.ab, ahead[::-1])[::-1]
    for d, (ab_l, c_l), (ab_r, c_r) in zip(gap, left, right, strict=True):
        t = (d.index - key.index) / span
        w_l, w_r = ((1 - t) * c_l)[..., None], (t * c_r)[..., None]
        total = w_l + w_r
        warped = np.divide(w_l * ab_l + w_r * ab_r, total, out=np.zeros_like(ab_l), where=total > 0)
        plain = _hwc(d.fill)
        d.fill = _chw(plain + np.maximum(c_l, c_r)[..., None] * (warped - plain))


def _carry(ab: torch.Tensor, warps: list[Warp]) -> list[tuple[np.ndarray, np.ndarray]]:
    """ab (2,h,w) carried through a chain of warps: per step, the warped ab (h,w,2) and the confidence
    (h,w) of the whole chain so far."""
    x, confidence, out = _hwc(ab), np.ones(ab.shape[1:], np.float32), []
    for w in warps:
        x, confidence = w(x), w.confidence * w(confidence)
        out.append((x, confidence))
    return out


def _colour_frame(d: _Decoded, ab: torch.Tensor, saturation: float, pix_fmt: str) -> av.VideoFrame:
    """Decoded frame + small ab -> the output frame. For 4:2:0 video the film's own luma plane is kept
    bit for bit and only the two quarter-size chroma planes are computed (from the colours composed at
    their size): a quarter of the colour work and no full-frame RGB -> YUV conversion. The chroma is
    computed on the grey smoothed by `CHROMA_GREY_BLUR`, so that the film's grain stays in the luma."""
    if d.yuv is None or pix_fmt != "yuv420p":
        rgb = Colorizer.compose(d.grey, ab, saturation)
        return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
    smooth = cv2.GaussianBlur(d.grey, (0, 0), CHROMA_GREY_BLUR)
    d.yuv[2 * d.grey.shape[0] :] = grey_ab_to_chroma(smooth, ab * saturation).reshape(-1, d.yuv.shape[1])
    return av.VideoFrame.from_ndarray(d.yuv, format="yuv420p")


def _hist_distance(a: torch.Tensor, b: torch.Tensor, bins: int = 32) -> float:
    """Total variation distance between the L histograms of two frames, in [0, 1]."""
    ha, hb = (torch.histc(x.float(), bins=bins, min=0, max=100) for x in (a, b))
    return float((ha / ha.sum() - hb / hb.sum()).abs().sum() / 2)


@dataclass
class _Flicker:
    """Mean absolute frame-to-frame ab change in CIELAB units, within shots."""

    total: float = 0.0
    count: int = 0
    prev: torch.Tensor | None = None

    def add(self, ab: torch.Tensor, new_shot: bool) -> float:
        """Count frame `ab`; returns its change from the frame before (0 where a shot starts)."""
        change = 0.0
        if self.prev is not None and not new_shot:
            change = float((ab - self.prev).abs().mean()) * AB_SCALE
            self.total += change
            self.count += 1
        self.prev = ab
        return change

    @property
    def value(self) -> float:
        return self.total / self.count if self.count else 0.0


def check_options(smooth: float, saturation: float, every: int, preset: str) -> None:
    """One clear error for a bad setting, before anything is loaded or opened."""
    if not 0 <= smooth < 1:
        raise PolychromifyError("--smooth must be in [0, 1)")
    if saturation < 0:
        raise PolychromifyError("saturation must be >= 0")
    if not (isinstance(every, int) and every >= 1):
        raise PolychromifyError("--every must be a whole number >= 1")
    if preset not in PRESETS:
        raise PolychromifyError(f"unknown preset {preset!r}: use one of {', '.join(PRESETS)}")


@dataclass(frozen=True)
class _Settings:
    """`colorize_video`'s options that shape the film (checked by `check_options` first); see there."""

    smooth: float
    saturation: float
    hints: tuple[Hint, ...]
    codec: str
    crf: int
    batch_size: int
    preset: str
    progress: bool
    every: int
    reference: Reference | None
    motion: bool
    metrics: bool
    keyframes: Keyframes | None = None


def colorize_video(
    src: str | Path,
    dst: str | Path,
    colorizer: Colorizer,
    smooth: float = VideoJob.smooth,
    saturation: float = 1.0,
    hints: Sequence[Hint] = (),
    codec: str = "libx264",
    crf: int = 18,
    batch_size: int = 8,
    preset: str = "superfast",
    overwrite: bool = False,
    progress: bool = True,
    every: int = 2,
    reference: Reference | None = None,
    motion: bool = True,
    metrics: bool = False,
    keyframes: Mapping[int, KeyImage] | None = None,
) -> dict:
    """Colorize `src` into `dst` (`reference`: colours to take, the same for every frame); returns a
    report (frames, timings, flicker with and without smoothing, scene cuts; with `metrics`, the warp error
    and CDC too, on the network's grid). `motion=False`: the smoothing and the blends between network frames
    without optical flow (the method before 2026-12, for comparison). The output is written as
    DST.partial.EXT and renamed when complete; after Ctrl-C the partial file is closed properly, so it
    plays up to where it stopped. `polychromify video` passes a `Colorizer(..., mirror=False)`: mirror
    averaging doubles the network's time per frame. `keyframes`: {frame number: a colour version of that
    frame} (path, bytes, PIL image or array; `keyframes.py`), checked before any frame is written."""
    src, dst = Path(src), Path(dst)
    check_options(smooth, saturation, every, preset)
    _check_paths(src, dst, overwrite)
    images = load_keyframes(keyframes or {})
    if images and not motion:
        raise PolychromifyError("keyframes are carried along the motion: they do not go with --no-motion")
    inp = _open_input(src)
    try:
        keys = _keyframes(src, inp, colorizer, images) if images else None
    except BaseException:
        inp.close()
        raise
    settings = _Settings(
        smooth, saturation, tuple(hints), codec, crf, batch_size, preset, progress, every, reference, motion,
        metrics, keys,
    )  # fmt: skip
    partial = dst.with_name(f"{dst.stem}.partial{dst.suffix}")
    try:
        out = av.open(str(partial), "w")
    except (av.FFmpegError, OSError, ValueError) as exc:
        inp.close()
        raise PolychromifyError(f"cannot write {dst}: {exc}") from None
    try:
        report = _FilmRun(inp, out, colorizer, settings).run()
    except KeyboardInterrupt:  # keep what was done: the partial file is closed properly and plays
        _close(out)
        inp.close()
        raise
    except (PolychromifyError, av.FFmpegError, OSError, ValueError) as exc:
        _close(out)
        inp.close()
        partial.unlink(missing_ok=True)
        if isinstance(exc, PolychromifyError):
            raise
        raise PolychromifyError(f"cannot colorize {src}: {exc}") from None
    _close(out)
    inp.close()
    os.replace(partial, dst)
    return report


def _check_paths(src: Path, dst: Path, overwrite: bool) -> None:
    if not src.is_file():
        raise PolychromifyError(f"no such file: {src}")
    if dst.exists() and not overwrite:
        raise PolychromifyError(f"{dst} exists; pass --overwrite to replace it")
    if dst.resolve() == src.resolve():
        raise PolychromifyError("the output would overwrite the input")
    check_output_file(dst)


def _keyframes(src: Path, inp, colorizer: Colorizer, images: dict[int, np.ndarray]) -> Keyframes:
    """The film's keyframes, checked against its frames and carried backwards through their shots (a
    scan of the film up to the last keyframe, on the network's grid)."""
    codec = inp.streams.video[0].codec_context
    check_aspect(images, codec.width, codec.height)
    keys = Keyframes(images, dis_flow(FLOW_PRESET))
    with _open_input(src) as scan:
        keys.scan(grid_frames(scan, colorizer.input_size))
    return keys


def grid_frames(inp, input_size: int) -> Iterator[tuple[int, torch.Tensor, bool, av.VideoFrame]]:
    """A film's frames as `polychromify video` sees them: (frame number, L (1,gh,gw) on the grid of a
    network that sees `input_size` px, does it start a shot?, the decoded frame). A decoding error is one
    clear error."""
    vin = inp.streams.video[0]
    vin.thread_type = "AUTO"
    size, detect = (vin.codec_context.height, vin.codec_context.width), CutDetector()
    try:
        for i, vf in enumerate(inp.decode(vin)):
            L = torch.from_numpy(grid_lightness([_decode(vf).grey], input_size, size)[0])
            yield i, L, detect(L), vf
    except av.FFmpegError as exc:
        raise PolychromifyError(f"cannot decode {inp.name}: {exc}") from None


def export_shots(
    src: str | Path, folder: str | Path, input_size: int = 256, overwrite: bool = False
) -> list[int]:
    """Write the first frame of each shot of `src` (as `polychromify video` finds the shots) to `folder` as
    frame-N.png, full-size grey, for a person to colour as keyframes; returns the frame numbers. An existing
    file is not replaced unless `overwrite`."""
    check_input(src)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    firsts = []
    with _open_input(Path(src)) as inp:
        for i, _, new_shot, vf in grid_frames(inp, input_size):
            if new_shot:
                path = folder / f"frame-{i:06d}.png"
                if path.exists() and not overwrite:
                    raise PolychromifyError(f"{path} exists; pass --overwrite to replace it")
                Image.fromarray(vf.to_ndarray(format="gray")).save(path)
                firsts.append(i)
    return firsts


def video_job(job: VideoJob) -> int:
    """`polychromify video`: every option checked before the model loads; the figures said at the end (and
    written to --report); exit code 130 after Ctrl-C, with the frames done so far kept."""
    if job.shots is not None:
        firsts = export_shots(job.input, job.shots, job.colour.input_size, job.overwrite)
        print(
            f"wrote the first frame of {len(firsts)} shot(s) -> {job.shots}/frame-N.png; colour the "
            f"ones you want and run: polychromify video {job.input} -o OUT --keyframe N={job.shots}/FILE ..."
        )
        return 0
    if job.out is None:
        raise PolychromifyError("give the output film: -o OUT (or --shots DIR for the shots' first frames)")
    check_options(job.smooth, job.colour.saturation, job.every, job.preset)  # before the model loads
    check_input(job.input)
    images = load_keyframes(job.keyframes)
    if job.report:
        check_output_file(job.report)
    colorizer, hints, reference = colour_setup(job.colour)
    try:
        report = colorize_video(
            job.input,
            job.out,
            colorizer,
            job.smooth,
            job.colour.saturation,
            hints,
            job.codec,
            job.crf,
            job.batch_size,
            job.preset,
            job.overwrite,
            every=job.every,
            reference=reference,
            motion=job.motion,
            metrics=job.report is not None,
            keyframes=images,
        )
    except KeyboardInterrupt:
        partial = job.out.with_name(f"{job.out.stem}.partial{job.out.suffix}")
        print(f"polychromify: interrupted; the frames done so far are in {partial}", file=sys.stderr)
        return 130
    if job.report:
        job.report.write_text(json.dumps(report, indent=1))
    print(
        f"colorized {report['frames']} frames at {report['frames_per_s']} frames/s -> {job.out} "
        f"(flicker {report['flicker']:.3f}, per-frame {report['flicker_unsmoothed']:.3f}, "
        f"{len(report['cuts'])} cuts)"
        + "".join(
            f"\n  shot from frame {s['first']}: keyframes {', '.join(map(str, s['keyframes']))} "
            f"(they colour {s['keyed']:.0%} of its pixels)"
            for s in report["shots"]
            if s["keyframes"]
        )
    )
    return 0


def check_input(src: str | Path) -> None:
    """One clear error for an input that is not a film, before the model loads (and says its precision)."""
    if not Path(src).is_file():
        raise PolychromifyError(f"no such file: {src}")
    _open_input(Path(src)).close()


def _open_input(src: Path) -> av.container.InputContainer:
    try:
        inp = av.open(str(src))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise PolychromifyError(f"{src} is not a video ({exc})") from None
    if inp.format.name in IMAGE_DEMUXERS or not inp.streams.video:
        inp.close()
        raise PolychromifyError(f"{src} has no video stream")
    return inp


class _FilmRun:
    """One film going from `inp` to `out`: `run` demuxes it, copies or re-encodes its sound, hands the
    decoded frames to `_Colouring` and encodes the frames it gives back, in order."""

    def __init__(self, inp, out, colorizer: Colorizer, settings: _Settings) -> None:
        self.inp, self.out, self.settings = inp, out, settings
        self.open_streams()
        self.colouring = _Colouring(colorizer, settings, (self.h, self.w), self.encode)
        self.decoded = 0
        self.writer = _Writer(out)
        self.start = time.perf_counter()

    def open_streams(self) -> None:
        """The output's video stream (the input's size, rate and time base) and its sound: the input's
        own packets where the output container takes their codec, else re-encoded as AAC."""
        self.vin = vin = self.inp.streams.video[0]
        vin.thread_type = "AUTO"
        codec = self.settings.codec
        try:
            self.vout = vout = self.out.add_stream(codec, rate=vin.average_rate or 25)
        except (av.FFmpegError, ValueError) as exc:
            raise PolychromifyError(f"unknown or unsupported codec {codec!r}: {exc}") from None
        self.w, self.h = w, h = vin.codec_context.width, vin.codec_context.height
        vout.width, vout.height = w, h
        vout.pix_fmt = "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"
        if codec in ("libx264", "libx265"):
            vout.options = {"crf": str(self.settings.crf), "preset": self.settings.preset}
        vout.time_base = vin.time_base
        self.ain = ain = self.inp.streams.audio[0] if self.inp.streams.audio else None
        self.aout, self.copy_audio = None, False
        if ain is not None:
            suffix = Path(self.out.name).suffix.lower()
            self.copy_audio = ain.codec_context.name in COPYABLE_AUDIO.get(suffix, {ain.codec_context.name})
            if self.copy_audio:
                self.aout = self.out.add_stream_from_template(ain)
            else:
                self.aout = self.out.add_stream("aac", rate=ain.rate or 48000)

    def run(self) -> dict:
        """Demux, colour and encode the whole film -> the report."""
        progress = self.settings.progress
        self.bar = tqdm(
            total=self.vin.frames or None, unit="frame", desc="video", disable=not progress or None
        )
        try:
            streams = [s for s in (self.vin, self.ain) if s is not None]
            for packet in self.inp.demux(*streams):
                if packet.stream is self.ain:
                    self.pass_audio(packet)
                    continue
                for vf in packet.decode():
                    d = _decode(vf, self.decoded)
                    self.decoded += 1
                    self.colouring.add(d)
            self.colouring.drain()
        except av.FFmpegError as exc:
            raise PolychromifyError(f"cannot decode {self.inp.name}: {exc}") from None
        finally:
            self.finish()
        return self.report(time.perf_counter() - self.start)

    def pass_audio(self, packet: av.Packet) -> None:
        if self.copy_audio:
            if packet.dts is not None:
                packet.stream = self.aout
                self.writer.mux(packet)
        else:
            for af in packet.decode():
                af.pts = None
                self.writer.encode(self.aout, af)

    def encode(self, d: _Decoded, ab: torch.Tensor) -> None:
        """Encode frame d in its final colours `ab` (the network's grid)."""
        frame = _colour_frame(d, ab, self.settings.saturation, self.vout.pix_fmt)
        frame.pts, frame.time_base = d.pts, self.vin.time_base
        self.writer.encode(self.vout, frame)
        self.bar.update()

    def finish(self) -> None:
        """Close the film, also after an error or an interruption."""
        self.bar.close()
        self.colouring.drain()  # interrupted: encode what was decoded so the partial file ends cleanly
        self.writer.encode(self.vout, None)
        if self.aout is not None and not self.copy_audio:
            self.writer.encode(self.aout, None)
        self.writer.close()

    def report(self, seconds: float) -> dict:
        c, s, rate = self.colouring, self.settings, self.vin.average_rate
        frames = c.frames
        return {
            "frames": frames,
            "fps": float(rate) if rate else None,
            "width": self.w,
            "height": self.h,
            "audio": None if self.ain is None else ("copied" if self.copy_audio else "re-encoded (aac)"),
            "seconds": round(seconds, 3),
            "frames_per_s": round(frames / seconds, 2) if seconds else math.inf,
            "every": s.every,
            "network_frames": c.net_frames,
            "smooth": s.smooth,
            "motion": s.motion,
            "flow_ms_per_frame": round(1000 * c.flow_s / frames, 2) if frames else 0.0,
            "restarts": c.stabilise.restarts if c.stabilise is not None else 0,
            "flicker": round(c.flicker.value, 4),
            "flicker_unsmoothed": round(c.raw_flicker.value, 4),
            **(_scores(c.scores, c.raw_scores) if c.scores is not None else {}),
            "cuts": c.cuts,
            "keyframes": sorted(s.keyframes.ab) if s.keyframes is not None else [],
            "shots": [shot.report() for shot in c.shots],
        }


class _Colouring:
    """The decoded frames waiting for their colours, and what carries from one frame to the next: the shot
    detector, the flow, the last network frame, the stabiliser (or the old smoother) and the report's
    counts and scores. `add` buffers a frame; a full buffer is coloured (`flush`), each frame handed in
    order to `emit(frame, ab)` once its colours are final."""

    def __init__(self, colorizer: Colorizer, settings: _Settings, size: tuple[int, int], emit) -> None:
        self.colorizer, self.settings, self.size, self.emit = colorizer, settings, size, emit
        smooth, motion = settings.smooth, settings.motion
        self.detect = CutDetector()
        self.keys = settings.keyframes
        self.follow_motion = motion and (smooth > 0 or settings.every > 1 or self.keys is not None)
        self.stabilise = Stabiliser(smooth) if motion else None
        self.smoother = None if motion else TemporalSmoother(smooth)
        self.flow = dis_flow(FLOW_PRESET) if self.follow_motion else None
        self.flicker, self.raw_flicker = _Flicker(), _Flicker()
        self.scores, self.raw_scores = (
            (TemporalScores(), TemporalScores()) if settings.metrics else (None, None)
        )
        self.cuts: list[int] = []
        self.shots: list[_Shot] = []
        self.shot = 0
        self.buffer: list[_Decoded] = []
        self.frames = self.net_frames = 0  # frames emitted; frames the network ran on
        self.flow_s = 0.0
        self.key: _Decoded | None = None  # the last frame the network ran on
        self.seen: _Decoded | None = None  # the last frame whose L is known

    def add(self, d: _Decoded) -> None:
        if self.buffer and self.buffer[0].grey.shape != d.grey.shape:  # the decoder changed pixel format
            self.flush(final=True)
        self.buffer.append(d)
        if len(self.buffer) >= self.settings.batch_size * self.settings.every:
            self.flush()

    def drain(self) -> None:
        """Colour every frame still in the buffer (at the end, or after an interruption)."""
        if self.buffer:
            self.flush(final=True)

    def flush(self, final: bool = False) -> None:
        """Colorize and encode the buffered frames. The network runs on every `every`-th frame and on the
        first of each shot; a frame between two of them takes their colours (`_fill`: along the flow,
        the earlier one's alone if the later one starts a shot), then the stabiliser's (or the old
        smoother's) output is encoded. Frames after the last network frame wait for
        the next one, unless `final`. Each encoded frame leaves the buffer at once, so after an interruption
        a second call finishes exactly the frames still missing."""
        buffer, every = self.buffer, self.settings.every
        self.measure([d for d in buffer if d.L is None])
        last = buffer[-1] if final else None
        self.predict(
            [d for d in buffer if d.ab is None and (d.index % every == 0 or d.new_shot or d is last)]
        )
        done = 0
        try:
            for i, d in enumerate(list(buffer)):
                a = self.colours(d, buffer[i + 1 :])
                if a is None:
                    break  # it waits for the next network frame
                self.emit(d, self.stabilised(d, a))
                self.frames += 1
                done += 1
        finally:
            del buffer[:done]

    def measure(self, fresh: list[_Decoded]) -> None:
        """For frames new to the buffer: L on the network's grid, whether each starts a shot and, following
        the motion, the flow to and from the frame before."""
        if not fresh:
            return
        small = torch.from_numpy(self.colorizer.small_lightness([d.grey for d in fresh], self.size))
        for d, lum in zip(fresh, small, strict=True):
            d.L, d.new_shot = lum, self.detect(lum)
            self.shot = d.shot = d.index if d.new_shot else self.shot
            if self.flow is not None:
                t0 = time.perf_counter()
                d.guide = guide(lum[0].numpy())
                if not d.new_shot and self.seen is not None:
                    d.flows = self.flow(d.guide, self.seen.guide), self.flow(self.seen.guide, d.guide)
                    d.back = warp_between(*d.flows, d.guide, self.seen.guide)
                self.flow_s += time.perf_counter() - t0
            self.seen = d

    def predict(self, run: list[_Decoded]) -> None:
        """The network's colours for these frames, one batch per reference (a keyframed shot takes its
        keyframes' palette)."""
        groups: dict[Reference | None, list[_Decoded]] = {}
        for d in run:
            groups.setdefault(self.reference(d), []).append(d)
        for reference, part in groups.items():
            L = torch.stack([d.L for d in part])
            hints = [self.settings.hints] * len(part)
            ab = self.colorizer.predict_lightness(L, hints, self.size, reference)
            for d, a in zip(part, ab, strict=True):
                d.ab = a
        self.net_frames += len(run)

    def reference(self, d: _Decoded) -> Reference | None:
        """The colours frame d's network prediction takes: its shot's keyframes' palette if it has
        keyframes (and the model has bins to reweigh), else the film's reference, if any."""
        if self.keys is not None and self.colorizer.takes_reference:
            return self.keys.palette(d.shot) or self.settings.reference
        return self.settings.reference

    def colours(self, d: _Decoded, later: list[_Decoded]) -> torch.Tensor | None:
        """Frame d's colours before stabilisation: the network's, or, between two network frames, the fill
        (computed for the whole gap at once); None while the next network frame is not among `later`."""
        if d.ab is not None:
            self.key = d
            return d.ab
        after = next((e for e in later if e.ab is not None), None)
        if after is None:
            return None
        if d.fill is None:
            t0 = time.perf_counter()
            gap = [e for e in self.buffer if self.key.index < e.index < after.index]
            _fill(self.key, gap, after, self.follow_motion)
            self.flow_s += (time.perf_counter() - t0) * self.follow_motion
        return d.fill

    def stabilised(self, d: _Decoded, a: torch.Tensor) -> torch.Tensor:
        """Frame d's colours `a` through the stabiliser (or the old smoother), counted in the report."""
        new_shot = d.new_shot
        if self.stabilise is not None:
            t0 = time.perf_counter()
            key = self.keys(d.index, d.back, d.guide) if self.keys is not None else None
            smoothed = self.stabilise(a, d.back, new_shot, key)
            self.flow_s += time.perf_counter() - t0
        else:
            key, (smoothed, _) = None, self.smoother(a, d.L, new_shot)
        if new_shot and self.frames > 0:
            self.cuts.append(self.frames)
        if new_shot:
            self.shots.append(_Shot(d.index, self.keys.keys_of(d.index) if self.keys is not None else []))
        shot = self.shots[-1]
        shot.frames += 1
        shot.keyed += float(key[1].mean()) if key is not None else 0.0
        shot.flicker += self.flicker.add(smoothed, new_shot)
        shot.per_frame += self.raw_flicker.add(a, new_shot)
        if self.scores is not None:
            L, grey = d.L[0].numpy(), guide(d.L[0].numpy(), blur=0)
            for score, x in ((self.scores, smoothed), (self.raw_scores, a)):
                score.add(lab_to_rgb(L, _hwc(x), np.float32), grey, new_shot)
        return smoothed


def _scores(scores: TemporalScores, raw: TemporalScores) -> dict:
    """The report's warp error and CDC, of the output and of the colours before stabilisation."""

    def rounded(x: float | None, digits: int) -> float | None:
        return None if x is None else round(x, digits)

    return {
        "warp_error": rounded(scores.warp_error, 6),
        "warp_error_unsmoothed": rounded(raw.warp_error, 6),
        "cdc": rounded(scores.cdc, 6),
        "cdc_unsmoothed": rounded(raw.cdc, 6),
    }


@dataclass
class _Shot:
    """A shot as it is coloured: its first frame and keyframes, and sums over its frames of the share the
    keyframes coloured (mean confidence) and of the frame-to-frame change after and before stabilisation."""

    first: int
    keyframes: list[int]
    frames: int = 0
    keyed: float = 0.0
    flicker: float = 0.0
    per_frame: float = 0.0

    def report(self) -> dict:
        """Its line in the report: the sums as means."""
        steps = max(self.frames - 1, 1)
        return {
            "first": self.first,
            "frames": self.frames,
            "keyframes": self.keyframes,
            "keyed": round(self.keyed / self.frames, 3),
            "flicker": round(self.flicker / steps, 4),
            "flicker_unsmoothed": round(self.per_frame / steps, 4),
        }


class _Writer:
    """Encodes and muxes into the output from one background thread, so FFmpeg's encoder (which releases
    the GIL) runs while the next frames are colorized: 720p 22 -> 30 frames/s here. Jobs run in order; at
    most `depth` wait (bounded memory); a failed job raises in the caller at its next call."""

    def __init__(self, out: av.container.OutputContainer, depth: int = 16) -> None:
        self.out, self.depth = out, depth
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="polychromify-encode")
        self.pending: deque[Future] = deque()

    def encode(self, stream, frame: av.VideoFrame | av.AudioFrame | None) -> None:
        """Encode `frame` (None = flush the encoder) and mux its packets."""
        self._submit(lambda: self.out.mux(stream.encode(frame)))

    def mux(self, packet: av.Packet) -> None:
        self._submit(lambda: self.out.mux(packet))

    def close(self) -> None:
        """Wait for every job."""
        self.pool.shutdown(wait=True)
        self._collect(0)

    def _submit(self, job) -> None:
        self.pending.append(self.pool.submit(job))
        self._collect(self.depth)

    def _collect(self, depth: int) -> None:
        while self.pending and (len(self.pending) > depth or self.pending[0].done()):
            try:
                self.pending.popleft().result()
            except av.FFmpegError as exc:
                raise PolychromifyError(f"cannot encode {self.out.name}: {exc}") from None


def _close(container) -> None:
    with contextlib.suppress(av.FFmpegError):
        container.close()
