"""The shipped default (`clean` and `old-prints` blended): it loads from the package alone and beats the grey
baseline on real photos held out of its training (the four samples plus twelve validation photos, reduced)."""

import json
import shutil

import pytest

from polychromify.evaluate import evaluate_images
from polychromify.inference import ASSETS, resolve_model
from tests.conftest import REPO, SAMPLES


def test_default_model_ships_with_the_package():
    # the default is a blend of two shipped networks: `clean` (trained on clean photos) and `old-prints`
    default = resolve_model("default")
    assert default.arch["name"] == "blend" and default.arch["members"] == ["clean", "old-prints"]
    assert not (ASSETS / "default" / "model.safetensors").exists()  # no weights of its own
    assert (ASSETS / "default" / "MODEL_CARD.md").exists() and default.takes_hints
    model = resolve_model("clean")
    config = json.loads((ASSETS / "clean" / "config.json").read_text())
    # one network is both the automatic model and its hint partner (see the model card)
    assert model.arch["name"] == config["arch"]["name"] == "mnv2-unet" and model.takes_hints
    assert "hint_model" not in config and "encoder_weights" not in config["arch"]["kwargs"]
    assert (ASSETS / "clean" / "MODEL_CARD.md").exists()
    assert (ASSETS / "clean" / "model.safetensors").stat().st_size < 10 * 1024 * 1024  # float16


@pytest.fixture(scope="module")
def heldout(tmp_path_factory):
    folder = tmp_path_factory.mktemp("heldout")
    for src in [*SAMPLES.glob("color/*.jpg"), *(REPO / "tests" / "data" / "heldout").glob("*.jpg")]:
        shutil.copy(src, folder / src.name)
    return folder


def test_default_beats_grey_on_held_out_real_photos(heldout):
    grey = evaluate_images("grey", heldout, max_side=400)
    ours = evaluate_images("default", heldout, max_side=400)
    assert ours["images"] == 16
    assert ours["auc_rebalanced"] > grey["auc_rebalanced"]
    assert ours["delta_cf"] < 0.6 * grey["delta_cf"]  # far less "shy" than grey
    assert ours["psnr_rgb"] > grey["psnr_rgb"]
    assert ours["hue_accuracy"] > 0.6 and min(ours["hue_warm"], ours["hue_green"], ours["hue_blue"]) > 0.4
    # mirror averaging is on unless asked off (`evaluate --no-mirror`, as `video` runs)
    once = evaluate_images("default", heldout, max_side=400, mirror=False)
    assert ours["mirror"] and not once["mirror"] and not grey["mirror"]
    assert once["psnr_rgb"] != ours["psnr_rgb"] and once["psnr_rgb"] > grey["psnr_rgb"]


def test_default_gets_the_samples_hues():
    # skies and snow blue, grass green: most strongly coloured pixels of the four samples get their hue
    grey = evaluate_images("grey", SAMPLES / "color", max_side=400)
    # fp32 on every CPU: the thresholds below mean the same arithmetic with or without native bf16
    clean = evaluate_images("clean", SAMPLES / "color", max_side=400, precision="fp32")
    assert clean["delta_cf"] < 0.85 * grey["delta_cf"] and clean["hue_blue"] > 0.6
    # The default pales the sheep's clear sky (old-prints leans warm there; model card, "Where it is
    # worse"): on these four it is behind `clean` (blue 0.55 against 0.68), though not over the 99.
    ours = evaluate_images("default", SAMPLES / "color", max_side=400, precision="fp32")
    assert ours["delta_cf"] < 0.85 * grey["delta_cf"]
    assert ours["hue_accuracy"] > 0.5 and ours["hue_blue"] > 0.45


def test_old_prints_model_ships_and_holds_its_colours_on_damaged_prints(heldout):
    """`--model old-prints`: `clean`'s recipe with an old print's damage on 30% of its inputs. On the
    bundled held-out photos, damaged at the strong level, it keeps more hues than `clean`."""
    config = json.loads((ASSETS / "old-prints" / "config.json").read_text())
    assert config["train"]["degrade"] == 0.3 and (ASSETS / "old-prints" / "MODEL_CARD.md").exists()
    assert resolve_model("old-prints").takes_hints
    assert (ASSETS / "old-prints" / "model.safetensors").stat().st_size < 10 * 1024 * 1024
    damaged = {
        m: evaluate_images(m, heldout, max_side=256, degrade="strong") for m in ("clean", "old-prints")
    }
    assert damaged["old-prints"]["hue_accuracy"] > damaged["clean"]["hue_accuracy"]
    assert damaged["old-prints"]["auc_rebalanced"] > damaged["clean"]["auc_rebalanced"]


def test_old_photos_ships_as_one_network_behind_the_confidence_scaling():
    """`--model old-photos` (#44): one network trained on the corpus and on real old photographs with their
    colours (pairs, tonal mixes, damage), behind the default's confidence scaling."""
    model = resolve_model("old-photos")
    assert model.arch["members"] == ["network"] and model.neutral and model.cleaner is None
    assert model.takes_hints and len(model.members) == 1
    config = json.loads((ASSETS / "old-photos" / "network" / "config.json").read_text())["train"]
    assert config["extra_share"] > 0 and config["tonal"] > 0 and config["degrade"] > 0
    assert (ASSETS / "old-photos" / "network" / "model.safetensors").stat().st_size < 10 * 1024 * 1024
    assert (ASSETS / "old-photos" / "MODEL_CARD.md").exists()
