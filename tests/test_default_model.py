"""The shipped default model: it loads from the package alone and beats the grey baseline on the real
sample photos (which were held out of its training)."""

import json

from polychromify.evaluate import evaluate_images
from polychromify.inference import ASSETS, resolve_model
from tests.conftest import SAMPLES


def test_default_model_ships_with_the_package():
    model = resolve_model("default")
    config = json.loads((ASSETS / "default" / "config.json").read_text())
    assert model.arch["name"] == config["arch"]["name"] == "unet" and model.takes_hints
    assert (ASSETS / "default" / "MODEL_CARD.md").exists()
    assert (ASSETS / "default" / "model.safetensors").stat().st_size < 8 * 1024 * 1024


def test_default_beats_grey_on_real_samples():
    grey = evaluate_images("grey", SAMPLES / "color")
    ours = evaluate_images("default", SAMPLES / "color")
    assert ours["auc_rebalanced"] > grey["auc_rebalanced"]
    assert ours["delta_cf"] < 0.8 * grey["delta_cf"]
