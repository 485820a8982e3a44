"""Paired photos (a real old print and its colour truth) and the tonal response of old film: prepare, train,
evaluate. Every pair here is made by the test itself."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from polychromify.color import (
    LUMINANCE,
    grey_lightness,
    normalize_l,
    remix_lightness,
    rgb_to_lab,
    to_grey,
    tonal_mix,
)
from polychromify.config import PrepareConfig
from polychromify.data.dataset import LabDataset
from polychromify.data.prepare import name_block, prepare
from polychromify.errors import PolychromifyError
from polychromify.train import Trainer, train
from tests.conftest import make_photo, run_cli, small_run

BLUE_SENSITIVE = (0.0, 0.5, 0.5)


def make_pairs(root: Path, n: int = 6, size=(48, 40)) -> tuple[Path, Path]:
    """n colour photos and their greys under the same names: each grey a blue-sensitive plate's record of
    its colours (not their CIELAB L), so a test can tell which of the two was used."""
    colour, grey = root / "colour", root / "grey"
    colour.mkdir(parents=True)
    grey.mkdir(parents=True)
    for i in range(n):
        im = make_photo(100 + i, size)
        im.save(colour / f"img{i}.png")
        Image.fromarray(to_grey(np.asarray(im), BLUE_SENSITIVE)).save(grey / f"img{i}.png")
    return grey, colour


def test_a_channel_mix_is_another_films_grey():
    rgb = np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)
    L, ab = rgb_to_lab(rgb)
    Lt, abt = normalize_l(torch.from_numpy(L))[None, None], torch.from_numpy(ab).permute(2, 0, 1)[None]
    same = remix_lightness(Lt, abt, torch.tensor([LUMINANCE]))
    assert (same - Lt).abs().max() * 50 < 0.05  # the luminance mix gives the photo's own L back
    assert np.abs(grey_lightness()[to_grey(rgb, LUMINANCE)] - L).max() < 0.5
    mixed = remix_lightness(Lt, abt, torch.tensor([BLUE_SENSITIVE]))[0, 0] * 50 + 50
    want = grey_lightness()[to_grey(rgb, BLUE_SENSITIVE)]
    assert np.abs(mixed.numpy() - want).max() < 0.5  # the torch path (training) = the numpy one (evaluate)
    assert np.abs(want - L).mean() > 3  # and it is another grey
    # reds go dark on a blue-sensitive plate, blue skies pale
    red, sky = np.array([[[200, 30, 30]]], np.uint8), np.array([[[90, 150, 230]]], np.uint8)
    assert to_grey(red, BLUE_SENSITIVE) < to_grey(red) and to_grey(sky, BLUE_SENSITIVE) > to_grey(sky)


def test_tonal_mixes_span_old_film():
    w = tonal_mix(np.random.default_rng(0), 2000)
    assert (w >= 0).all() and np.allclose(w.sum(1), 1)
    assert ((w[:, 0] < 0.1) & (w[:, 2] > 0.3)).mean() > 0.1  # blue-sensitive and orthochromatic
    assert (w[:, 0] > 0.4).mean() > 0.05  # behind a red filter
    np.testing.assert_array_equal(w, tonal_mix(np.random.default_rng(0), 2000))  # seeded


def test_prepare_pairs_takes_the_greys_lightness_and_the_colours_ab(tmp_path, capsys):
    grey, colour = make_pairs(tmp_path, 6)
    (grey / "img5.png").unlink()  # a missing partner
    Image.new("L", (20, 20)).save(grey / "img4.png")  # a partner of another size
    out = tmp_path / "ds"
    code = run_cli("prepare", colour, "--grey", grey, "--out", out, "--size", "32", "--split", "1,0,0")
    assert code == 0
    said = capsys.readouterr().out
    assert "img5.png: no grey partner" in said and "img4.png: grey partner is 20x20" in said
    ds = LabDataset(out, "train")
    assert sorted(s["source"] for s in ds.samples) == [f"img{i}.png" for i in range(4)]
    i = next(k for k, s in enumerate(ds.samples) if s["source"] == "img2.png")
    L, ab = ds.batch(np.array([i]))
    with Image.open(colour / "img2.png") as c, Image.open(grey / "img2.png") as g:
        c, g = (im.convert("RGB").resize((32, 32), Image.Resampling.BICUBIC) for im in (c, g))
    want_L = grey_lightness()[to_grey(np.asarray(g))]
    np.testing.assert_allclose(L[0, 0].numpy() * 50 + 50, want_L, atol=0.1)  # the grey's L, not the colour's
    assert np.abs(L[0, 0].numpy() * 50 + 50 - rgb_to_lab(np.asarray(c))[0]).mean() > 3
    np.testing.assert_allclose(ab[0].numpy(), rgb_to_lab(np.asarray(c))[1].transpose(2, 0, 1), atol=2e-3)


def test_blocks_of_neighbouring_names_share_a_split(tmp_path):
    assert (
        name_block("a/img1043.jpg", 20) == name_block("a/img1057.jpg", 20) != name_block("a/img1060.jpg", 20)
    )
    colour = tmp_path / "c"
    colour.mkdir()
    for i in range(60):
        make_photo(i, (24, 20)).save(colour / f"img{i}.png")
    cfg = PrepareConfig(size=16, split=(0.5, 0.5, 0.0), block=10, workers=1)
    manifest = prepare(colour, tmp_path / "ds", cfg, progress=False)
    split = {s["source"]: name for name in ("train", "val") for s in manifest["samples"][name]}
    for block in range(6):
        assert len({split[f"img{i}.png"] for i in range(block * 10, block * 10 + 10)}) == 1
    assert set(split.values()) == {"train", "val"}


@pytest.fixture(scope="module")
def pair_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    grey, colour = make_pairs(root, 6, (64, 48))
    corpus = root / "corpus"
    corpus.mkdir()
    for i in range(8):
        make_photo(i, (64, 48)).save(corpus / f"p{i}.png")
    settings = PrepareConfig(size=32, split=(0.75, 0.25, 0.0), workers=1)
    plates = prepare(
        colour, root / "plates", PrepareConfig(size=32, split=(1, 0, 0), grey=str(grey), workers=1)
    )
    assert plates["counts"]["train"] == 6
    prepare(corpus, root / "corpus-ds", settings, progress=False)
    return root / "corpus-ds", root / "plates"


def test_batches_mix_the_extra_pairs_and_the_tonal_greys(pair_sets, tmp_path):
    corpus, plates = pair_sets
    trainer = Trainer(
        small_run(corpus, tmp_path / "r", extra_data=str(plates), extra_share=0.25, tonal=1.0),
        torch.device("cpu"),
        0,
        1,
        False,
        False,
        False,
    )
    idx = np.arange(8) % len(trainer.train_set)
    L, ab, _, clean = trainer._batch(idx, 0, torch.Generator().manual_seed(0))
    assert L.shape == (8, 1, 32, 32) and ab.shape == (8, 2, 32, 32)
    own_L, own_ab = trainer.train_set.batch(idx[:6])
    np.testing.assert_array_equal(ab[:6].numpy(), own_ab.numpy())  # the targets stay the same
    assert (L[:6] - own_L).abs().mean() > 0.01  # every corpus sample greyed through another film
    extra_L = trainer.extra_set.batch(np.arange(len(trainer.extra_set)))[0]
    for k in (6, 7):  # the pairs keep their own grey: it is real
        assert min(float((L[k] - e).abs().max()) for e in extra_L) == 0
    again = trainer._batch(idx, 0, torch.Generator().manual_seed(0))[0]
    assert torch.equal(L, again)  # seeded
    run = train(small_run(corpus, tmp_path / "run", extra_data=str(plates), tonal=0.5), progress=False)
    saved = json.loads((run / "config.json").read_text())["train"]
    assert saved["extra_data"] == str(plates) and saved["tonal"] == 0.5


def test_extra_data_of_another_size_is_one_clear_error(pair_sets, tmp_path):
    corpus, _ = pair_sets
    other = tmp_path / "other"
    (tmp_path / "p").mkdir()
    for i in range(3):
        make_photo(i).save(tmp_path / "p" / f"q{i}.png")
    prepare(tmp_path / "p", other, PrepareConfig(size=16, split=(1, 0, 0), workers=1), progress=False)
    with pytest.raises(PolychromifyError, match="16-pixel samples"):
        train(small_run(corpus, tmp_path / "r", extra_data=str(other)), progress=False)
    assert not (tmp_path / "r").exists()


def test_evaluate_pairs_scores_the_grey_partner_against_its_colours(tmp_path, capsys):
    grey, colour = make_pairs(tmp_path, 3, (64, 48))
    (colour / "lonely.png").write_bytes((colour / "img0.png").read_bytes())
    (colour / "torn.png").write_bytes((colour / "img0.png").read_bytes())
    (grey / "torn.png").write_bytes((grey / "img0.png").read_bytes()[:300])  # a truncated partner
    assert run_cli("evaluate", "clean", "--pairs", grey, colour, "--json", "--precision", "fp32") == 0
    out = capsys.readouterr()
    assert out.err.count("skipped lonely.png") == 1 and out.err.count("skipped torn.png") == 1
    assert "Traceback" not in out.err
    floor, pairs = (json.loads(x) for x in out.out.splitlines())
    assert floor["images"] == pairs["images"] == 3 and floor["hue_accuracy"] == 0
    assert floor["delta_cf"] > pairs["delta_cf"]  # the network colours the grey partner
    # the same greys made from the colour photos by --mix: the same scores
    (colour / "lonely.png").unlink()
    (colour / "torn.png").unlink()
    assert (
        run_cli("evaluate", "clean", "--images", colour, "--mix", "0,1,1", "--json", "--precision", "fp32")
        == 0
    )
    mixed = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert mixed[1]["mix"] == [0, 0.5, 0.5]
    for key in ("auc_rebalanced", "hue_accuracy", "delta_cf", "psnr_rgb"):
        assert mixed[1][key] == pytest.approx(pairs[key], abs=1e-6), key
    plain = run_cli("evaluate", "clean", "--images", colour, "--json", "--precision", "fp32")
    assert plain == 0 and json.loads(capsys.readouterr().out.splitlines()[1])["psnr_rgb"] != pairs["psnr_rgb"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--pairs", "G", "C", "--images", "C"], "takes the place of --images"),
        (["--images", "C", "--mix", "1,x,0"], "invalid mix"),
        (["--pairs", "nowhere", "C"], "no such folder"),
    ],
)
def test_evaluate_pairs_errors(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grey, colour = make_pairs(tmp_path, 1)
    (tmp_path / "C").symlink_to(colour)
    (tmp_path / "G").symlink_to(grey)
    assert run_cli("evaluate", "clean", *args) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
