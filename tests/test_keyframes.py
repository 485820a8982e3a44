"""Films coloured from keyframes (`video --keyframe N=IMAGE`, `colorize_video(keyframes=...)`)."""

import json

import av
import numpy as np
import pytest
from PIL import Image

from polychromify.color import rgb_to_lab
from polychromify.errors import PolychromifyError
from polychromify.inference import Colorizer
from polychromify.video import colorize_video, export_shots
from tests.conftest import REPO, run_cli

PHOTOS = [REPO / "samples" / "color" / n for n in ("lxqt-themes--Valendas.jpg", "tuxpaint-data--sheep.jpg")]


def pan(path, frames=10, size=(96, 64), step=2, cut_at=None):
    """A grey film panning across a colour photo (cutting to a second photo at `cut_at`); returns the
    colour truth of each frame."""
    w, h = size
    wide = [np.asarray(Image.open(p).convert("RGB").resize((w + step * frames, h))) for p in PHOTOS]
    truth = [wide[int(cut_at is not None and i >= cut_at)][:, i * step : i * step + w] for i in range(frames)]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=12, options={"crf": "10"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        frames = [av.VideoFrame.from_image(Image.fromarray(rgb).convert("L").convert("RGB")) for rgb in truth]
        for packet in [p for f in [*frames, None] for p in stream.encode(f)]:
            out.mux(packet)
    return truth


def frames_of(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def ab_error(out, truth):
    """Mean ab distance (CIELAB units) per frame."""
    return np.array(
        [
            np.linalg.norm(rgb_to_lab(o)[1] - rgb_to_lab(t)[1], axis=-1).mean() * 128
            for o, t in zip(out, truth, strict=True)
        ]
    )


@pytest.fixture(scope="module")
def colorizer():
    return Colorizer("default", input_size=64, mirror=False)


def test_a_keyframe_colours_its_shot_forwards_and_backwards(tmp_path, colorizer):
    truth = pan(tmp_path / "in.mp4")
    auto = colorize_video(tmp_path / "in.mp4", tmp_path / "auto.mp4", colorizer, progress=False)
    big = Image.fromarray(truth[4]).resize((192, 128))  # any size with the frame's aspect
    report = colorize_video(
        tmp_path / "in.mp4", tmp_path / "key.mp4", colorizer, progress=False, keyframes={4: big}
    )
    e_auto, e_key = (ab_error(frames_of(tmp_path / f"{n}.mp4"), truth) for n in ("auto", "key"))
    assert e_key.mean() < 0.6 * e_auto.mean()
    assert e_key[0] < e_auto[0] and e_key[-1] < e_auto[-1]  # carried backwards and forwards
    assert e_key[4] == e_key.min()  # the keyframe's own frame is nearest the truth
    assert auto["shots"] == [
        {"first": 0, "frames": 10, "keyframes": [], "keyed": 0.0}
        | {k: auto["shots"][0][k] for k in ("flicker", "flicker_unsmoothed")}
    ]
    (shot,) = report["shots"]
    assert report["keyframes"] == [4] and shot["keyframes"] == [4] and shot["keyed"] > 0.5


def test_a_keyframe_colours_only_its_own_shot(tmp_path, colorizer):
    truth = pan(tmp_path / "in.mp4", frames=12, cut_at=6)
    auto = colorize_video(tmp_path / "in.mp4", tmp_path / "auto.mp4", colorizer, progress=False)
    assert auto["cuts"] == [6]
    key = {0: truth[0]}
    report = colorize_video(
        tmp_path / "in.mp4", tmp_path / "key.mp4", colorizer, progress=False, keyframes=key
    )
    a, k = frames_of(tmp_path / "auto.mp4"), frames_of(tmp_path / "key.mp4")
    assert [s["keyframes"] for s in report["shots"]] == [[0], []] and report["shots"][1]["keyed"] == 0
    second = np.abs(np.stack(a[6:]).astype(int) - np.stack(k[6:])).max()
    first = np.abs(np.stack(a[:6]).astype(int) - np.stack(k[:6])).mean()
    assert second <= 2 and first > 1  # the second shot as without keyframes


def test_two_keyframes_meet_in_between(tmp_path, colorizer):
    truth = pan(tmp_path / "in.mp4", frames=9)
    red, blue = (np.zeros_like(truth[0]) + np.array(c, np.uint8) for c in ([200, 60, 50], [50, 80, 200]))
    keys = {0: red, 8: blue}
    colorize_video(tmp_path / "in.mp4", tmp_path / "key.mp4", colorizer, progress=False, keyframes=keys)
    hue = [
        np.degrees(np.arctan2(*rgb_to_lab(f)[1].mean((0, 1))[::-1])) for f in frames_of(tmp_path / "key.mp4")
    ]
    assert abs(hue[0] - hue[8]) > 60  # red at the start, blue at the end
    assert abs(hue[1] - hue[0]) < abs(hue[1] - hue[8]) and abs(hue[7] - hue[8]) < abs(hue[7] - hue[0])


def test_bad_keyframes_are_one_line_before_any_frame(tmp_path, capsys):
    truth = pan(tmp_path / "in.mp4", frames=6)
    Image.fromarray(truth[0]).save(tmp_path / "k.png")
    Image.fromarray(truth[0]).resize((64, 64)).save(tmp_path / "square.png")
    (tmp_path / "text.png").write_text("not an image")
    out = tmp_path / "out.mp4"
    cases = [
        (["--keyframe", f"6={tmp_path / 'k.png'}"], "past the film's end"),
        (["--keyframe", f"0={tmp_path / 'square.png'}"], "aspect"),
        (["--keyframe", f"0={tmp_path / 'text.png'}"], "keyframe 0"),
        (["--keyframe", f"0={tmp_path / 'missing.png'}"], "keyframe 0"),
        (["--keyframe", "x=k.png"], "N=IMAGE"),
        (["--keyframe", f"0={tmp_path / 'k.png'}", "--keyframe", f"0={tmp_path / 'k.png'}"], "twice"),
        (["--keyframe", f"0={tmp_path / 'k.png'}", "--no-motion"], "--no-motion"),
    ]
    capsys.readouterr()
    for args, message in cases:
        assert run_cli("video", tmp_path / "in.mp4", "-o", out, "--input-size", "64", *args) == 1, message
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
        assert not out.exists() and not list(tmp_path.glob("*.partial.*"))
    with pytest.raises(PolychromifyError, match="frame numbers"):
        colorize_video(tmp_path / "in.mp4", out, Colorizer("clean", input_size=64), keyframes={-1: truth[0]})


def test_shots_then_keyframes_from_the_command_line(tmp_path, capsys):
    truth = pan(tmp_path / "in.mp4", frames=12, cut_at=6)
    assert run_cli("video", tmp_path / "in.mp4", "--shots", tmp_path / "shots", "--input-size", "64") == 0
    written = sorted(p.name for p in (tmp_path / "shots").iterdir())
    assert written == ["frame-000000.png", "frame-000006.png"]
    first = np.asarray(Image.open(tmp_path / "shots" / "frame-000006.png"))
    assert first.ndim == 2 and first.shape == (64, 96)
    assert abs(float(first.mean()) - float(np.asarray(Image.fromarray(truth[6]).convert("L")).mean())) < 3
    assert export_shots(tmp_path / "in.mp4", tmp_path / "shots", 64, overwrite=True) == [0, 6]
    capsys.readouterr()
    assert run_cli("video", tmp_path / "in.mp4", "--shots", tmp_path / "shots") == 1  # never overwritten
    assert "exists" in capsys.readouterr().err
    Image.fromarray(truth[6]).save(tmp_path / "k6.png")
    args = [
        "-o",
        tmp_path / "o.mp4",
        "--keyframe",
        f"6={tmp_path / 'k6.png'}",
        "--report",
        tmp_path / "r.json",
    ]
    assert run_cli("video", tmp_path / "in.mp4", "--input-size", "64", *args) == 0
    assert "shot from frame 6: keyframes 6" in capsys.readouterr().out
    shots = json.loads((tmp_path / "r.json").read_text())["shots"]
    assert [s["keyframes"] for s in shots] == [[], [6]]
