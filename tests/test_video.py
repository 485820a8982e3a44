from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from PIL import Image

from polychromify import video
from polychromify.color import grey_ab_to_chroma, rgb_to_lab
from polychromify.errors import PolychromifyError
from polychromify.inference import Colorizer, parse_hint
from polychromify.video import TemporalSmoother, colorize_video
from tests.conftest import make_photo, run_cli


def make_clip(path, frames=24, fps=12, size=(64, 48), cut_at=None, grain=6.0, audio=True, colour=False):
    """A tiny clip of a static scene plus grain (optionally cutting to another scene), with a sine track."""
    rng = np.random.default_rng(0)
    first = np.asarray(make_photo(1, size))
    scenes = [first, (np.asarray(make_photo(5, size)) * 0.4).astype(np.uint8)]  # a cut to a darker shot
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = size[0], size[1], "yuv420p"
        a = out.add_stream("aac", rate=22050) if audio else None
        for i in range(frames):
            img = scenes[1 if cut_at is not None and i >= cut_at else 0].astype(float)
            if not colour:
                img = np.repeat(img.mean(2, keepdims=True), 3, axis=2)
            img = np.clip(img + rng.normal(0, grain, img.shape[:2])[..., None], 0, 255).astype(np.uint8)
            out.mux(v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(v.encode(None))
        if a is not None:
            t = np.arange(int(22050 * frames / fps)) / 22050
            samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            for start in range(0, samples.shape[1], 1024):
                frame = av.AudioFrame.from_ndarray(
                    samples[:, start : start + 1024], format="fltp", layout="mono"
                )
                frame.sample_rate = 22050
                out.mux(a.encode(frame))
            out.mux(a.encode(None))


def probe(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        n = sum(1 for _ in c.decode(video=0))
        return {
            "frames": n,
            "rate": v.average_rate,
            "size": (v.codec_context.width, v.codec_context.height),
            "audio": len(c.streams.audio),
            "duration": float(c.duration or 0) / 1e6,
        }


@pytest.fixture(scope="module")
def colorizer():
    return Colorizer("default", input_size=64, mirror=False)  # as `polychromify video` runs


def test_round_trip_keeps_frames_rate_size_audio(tmp_path, colorizer):
    make_clip(tmp_path / "in.mp4", colour=True)
    report = colorize_video(tmp_path / "in.mp4", tmp_path / "out.mp4", colorizer, progress=False)
    src, dst = probe(tmp_path / "in.mp4"), probe(tmp_path / "out.mp4")
    assert dst["frames"] == src["frames"] == report["frames"] == 24
    assert dst["rate"] == src["rate"] == Fraction(12)
    assert dst["size"] == src["size"] == (64, 48)
    assert dst["audio"] == 1 and report["audio"] == "copied"
    assert abs(dst["duration"] - src["duration"]) < 0.15
    assert not list(tmp_path.glob("*.partial.*"))


def test_smoothing_reduces_flicker(tmp_path, colorizer):
    make_clip(tmp_path / "grain.mp4", grain=10.0, audio=False)
    src, dst = tmp_path / "grain.mp4", tmp_path / "s.mp4"
    report = colorize_video(src, dst, colorizer, smooth=0.8, motion=False, progress=False)
    assert report["cuts"] == []
    assert report["flicker"] < 0.7 * report["flicker_unsmoothed"]
    # the motion-compensated default smooths only where the flow passes its checks: on this featureless
    # 64x48 clip, grain at full strength on the network's grid, about half of it does (real clips:
    # tests/test_stabilise.py and bench/video.py)
    report = colorize_video(src, dst, colorizer, smooth=0.8, progress=False, overwrite=True)
    assert report["cuts"] == [] and report["flicker"] < 0.85 * report["flicker_unsmoothed"]
    plain = colorize_video(tmp_path / "grain.mp4", tmp_path / "p.mp4", colorizer, smooth=0.0, progress=False)
    assert plain["flicker"] == pytest.approx(plain["flicker_unsmoothed"])


def test_scene_cut_resets_smoothing():
    sm = TemporalSmoother(strength=0.9)
    L_a, L_b = torch.full((1, 4, 4), 30.0), torch.full((1, 4, 4), 70.0)
    ab_a, ab_b = torch.full((2, 4, 4), 0.3), torch.full((2, 4, 4), -0.3)
    for _ in range(5):
        out, cut = sm(ab_a, L_a)
    assert not cut and torch.allclose(out, ab_a)
    out, cut = sm(ab_b, L_b)
    assert cut and torch.equal(out, ab_b)  # nothing of the previous shot bleeds in
    out, cut = sm(ab_a, L_b)
    assert not cut and torch.allclose(out, 0.9 * ab_b + 0.1 * ab_a)  # static picture: strong smoothing


def test_cut_detected_in_a_clip(tmp_path, colorizer):
    make_clip(tmp_path / "cut.mp4", cut_at=10, audio=False, grain=2.0)
    report = colorize_video(tmp_path / "cut.mp4", tmp_path / "o.mp4", colorizer, smooth=0.8, progress=False)
    assert report["cuts"] == [10]


def test_cli_and_bad_inputs(tmp_path, capsys):
    make_clip(tmp_path / "in.mp4", frames=6, audio=False)
    report = tmp_path / "r.json"
    fast = ("--preset", "ultrafast", "--precision", "bf16")
    assert run_cli("video", tmp_path / "in.mp4", "-o", tmp_path / "out.mkv", "--report", report, *fast) == 0
    assert probe(tmp_path / "out.mkv")["frames"] == 6 and "flicker" in report.read_text()
    assert run_cli("video", tmp_path / "in.mp4", "-o", tmp_path / "out.mkv") == 1  # exists
    (tmp_path / "text.mp4").write_text("not a film")
    make_photo(1).save(tmp_path / "photo.png")
    cases = [
        (tmp_path / "text.mp4", tmp_path / "a.mp4", "not a video"),
        (tmp_path / "photo.png", tmp_path / "b.mp4", "no video stream"),
        (tmp_path / "missing.mp4", tmp_path / "c.mp4", "no such file"),
        (tmp_path / "in.mp4", tmp_path / "no" / "such" / "dir" / "d.mp4", "cannot write"),
    ]
    capsys.readouterr()
    for src, dst, message in cases:
        assert run_cli("video", src, "-o", dst) == 1, message
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert run_cli("video", tmp_path / "in.mp4", "-o", tmp_path / "e.mp4", "--codec", "nocodec") == 1
    assert "codec" in capsys.readouterr().err
    assert run_cli("video", tmp_path / "in.mp4", "-o", tmp_path / "e.mp4", "--preset", "warp") == 1
    assert "unknown preset" in capsys.readouterr().err
    assert (
        run_cli(
            "video", tmp_path / "in.mp4", "-o", tmp_path / "e.mp4", "--report", tmp_path / "no" / "r.json"
        )
        == 1
    )
    assert "cannot write" in capsys.readouterr().err  # said before the film is coloured, not after
    assert not (tmp_path / "e.mp4").exists()


@pytest.mark.parametrize(("ext", "codec"), [(".avi", "mpeg4"), (".mov", "libx264"), (".mkv", "libx264")])
def test_other_containers_in(tmp_path, colorizer, ext, codec):
    src = tmp_path / f"in{ext}"
    with av.open(str(src), "w") as out:
        v = out.add_stream(codec, rate=10)
        v.width, v.height, v.pix_fmt = 48, 32, "yuv420p"
        for i in range(5):
            img = np.full((32, 48, 3), 40 * i, np.uint8)
            out.mux(v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(v.encode(None))
    colorize_video(src, tmp_path / "out.mp4", colorizer, progress=False)
    assert probe(tmp_path / "out.mp4")["frames"] == 5


def test_interrupt_leaves_a_playable_partial_file(tmp_path, colorizer, monkeypatch):
    make_clip(tmp_path / "in.mp4", frames=24, audio=False)
    calls = {"n": 0}
    real = video._colour_frame

    def colour_frame(*args):
        calls["n"] += 1
        if calls["n"] == 13:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(video, "_colour_frame", colour_frame)
    with pytest.raises(KeyboardInterrupt):
        colorize_video(tmp_path / "in.mp4", tmp_path / "out.mp4", colorizer, batch_size=8, progress=False)
    assert not (tmp_path / "out.mp4").exists()  # never a half-written file under the final name
    partial = probe(tmp_path / "out.partial.mp4")
    assert 8 <= partial["frames"] < 24


def test_fast_4_2_0_path_keeps_luma_and_matches_the_rgb_path(tmp_path, colorizer):
    make_clip(tmp_path / "in.mp4", frames=2, size=(64, 48), audio=False, colour=True)
    with av.open(str(tmp_path / "in.mp4")) as c:
        vf = next(c.decode(video=0))
    fast = video._decode(vf)
    assert fast.yuv is not None  # 8-bit 4:2:0, limited range: the fast path
    plain = video._Decoded(vf.to_ndarray(format="gray"), vf.pts)  # what other formats take
    half = np.asarray(Image.fromarray(plain.grey).reduce(2))  # the fast path's grey: 2x2 means
    assert fast.grey.shape == (24, 32) and np.abs(fast.grey.astype(int) - half).max() <= 1
    luma = fast.yuv[:48].copy()
    ab = colorizer.predict_small([fast.grey], size=(48, 64))[0][0]  # the network's grid of the full frame
    assert ab.shape == colorizer.predict_small([plain.grey])[0][0].shape
    out_fast = video._colour_frame(fast, ab, 1.0, "yuv420p")
    out_rgb = video._colour_frame(plain, ab, 1.0, "yuv420p")
    assert np.array_equal(out_fast.to_ndarray()[:48], luma)  # the film's own luma, bit for bit
    a, b = (f.to_ndarray(format="rgb24").astype(int) for f in (out_fast, out_rgb))
    chroma_a, chroma_b = a - a.mean(2, keepdims=True), b - b.mean(2, keepdims=True)
    assert np.abs(chroma_a).mean() > 10  # colours, not grey
    assert np.abs(chroma_a - chroma_b).mean() < 0.1 * np.abs(chroma_a).mean()  # the same colours
    # brightness: the film's luma (gamma-weighted) is kept, not CIELAB lightness; saturated colours come
    # out a few levels brighter than composing in RGB
    assert 0 <= (a - b).mean() < 8


def test_film_grain_stays_out_of_the_chroma_planes():
    """A saturated colour's Cb/Cr depend on the grey: computed on the grainy grey, the grain leaked into
    the colour planes (colour noise for the encoder). The fast path computes them on a smoothed grey."""
    rng = np.random.default_rng(0)
    h, w = 48, 64
    y = np.clip(120 + rng.normal(0, 12, (h, w)), 16, 235).astype(np.uint8)  # a flat, grainy frame's luma
    yuv = np.concatenate([y, np.full((h // 2, w), 128, np.uint8)])
    frame = video._Decoded(np.asarray(Image.fromarray(y).reduce(2)), 0, yuv)
    ab = torch.tensor([0.45, 0.35]).view(2, 1, 1).expand(2, 6, 8)  # one saturated orange everywhere
    chroma = video._colour_frame(frame, ab, 1.0, "yuv420p").to_ndarray()[h:].astype(float)
    leaked = grey_ab_to_chroma(frame.grey, ab).astype(float)  # the same planes from the grainy grey
    assert leaked.reshape(2, -1).std(1).min() > 0.3  # the grain does move a saturated colour's chroma
    assert chroma.reshape(2, -1).std(1).max() < 0.4 * leaked.reshape(2, -1).std(1).min()


def test_preset_and_saturation_checked(tmp_path, colorizer):
    make_clip(tmp_path / "in.mp4", frames=3, audio=False)
    with pytest.raises(PolychromifyError, match="preset"):
        colorize_video(tmp_path / "in.mp4", tmp_path / "o.mp4", colorizer, preset="warp", progress=False)
    with pytest.raises(PolychromifyError, match="saturation"):
        colorize_video(tmp_path / "in.mp4", tmp_path / "o.mp4", colorizer, saturation=-1, progress=False)
    fast = colorize_video(
        tmp_path / "in.mp4", tmp_path / "f.mp4", colorizer, preset="ultrafast", progress=False
    )
    assert fast["frames"] == 3 and not (tmp_path / "o.mp4").exists()


def test_hint_colours_its_place_in_every_frame(tmp_path, colorizer):
    make_clip(tmp_path / "in.mp4", frames=4, audio=False)
    hint = parse_hint("52,36,#ff00ff")  # frame pixels; magenta: nothing a landscape model would predict
    colorize_video(tmp_path / "in.mp4", tmp_path / "plain.mp4", colorizer, progress=False)
    colorize_video(tmp_path / "in.mp4", tmp_path / "hint.mp4", colorizer, hints=[hint], progress=False)
    goal = np.array(hint.ab)

    def ab_near(path, x, y):  # mean ab of every frame's 9x9 patch around (x, y)
        with av.open(str(path)) as c:
            rgbs = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        return np.stack([rgb_to_lab(r)[1][y - 4 : y + 5, x - 4 : x + 5].mean((0, 1)) for r in rgbs])

    moved = np.linalg.norm(ab_near(tmp_path / "plain.mp4", 52, 36) - goal, axis=1) - np.linalg.norm(
        ab_near(tmp_path / "hint.mp4", 52, 36) - goal, axis=1
    )
    far = np.linalg.norm(ab_near(tmp_path / "plain.mp4", 8, 8) - ab_near(tmp_path / "hint.mp4", 8, 8), axis=1)
    assert (moved > 2 / 128).all() and (moved > far).all()  # towards the hint, at the hint's place


def test_network_on_every_other_frame_blends_between_and_restarts_at_cuts(tmp_path, colorizer, monkeypatch):
    make_clip(tmp_path / "cut.mp4", frames=24, cut_at=11, audio=False, grain=2.0)  # a cut on an odd frame
    ran, blends = [], []
    real_predict, real_lerp = colorizer.predict_lightness, torch.lerp
    monkeypatch.setattr(
        colorizer, "predict_lightness", lambda L, *a: ran.append(len(L)) or real_predict(L, *a)
    )
    monkeypatch.setattr(video.torch, "lerp", lambda x, y, t: blends.append(t) or real_lerp(x, y, t))
    every2 = colorize_video(tmp_path / "cut.mp4", tmp_path / "e2.mp4", colorizer, smooth=0.0, progress=False)
    # even frames, the cut's first frame (11) and the last (23): 12 + 2
    assert every2["every"] == 2 and every2["network_frames"] == sum(ran) == 14 and every2["cuts"] == [11]
    # frames 1, 3, ..., 9 and 13, ..., 21 blend half-way; frame 10 does not blend across the cut at 11
    assert blends == [0.5] * 10 and probe(tmp_path / "e2.mp4")["frames"] == 24
    ran.clear()
    every1 = colorize_video(
        tmp_path / "cut.mp4", tmp_path / "e1.mp4", colorizer, smooth=0.0, progress=False, every=1
    )
    assert every1["network_frames"] == sum(ran) == 24 and every1["cuts"] == [11]
    with pytest.raises(PolychromifyError, match="every"):
        colorize_video(tmp_path / "cut.mp4", tmp_path / "e0.mp4", colorizer, progress=False, every=0)
