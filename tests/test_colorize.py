import io
import json
import shutil
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from polychromify import colorize
from polychromify.color import rgb_to_lab
from polychromify.errors import PolychromifyError
from polychromify.inference import Colorizer, parse_hint
from tests.conftest import SAMPLES, make_photo, run_cli
from tests.corpus import bad_files, exif_rotated


@pytest.fixture(scope="module")
def colorizer():
    return Colorizer("default")


def test_output_size_and_lightness_kept(colorizer):
    rgb = np.asarray(make_photo(3, (203, 101)))
    out = colorizer.colorize_array(rgb)
    assert out.shape == rgb.shape
    L_in, _ = rgb_to_lab(rgb)
    L_out, ab_out = rgb_to_lab(out)
    assert np.abs(L_in - L_out).mean() < 0.5  # the photo's own L, up to gamut clipping and rounding
    assert np.abs(ab_out).mean() > 0.01  # and some colour was added


def test_saturation_zero_gives_grey(colorizer):
    out = colorizer.colorize_array(np.asarray(make_photo(4, (64, 48))), saturation=0)
    _, ab = rgb_to_lab(out)
    assert np.abs(ab).max() * 128 < 1.5


def test_hint_moves_colour_towards_it(colorizer):
    rgb = np.asarray(Image.open(SAMPLES / "bw" / "tuxpaint-data--sheep.jpg").convert("RGB"))
    h, w = rgb.shape[:2]
    x, y = w // 2, h // 2
    target = parse_hint(f"{x},{y},#ff00ff")  # magenta: nothing a landscape model would predict
    plain = rgb_to_lab(colorizer.colorize_array(rgb))[1][y - 4 : y + 5, x - 4 : x + 5].mean((0, 1))
    hinted = rgb_to_lab(colorizer.colorize_array(rgb, [target]))[1][y - 4 : y + 5, x - 4 : x + 5].mean((0, 1))
    goal = np.array(target.ab)
    assert (
        np.linalg.norm(hinted - goal) < np.linalg.norm(plain - goal) - 2 / 128
    )  # at least 2 CIELAB units closer


def test_mirror_averaging(colorizer):  # (with hints: test_hint_moves_colour_towards_it)
    grey = np.asarray(Image.open(SAMPLES / "bw" / "tuxpaint-data--sheep.jpg").convert("L"))[
        :192, :256
    ]  # the grid: no resizing
    once = Colorizer("default", mirror=False)
    assert colorizer.mirror and not once.mirror
    # the average of the photo's colours and of the mirror image's colours, mirrored back
    ab, _ = colorizer.predict_small([grey])
    plain, _ = once.predict_small([grey])
    flipped, _ = once.predict_small([grey[:, ::-1].copy()])
    torch.testing.assert_close(ab, (plain + flipped.flip(-1)) / 2, atol=2e-3, rtol=0)
    assert (ab - plain).abs().mean() > 1e-3  # ...which is not the photo's alone
    # so a mirrored photo gets the mirrored colours (the network alone is not symmetric)
    again, _ = colorizer.predict_small([grey[:, ::-1].copy()])
    torch.testing.assert_close(again.flip(-1), ab, atol=2e-3, rtol=0)
    assert (flipped.flip(-1) - plain).abs().mean() > 1e-3


def test_python_api_accepts_path_pil_and_array():
    path = SAMPLES / "bw" / "lxqt-themes--Valendas.jpg"
    a = colorize(path)
    b = colorize(Image.open(path))
    c = colorize(np.asarray(Image.open(path).convert("L")))
    assert isinstance(a, Image.Image) and a.size == b.size == c.size == Image.open(path).size


