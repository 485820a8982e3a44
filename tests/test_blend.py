"""`blend`: trained models over the same ab bins as one (their logits weighted), built from their run folders;
and the shipped default, `clean` and `old-prints` blended, which beats `clean` alone on damaged prints."""

import json
import os
import shutil

import numpy as np
import pytest
import torch

from polychromify.checkpoint import ASSETS, resolve_model, save_blend, save_run
from polychromify.color import confident_colours
from polychromify.errors import PolychromifyError
from polychromify.evaluate import evaluate_images
from polychromify.inference import Colorizer
from polychromify.models import create_model
from polychromify.reference import Reference
from tests.conftest import REPO, SAMPLES, make_photo, run_cli


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    root = tmp_path_factory.mktemp("blend")
    for i, name in enumerate("ab"):
        torch.manual_seed(i)
        save_run(root / name, create_model("unet", width=8), {})
    return root


def test_a_blend_is_its_members_logits_weighted(members):
    a, b = resolve_model(members / "a"), resolve_model(members / "b")
    x = torch.rand(2, 1, 32, 48) * 2 - 1  # L in [-1,1]
    xi = a.make_input(x, None, a.takes_hints)  # with an empty hint channel
    blend = resolve_model(save_blend(members / "ab", ["../a", "../b"], [3, 1]))  # relative to the blend
    assert blend.kind == "classification" and blend.arch["members"] == ["../a", "../b"]
    with torch.no_grad():
        assert torch.allclose(blend(xi), 0.75 * a(xi) + 0.25 * b(xi), atol=1e-5)
        only_a = resolve_model(
            save_blend(members / "a-only", [str(members / "a"), str(members / "b")], [1, 0])
        )
        assert torch.allclose(only_a.predict_ab(x), a.predict_ab(x), atol=1e-5)
    config = json.loads((members / "ab" / "config.json").read_text())
    assert config["parameters"] == 2 * sum(p.numel() for p in a.parameters())
    assert not (members / "ab" / "model.safetensors").exists()  # no weights of its own


def test_a_blend_colorizes_takes_references_and_refuses_bad_members(members, tmp_path, capsys):
    run = save_blend(members / "half", ["../a", "../b"], [1, 1])
    photo = np.asarray(make_photo(3, (40, 56)))
    colorizer = Colorizer(run, precision="fp32")
    out = colorizer.colorize_array(photo)
    assert out.shape == (*photo.shape[:2], 3) and colorizer.takes_reference
    assert (
        colorizer.colorize_array(
            photo, reference=Reference.of(SAMPLES / "color" / "tuxpaint-data--sheep.jpg")
        ).shape
        == out.shape
    )
    save_run(tmp_path / "regression", create_model("cnn"), {})
    with pytest.raises(PolychromifyError, match="same ab bins"):
        save_blend(tmp_path / "bad", [str(members / "a"), str(tmp_path / "regression")], [1, 1])
    with pytest.raises(PolychromifyError, match="one or more members"):
        save_blend(tmp_path / "none", [], [])
    alone = colorizer.__class__(save_blend(tmp_path / "one", [str(members / "a")], [2]), precision="fp32")
    single = Colorizer(members / "a", precision="fp32", mirror=True)
    assert np.array_equal(alone.colorize_array(photo), single.colorize_array(photo))  # a blend of one: itself
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "config.json").write_text('{"arch": {"name": "blend"}}')
    assert run_cli("colorize", SAMPLES / "bw", "-o", tmp_path / "out", "--model", tmp_path / "damaged") == 1
    assert "a blend names 'members' and 'weights'" in capsys.readouterr().err


def test_a_neutral_blend_scales_its_colours_by_their_confidence(members, tmp_path, capsys):
    plain = resolve_model(save_blend(members / "plain", ["../a", "../b"], [1, 1]))
    run = save_blend(members / "neutral", ["../a", "../b"], [1, 1], neutral=True)
    blend = resolve_model(run)
    assert blend.neutral and not plain.neutral and blend.arch["neutral"] is True
    x = torch.rand(1, 1, 32, 48) * 2 - 1
    with torch.no_grad():
        out = blend(blend.make_input(x, None, blend.takes_hints))
        small = confident_colours(plain.decode(out, out.shape[-2:]), out, blend.bins, 0.0)
        want = torch.nn.functional.interpolate(small, size=(32, 48), mode="bilinear", align_corners=False)
        assert torch.allclose(blend.predict_ab(x), want, atol=1e-6)
        assert not torch.allclose(blend.predict_ab(x), plain.predict_ab(x), atol=1e-4)
    config = json.loads((run / "config.json").read_text())
    config["arch"]["neutral"] = "yes"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text(json.dumps(config).replace('"../', f'"{members}/'))
    assert run_cli("colorize", SAMPLES / "bw", "-o", tmp_path / "out", "--model", tmp_path / "bad") == 1
    assert "a blend's 'neutral' is true or false" in capsys.readouterr().err


def test_the_default_colours_near_grey_truth_less_than_without_its_scaling(tmp_path):
    default = resolve_model("default")
    assert default.neutral
    bare = save_blend(tmp_path / "bare", default.arch["members"], default.arch["weights"], default.cleaner)
    photos = REPO / "tests" / "data" / "heldout"
    # fp32 on every CPU: the comparison does not depend on whether this one has native bf16
    ours, without = (evaluate_images(m, photos, max_side=256, precision="fp32") for m in ("default", bare))
    assert ours["grey_coloured"] < 0.95 * without["grey_coloured"]  # 0.89 on an AVX-512 CPU
    assert ours["hue_accuracy"] > without["hue_accuracy"] - 0.01


def test_the_default_blend_beats_its_clean_member_on_damaged_prints(tmp_path):
    blend = resolve_model("default")
    assert blend.arch["members"] == ["clean", "old-prints"] and blend.takes_hints
    assert (ASSETS / "default" / "MODEL_CARD.md").exists()
    photos = tmp_path / "heldout"
    photos.mkdir()
    for src in [*SAMPLES.glob("color/*.jpg"), *(REPO / "tests" / "data" / "heldout").glob("*.jpg")]:
        shutil.copy(src, photos / src.name)
    # fp32 on every CPU: the comparison does not depend on whether this one has native bf16
    clean = evaluate_images("clean", photos, max_side=256, degrade="strong", precision="fp32")
    ours = evaluate_images("default", photos, max_side=256, degrade="strong", precision="fp32")
    assert ours["hue_accuracy"] > clean["hue_accuracy"]


def test_the_one_line_api_reloads_a_blend_whose_member_was_retrained(members, monkeypatch):
    from polychromify import checkpoint, inference

    blend = save_blend(members / "kept", ["../a", "../b"], [1, 1])
    loads = []
    real = checkpoint.load_model
    monkeypatch.setattr(checkpoint, "load_model", lambda *a, **k: loads.append(a[0]) or real(*a, **k))
    inference._kept_colorizer.cache_clear()
    grey = np.full((24, 32), 120, np.uint8)
    inference.colorize(grey, model=blend)
    inference.colorize(grey, model=blend)
    assert len(loads) == 3  # the blend and its two members, once
    assert checkpoint.weight_files(blend) == [
        members / "kept" / "../a" / "model.safetensors",
        members / "kept" / "../b" / "model.safetensors",
    ]
    os.utime(members / "b" / "model.safetensors", ns=(1, 1))  # a member retrained in place
    inference.colorize(grey, model=blend)
    assert len(loads) == 6
