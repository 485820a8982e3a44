"""Colours from a reference photo: `Reference`, `match_reference`, and --reference / reference= everywhere."""

import io
import json

import av
import numpy as np
import pytest
import torch
from PIL import Image

import polychromify
from polychromify.color import annealed_mean
from polychromify.errors import PolychromifyError
from polychromify.inference import Colorizer
from polychromify.metrics import psnr
from polychromify.reference import Reference, match_reference
from polychromify.video import colorize_video
from tests.conftest import SAMPLES, make_photo, run_cli
from tests.test_video import make_clip

SHEEP = SAMPLES / "bw" / "tuxpaint-data--sheep.jpg"


def swatches(rgb: tuple[int, int, int], seed: int) -> np.ndarray:
    """A 64x64 'photo' of one family of colours: `rgb` with noise in brightness and tint."""
    rng = np.random.default_rng(seed)
    img = np.array(rgb, float) * rng.uniform(0.5, 1.2, (64, 64, 1)) + rng.normal(0, 12, (64, 64, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


BLUE, GREEN = swatches((50, 100, 210), 0), swatches((70, 170, 50), 1)


def tv(p: torch.Tensor, q: torch.Tensor) -> float:
    """Total variation distance of two histograms."""
    return 0.5 * float((p - q).abs().sum())


@pytest.fixture(scope="module")
def colorizer():
    return Colorizer("default")


def test_match_reference_makes_the_mean_distribution_the_target():
    torch.manual_seed(0)
    logits, target, T = torch.randn(2, 40, 6, 7) * 3, torch.rand(40) ** 4, 0.7
    target /= target.sum()
    before = torch.softmax(logits / T, 1).mean((2, 3))
    after = torch.softmax(match_reference(logits, target, T) / T, 1).mean((2, 3))
    assert all(tv(a, target) < 0.05 and tv(b, target) > 0.5 for a, b in zip(after, before, strict=True))
    # a target equal to the photo's own mean distribution, or strength 0, leaves its colours as they were
    bins = torch.randn(40, 2) * 30
    plain = annealed_mean(logits[:1], bins, T)
    assert torch.allclose(annealed_mean(match_reference(logits[:1], before[0], T), bins, T), plain, atol=2e-3)
    assert torch.allclose(
        annealed_mean(match_reference(logits[:1], target, T, 0.0), bins, T), plain, atol=2e-3
    )
    half = torch.softmax(match_reference(logits, target, T, 0.5) / T, 1).mean((2, 3))
    assert all(
        tv(a, target) < tv(h, target) < tv(b, target) for a, h, b in zip(after, half, before, strict=True)
    )


def test_blue_and_green_references_each_give_their_palette(colorizer):
    grey = np.asarray(Image.open(SHEEP).convert("L"))
    bins = colorizer.model.bins
    blue, green = Reference.of(BLUE), Reference.of(GREEN)
    out_blue = Reference.of(colorizer.colorize_array(grey, reference=blue)).histogram(bins)
    out_green = Reference.of(colorizer.colorize_array(grey, reference=green)).histogram(bins)
    hb, hg = blue.histogram(bins), green.histogram(bins)
    assert tv(out_blue, hb) < tv(out_blue, hg) and tv(out_green, hg) < tv(out_green, hb)
    plain = Reference.of(colorizer.colorize_array(grey)).histogram(bins)
    assert tv(out_blue, hb) < tv(plain, hb) - 0.1 and tv(out_green, hg) < tv(plain, hg) - 0.1


def test_a_photos_own_colours_as_reference_bring_it_closer_to_the_truth(colorizer):
    truth = np.asarray(Image.open(SAMPLES / "color" / "lxqt-themes--this-is-not-windows.jpg").convert("RGB"))
    truth = np.asarray(Image.fromarray(truth).resize((320, 240)))
    plain = psnr(colorizer.colorize_array(truth), truth)
    own = psnr(colorizer.colorize_array(truth, reference=Reference.of(truth)), truth)
    assert own > plain + 1.0, (plain, own)


def test_a_film_keeps_the_references_palette_in_every_frame(tmp_path):
    colorizer = Colorizer("default", input_size=64)
    make_clip(tmp_path / "in.mp4", frames=6, audio=False)
    bins = colorizer.model.bins
    refs = {"blue": Reference.of(BLUE), "green": Reference.of(GREEN)}
    for name, ref in refs.items():
        colorize_video(
            tmp_path / "in.mp4", tmp_path / f"{name}.mp4", colorizer, reference=ref, progress=False
        )
    for name, other in (("blue", "green"), ("green", "blue")):
        with av.open(str(tmp_path / f"{name}.mp4")) as c:
            frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        assert len(frames) == 6
        for rgb in frames:
            h = Reference.of(rgb).histogram(bins)
            assert tv(h, refs[name].histogram(bins)) < tv(h, refs[other].histogram(bins))


def test_cli_api_and_bad_references(tmp_path, capsys, tiny_dataset):
    Image.fromarray(BLUE).save(tmp_path / "blue.png")
    Image.fromarray(GREEN).save(tmp_path / "green.jpg")
    photo = tmp_path / "p.png"
    make_photo(1, (80, 60)).convert("L").save(photo)
    assert run_cli("colorize", photo, "-o", tmp_path / "blue", "--reference", tmp_path / "blue.png") == 0
    assert run_cli("colorize", photo, "-o", tmp_path / "green", "--reference", tmp_path / "green.jpg") == 0
    b = np.asarray(Image.open(tmp_path / "blue" / "p.png"), float)
    g = np.asarray(Image.open(tmp_path / "green" / "p.png"), float)
    assert b[..., 2].mean() > g[..., 2].mean() + 5 and g[..., 1].mean() > b[..., 1].mean() + 5
    api = np.asarray(polychromify.colorize(photo, reference=tmp_path / "blue.png"), float)
    assert np.abs(api - b).max() <= 1
    capsys.readouterr()

    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "green.jpg").read_bytes()[:300])
    for ref, why in [
        (photo, "has no colours"),  # black and white
        (tmp_path / "notes.txt", "not an image"),
        (tmp_path / "cut.jpg", "reference photo"),
        (tmp_path / "missing.jpg", "no such file"),
        (tmp_path, "is a folder"),
    ]:
        assert run_cli("colorize", photo, "-o", tmp_path / "bad", "--reference", ref) == 1
        err = capsys.readouterr().err
        assert why in err and "reference photo" in err and "Traceback" not in err, err
        assert not (tmp_path / "bad").exists()  # nothing written
    args = ("colorize", photo, "-o", tmp_path / "bad", "--reference", tmp_path / "blue.png")
    assert run_cli(*args, "--reference-strength", "1.5") == 1
    assert "strength must be between 0 and 1" in capsys.readouterr().err
    make_clip(tmp_path / "in.mp4", frames=2, audio=False)
    assert run_cli("video", tmp_path / "in.mp4", "-o", tmp_path / "o.mp4", "--reference", photo) == 1
    assert "has no colours" in capsys.readouterr().err and not (tmp_path / "o.mp4").exists()

    from polychromify.train import TrainConfig, train

    cfg = TrainConfig(
        model="cnn", data=str(tiny_dataset), out=str(tmp_path / "cnn"), epochs=1, steps_per_epoch=1
    )
    run = train(cfg, progress=False)
    args = ("colorize", photo, "-o", tmp_path / "o", "--model", run, "--reference", tmp_path / "blue.png")
    assert run_cli(*args) == 1
    assert "cannot take colours from a reference photo" in capsys.readouterr().err
    with pytest.raises(PolychromifyError, match="predicts colours directly"):
        Colorizer(run).colorize_array(BLUE, reference=Reference.of(GREEN))