def test_folder_mirrored_bad_files_skipped(tmp_path, capsys):
    src = tmp_path / "in"
    (src / "a" / "b").mkdir(parents=True)
    make_photo(1, (40, 30)).save(src / "top.png")
    make_photo(2, (30, 40)).save(src / "a" / "b" / "deep.jpg")
    bad = bad_files(src / "bad")
    out = tmp_path / "out"
    code = run_cli("colorize", src, "-o", out)
    captured = capsys.readouterr()
    assert code == 1  # some inputs failed
    assert (out / "top.png").exists() and (out / "a" / "b" / "deep.jpg").exists()
    assert Image.open(out / "a" / "b" / "deep.jpg").size == (30, 40)
    assert Image.open(out / "top.png").format == "PNG"
    failed = [x for x in captured.err.splitlines() if x.startswith("polychromify:") and "precision:" not in x]
    # readme.txt is not an image name and grey.jpg is a fine (grey) photo: every other bad file fails
    assert len(failed) == sum(1 for n in bad if n not in ("readme.txt", "grey.jpg"))
    assert (out / "bad" / "grey.jpg").exists()
    assert "colorized" in captured.out and "Traceback" not in captured.err
    # bf16 arithmetic: the same files, colours within a few levels of fp32
    assert run_cli("colorize", src / "top.png", "-o", tmp_path / "bf16", "--precision", "bf16") == 0
    a, b = (np.asarray(Image.open(d / "top.png"), dtype=int) for d in (out, tmp_path / "bf16"))
    assert a.shape == b.shape and np.abs(a - b).mean() < 2


def test_a_zip_of_photos_is_coloured_into_a_folder_named_as_it(tmp_path, capsys):
    """A zip's photos come out under OUT/<zip's name>/, with their paths inside it; a member that is not a
    photo is left out, a broken one is one line; a name that would leave OUT ('..', absolute) is never
    written; the zip itself is untouched."""
    archive = tmp_path / "album.zip"
    buf = io.BytesIO()
    make_photo(3, (40, 30)).save(buf, "JPEG")
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("top.jpg", buf.getvalue())
        zf.writestr("summer/deep.jpg", buf.getvalue())
        zf.writestr("notes.txt", "not a photo")
        zf.writestr("broken.jpg", buf.getvalue()[:50])
        zf.writestr("../escape.jpg", buf.getvalue())
        zf.writestr("__MACOSX/._top.jpg", b"resource fork")
    before = archive.read_bytes()
    out = tmp_path / "out"
    code = run_cli("colorize", archive, "-o", out)
    err = capsys.readouterr().err
    assert code == 1 and "album.zip/broken.jpg" in err and "Traceback" not in err
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["album/summer/deep.jpg", "album/top.jpg"]
    assert Image.open(out / "album" / "top.jpg").size == (40, 30)
    assert not (tmp_path / "escape.jpg").exists() and archive.read_bytes() == before


def test_format_exif_and_skip_existing(tmp_path, capsys):
    exif_rotated(tmp_path / "rot.jpg")
    out = tmp_path / "out"
    assert run_cli("colorize", tmp_path / "rot.jpg", "-o", out, "--format", "png") == 0
    assert Image.open(out / "rot.png").size == (20, 40)  # upright, as the input is displayed
    before = (out / "rot.png").stat().st_mtime_ns
    assert run_cli("colorize", tmp_path / "rot.jpg", "-o", out, "--format", "png", "--skip-existing") == 0
    assert (out / "rot.png").stat().st_mtime_ns == before
    assert "1 already done" in capsys.readouterr().out


