"""The pretrained-encoder model: torchvision's key layout, weights file checks, run folders without the file,
frozen layers, lower encoder rate, hint partner started from its automatic model."""

import pytest
import torch

from polychromify import checkpoint
from polychromify.color import grey_srgb
from polychromify.errors import PolychromifyError
from polychromify.models import create_model
from polychromify.models.mobilenet import MobileNetV2
from polychromify.train import TrainConfig, train


def test_torchvision_key_layout():
    keys = MobileNetV2().state_dict()
    # spot checks of torchvision's names and shapes (features.N.conv.M, classifier.1)
    assert keys["features.0.0.weight"].shape == (32, 3, 3, 3)
    assert keys["features.1.conv.0.0.weight"].shape == (32, 1, 3, 3)  # t=1: depthwise first
    assert keys["features.2.conv.1.0.weight"].shape == (96, 1, 3, 3)
    assert keys["features.17.conv.3.running_var"].shape == (320,)
    assert keys["features.18.0.weight"].shape == (1280, 320, 1, 1)
    assert keys["classifier.1.weight"].shape == (1000, 1280)
    assert sum(v.numel() for k, v in MobileNetV2().named_parameters()) == 3_504_872  # torchvision's count


def test_encoder_weights_load_and_run_folder_rebuilds_without_the_file(imagenet_file, tmp_path):
    path, state = imagenet_file
    model = create_model("mnv2-unet", encoder_weights=str(path), width=8)
    assert torch.equal(model.encoder[5].conv[1][0].weight, state["features.5.conv.1.0.weight"])
    assert "encoder_weights" not in model.arch["kwargs"]  # the run's own weights hold the encoder
    checkpoint.save_run(tmp_path / "run", model)
    path.rename(path.with_suffix(".gone"))
    try:
        rebuilt = checkpoint.load_model(tmp_path / "run")
    finally:
        path.with_suffix(".gone").rename(path)
    assert torch.equal(rebuilt.encoder[5].conv[1][0].weight, state["features.5.conv.1.0.weight"])