def test_evaluate_with_each_photos_own_colours(capsys):
    assert run_cli("evaluate", "default", "--images", SAMPLES / "color", "--reference", "own", "--json") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["model"], r.get("reference")) for r in rows] == [
        ("grey", None),
        ("default", None),
        ("default", "own"),
    ]
    assert rows[2]["psnr_rgb"] > rows[1]["psnr_rgb"] + 1 and rows[2]["hue_accuracy"] > rows[1]["hue_accuracy"]
    assert rows[2]["reference_tv"] < 0.5 and "reference_tv" not in rows[1]
    # another photo's colours: the results' palettes move to those photos'
    assert (
        run_cli("evaluate", "default", "--images", SAMPLES / "color", "--reference", "other", "--json") == 0
    )  # noqa: E501
    other = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert other["reference"] == "other" and other["reference_tv"] < other["own_tv"] - 0.05


def test_web_reference_upload():
    from fastapi.testclient import TestClient

    from polychromify.web.app import create_app

    client = TestClient(create_app())
    assert client.get("/api/models").json()["models"][0]["reference"] is True
    sheep = SHEEP.read_bytes()

    def post(ref: bytes | None):
        files = {"image": ("s.jpg", sheep)} | ({"reference": ("r.png", ref)} if ref is not None else {})
        return client.post("/api/colorize", files=files)

    def png(a: np.ndarray) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, "PNG")
        return buf.getvalue()

    plain = np.asarray(Image.open(io.BytesIO(post(None).content)), float)
    blue = np.asarray(Image.open(io.BytesIO(post(png(BLUE)).content)), float)
    assert (blue[..., 2] - blue[..., 0]).mean() > (plain[..., 2] - plain[..., 0]).mean() + 10  # bluer
    for bad, why in [
        (b"not an image", "reference photo"),
        (png(BLUE.mean(2).astype(np.uint8)), "no colours"),
    ]:
        r = post(bad)
        assert 400 <= r.status_code < 500 and why in r.json()["error"], r.json()