def test_never_overwrites_inputs_or_loops(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    make_photo(1).save(src / "p.jpg")
    original = (src / "p.jpg").read_bytes()
    assert run_cli("colorize", src / "p.jpg", "-o", src) == 1
    assert (src / "p.jpg").read_bytes() == original
    assert run_cli("colorize", src, "-o", src / "out") == 1
    assert "inside input folder" in capsys.readouterr().err


def test_negative_saturation_is_one_error_before_any_photo(tmp_path, capsys):
    make_photo(1).save(tmp_path / "p.jpg")
    for command in ("colorize", "video"):  # the option they share, checked by the parser
        assert run_cli(command, tmp_path / "p.jpg", "-o", tmp_path / "out", "--saturation", "-1") == 2
        assert "argument --saturation: must be >= 0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_glob_and_missing_inputs(tmp_path, capsys):
    shutil.copytree(SAMPLES / "bw", tmp_path / "bw")
    out = tmp_path / "out"
    assert run_cli("colorize", f"{tmp_path}/bw/*.jpg", tmp_path / "missing.jpg", "-o", out) == 1
    assert len(list(out.glob("*.jpg"))) == 4
    assert "no such file" in capsys.readouterr().err


def test_hints_file_and_bad_hints(tmp_path, capsys):
    make_photo(1, (40, 30)).save(tmp_path / "p.png")
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps([{"x": 5, "y": 5, "color": "#00ff00"}]))
    assert run_cli("colorize", tmp_path / "p.png", "-o", tmp_path / "o", "--hints", hints) == 0
    assert run_cli("colorize", tmp_path / "p.png", "-o", tmp_path / "o2", "--hint", "5,5,green") == 1
    assert "X,Y,#RRGGBB" in capsys.readouterr().err
    assert run_cli("colorize", tmp_path / "p.png", "-o", tmp_path / "o3", "--hint", "500,5,#00ff00") == 1
    assert "outside" in capsys.readouterr().err


def test_unknown_model_and_non_hint_model(tmp_path, capsys, tiny_dataset):
    from polychromify.train import TrainConfig, train

    make_photo(1).save(tmp_path / "p.png")
    assert run_cli("colorize", tmp_path / "p.png", "-o", tmp_path / "o", "--model", "nope") == 1
    assert "unknown model" in capsys.readouterr().err
    run = train(
        TrainConfig(
            model="cnn", data=str(tiny_dataset), out=str(tmp_path / "cnn"), epochs=1, steps_per_epoch=1
        ),
        progress=False,
    )
    assert (
        run_cli("colorize", tmp_path / "p.png", "-o", tmp_path / "o", "--model", run, "--hint", "1,1,#ff0000")
        == 1
    )
    assert "does not take colour hints" in capsys.readouterr().err
    assert run_cli("colorize", tmp_path / "p.png", "-o", tmp_path / "o", "--model", run) == 0
    with pytest.raises(PolychromifyError):
        Colorizer("default").colorize_array(np.zeros((8, 8, 3), np.uint8), saturation=-1)


def test_batched_equals_one_by_one(tmp_path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        make_photo(i, (48, 32)).save(src / f"p{i}.png")
    make_photo(9, (32, 48)).save(src / "other.png")
    batches = []
    real = Colorizer.colorize_batch
    monkeypatch.setattr(
        Colorizer,
        "colorize_batch",
        lambda self, ims, *a, **k: batches.append(len(ims)) or real(self, ims, *a, **k),
    )
    assert run_cli("colorize", src, "-o", tmp_path / "one", "--batch-size", 1) == 0
    assert batches == [1, 1, 1, 1]
    assert run_cli("colorize", src, "-o", tmp_path / "many", "--batch-size", 3) == 0
    assert sorted(batches[4:]) == [1, 3]  # the three of one size in one forward pass
    for p in sorted((tmp_path / "one").iterdir()):
        a = np.asarray(Image.open(p), dtype=int)
        b = np.asarray(Image.open(tmp_path / "many" / p.name), dtype=int)
        assert np.abs(a - b).max() <= 1, p.name


def test_each_torchrun_rank_takes_its_share(tmp_path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(5):
        make_photo(i, (24, 16)).save(src / f"p{i}.png")
    monkeypatch.setenv("WORLD_SIZE", "2")
    for rank in ("0", "1"):
        monkeypatch.setenv("RANK", rank)
        assert run_cli("colorize", src, "-o", tmp_path / f"out{rank}") == 0
    done = [sorted(p.name for p in (tmp_path / f"out{r}").iterdir()) for r in "01"]
    assert len(done[0]) == 3 and len(done[1]) == 2 and not set(done[0]) & set(done[1])