def test_wrong_encoder_files_get_one_clear_error(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(PolychromifyError, match="not found"):
        create_model("mnv2-unet", encoder_weights=str(missing))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(PolychromifyError, match="cannot read"):
        create_model("mnv2-unet", encoder_weights=str(junk))
    other = tmp_path / "other.pth"
    torch.save(create_model("cnn").state_dict(), other)
    with pytest.raises(PolychromifyError, match="not torchvision's MobileNetV2"):
        create_model("mnv2-unet", encoder_weights=str(other))
    shapes = {k: v for k, v in MobileNetV2().state_dict().items()} | {
        "classifier.1.weight": torch.zeros(10, 1280)
    }
    torch.save(shapes, other)
    with pytest.raises(PolychromifyError, match="size mismatch"):
        create_model("mnv2-unet", encoder_weights=str(other))


def test_grey_input_is_the_neutral_srgb_of_that_lightness():
    from polychromify.color import lab_to_rgb

    L = torch.tensor([0.0, 10.0, 50.0, 90.0, 100.0])
    expected = lab_to_rgb(L.numpy()[None], torch.zeros(1, 5, 2).numpy())[0, :, 0] / 255.0  # R=G=B
    got = grey_srgb(((L - 50) / 50).view(1, 1, 1, 5)).flatten()
    assert torch.allclose(got, torch.as_tensor(expected, dtype=torch.float32), atol=1 / 255)


def test_frozen_layers_and_lower_encoder_rate():
    model = create_model("mnv2-unet", width=8, freeze=4, encoder_lr=0.25)
    model.train()
    assert not model.encoder[3].training and model.encoder[4].training  # ImageNet statistics kept
    assert not any(p.requires_grad for p in model.encoder[:4].parameters())
    rest, enc = model.param_groups(1e-3)
    assert enc["lr"] == pytest.approx(2.5e-4) and rest["lr"] == 1e-3
    frozen = {id(p) for p in model.encoder[:4].parameters()}
    assert not frozen & {id(p) for g in (rest, enc) for p in g["params"]}


def test_hint_partner_starts_as_its_automatic_model(tiny_dataset, tmp_path):
    args = {
        "model": "mnv2-unet",
        "data": str(tiny_dataset),
        "epochs": 1,
        "steps_per_epoch": 1,
        "batch_size": 4,
    }
    auto = train(TrainConfig(out=str(tmp_path / "auto"), model_args={"width": 8}, **args), progress=False)
    partner = create_model("mnv2-unet", width=8, hints=True).eval()
    missing = checkpoint.load_into(partner, auto)
    assert missing and all(k.startswith("hint") for k in missing)
    base = checkpoint.load_model(auto)
    L = torch.rand(2, 1, 32, 32) * 2 - 1
    hints = torch.zeros(2, 3, 32, 32)
    hints[:, 0, 8:16, 8:16], hints[:, 2, 8:16, 8:16] = 0.5, 1.0
    with torch.no_grad():  # zero-initialised hint projections: the same colours, hints or not
        assert torch.allclose(partner.predict_ab(L, hints), base.predict_ab(L), atol=1e-5)
    # train --init does the same and then learns from hints
    run = train(
        TrainConfig(
            out=str(tmp_path / "hints"), model_args={"width": 8, "hints": True}, init=str(auto), **args
        ),
        progress=False,
    )
    assert checkpoint.read_config(run)["train"]["init"] == str(auto)
    with pytest.raises(PolychromifyError, match="do not fit"):
        checkpoint.load_into(create_model("unet"), auto)


def _randomise_batch_norm(model: torch.nn.Module) -> None:
    gen = torch.Generator().manual_seed(0)
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.copy_(torch.randn(bn.num_features, generator=gen) * 0.1)
        bn.running_var.copy_(torch.rand(bn.num_features, generator=gen) + 0.5)
        bn.weight.data.copy_(torch.rand(bn.num_features, generator=gen) + 0.5)
        bn.bias.data.copy_(torch.randn(bn.num_features, generator=gen) * 0.1)


def test_inference_model_folds_batch_norm_with_the_same_colours():
    from polychromify.inference import Colorizer

    net = create_model("mnv2-unet", width=8, hints=True).eval()
    for m in net.modules():  # non-zero hint projections, so the hint branch matters
        if isinstance(m, torch.nn.Conv2d) and m.weight.abs().sum() == 0:
            torch.nn.init.normal_(m.weight, std=0.1)
    _randomise_batch_norm(net)
    fast = Colorizer(net, precision="fp32").model
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # the caller's model is untouched
    L = torch.rand(2, 1, 48, 64) * 2 - 1
    hints = torch.zeros(2, 3, 48, 64)
    hints[1, :, 10:13, 20:23] = torch.tensor([0.5, -0.3, 1.0]).view(3, 1, 1)
    with torch.no_grad():
        for h in (None, hints):
            assert torch.allclose(net.predict_ab(L, h), fast.predict_ab(L, h), atol=1e-5)


def test_no_hint_terms_are_cached_per_grid_and_match_the_full_computation():
    net = create_model("mnv2-unet", width=8, hints=True).eval()
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d) and m.weight.abs().sum() == 0:
            torch.nn.init.normal_(m.weight, std=0.1)
    L = torch.rand(3, 1, 48, 64) * 2 - 1
    x = net.make_input(L, None, True)
    with torch.no_grad():
        cached = net(x)
        assert len(net._no_hints) == 1
        skips, y = {}, (grey_srgb(x[:, :1]) - net.mean) / net.std
        for i, layer in enumerate(net.encoder):
            skips[i] = y = layer(y)
        full = net._hint_terms_of(x[:, 1:], skips)  # every sample's own, as with hints
        for c, f in zip(net._no_hints[next(iter(net._no_hints))], full, strict=True):
            assert c.shape[0] == 1 and torch.allclose(c.expand_as(f), f, atol=1e-6)
        assert torch.equal(net(x), cached)
        net(net.make_input(torch.zeros(1, 1, 32, 32), None, True))
        assert len(net._no_hints) == 2  # one entry per grid size
    net.train()
    assert not net._no_hints  # training empties it: the weights will change
