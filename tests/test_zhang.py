"""Zhang et al.'s ECCV16 and SIGGRAPH17 networks and the import of their released weights."""

import pytest
import torch
import torch.nn.functional as F

from polychromify.checkpoint import load_model, save_run
from polychromify.color import ab_bins
from polychromify.errors import PolychromifyError
from polychromify.losses import compute_loss
from polychromify.models import ColorModel, count_parameters, create_model
from polychromify.models.zhang import import_zhang_weights

# The release's layers as facts (colorizers/eccv16.py, siggraph17.py): (key, kind, in, out, kernel).
VGG = [
    ("model1", [1, 64, 64]),
    ("model2", [64, 128, 128]),
    ("model3", [128, 256, 256, 256]),
    ("model4", [256, 512, 512, 512]),
    ("model5", [512] * 4),
    ("model6", [512] * 4),
    ("model7", [512] * 4),
]


def _blocks(first_in: int, offset: int = 0, blocks=VGG) -> list[tuple]:
    layers = []
    for name, chans in blocks:
        chans = [first_in, *chans[1:]] if name == "model1" else chans
        for i, (cin, cout) in enumerate(zip(chans, chans[1:], strict=False)):
            layers.append((f"{name}.{offset + 2 * i}", "conv", cin, cout, 3))
        layers.append((f"{name}.{offset + 2 * (len(chans) - 1)}", "bn", chans[-1], chans[-1], 0))
    return layers


ECCV16_RELEASE = [
    *_blocks(1),
    ("model8.0", "convT", 512, 256, 4),
    ("model8.2", "conv", 256, 256, 3),
    ("model8.4", "conv", 256, 256, 3),
    ("model8.6", "conv", 256, 313, 1),
    ("model_out", "nobias", 313, 2, 1),
]
SIGGRAPH17_RELEASE = [
    *_blocks(4),
    ("model8up.0", "convT", 512, 256, 4),
    ("model3short8.0", "conv", 256, 256, 3),
    *_blocks(256, 1, [("model8", [256, 256, 256])]),
    ("model9up.0", "convT", 256, 128, 4),
    ("model2short9.0", "conv", 128, 128, 3),
    *_blocks(128, 1, [("model9", [128, 128])]),
    ("model10up.0", "convT", 128, 128, 4),
    ("model1short10.0", "conv", 64, 128, 3),
    ("model10.1", "conv", 128, 128, 3),
    ("model_class.0", "conv", 256, 529, 1),
    ("model_out.0", "conv", 128, 2, 1),
]


def release_state(spec: list[tuple], counters: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random state dict with the release's keys and shapes (ECCV16's model_out holds bins / 110)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, kind, cin, cout, k in spec:
        if kind == "bn":
            state |= {
                f"{key}.weight": torch.rand(cout, generator=g) + 0.5,
                f"{key}.bias": torch.zeros(cout),
                f"{key}.running_mean": torch.zeros(cout),
                f"{key}.running_var": torch.ones(cout),
            }
            if counters:
                state[f"{key}.num_batches_tracked"] = torch.tensor(100)
            continue
        shape = (cin, cout, k, k) if kind == "convT" else (cout, cin, k, k)
        state[f"{key}.weight"] = torch.randn(shape, generator=g) * (2 / (cin * k * k)) ** 0.5
        if kind != "nobias":
            state[f"{key}.bias"] = torch.zeros(cout)
    if "model_out.weight" in state:
        state["model_out.weight"] = release_bins().T[:, :, None, None] / 110
    return state


def release_bins() -> torch.Tensor:
    """313 ab bin centres (CIELAB): our 262 plus 51 cells just outside them, like the release's hull."""
    ours = torch.tensor(ab_bins())
    ring = torch.stack(
        torch.meshgrid(torch.arange(-110, 120, 10.0), torch.arange(-120, 110, 10.0), indexing="ij"), -1
    )
    ring = ring.reshape(-1, 2)
    gap = torch.cdist(ring, ours).min(1).values
    extra = ring[(gap > 0) & (gap <= 10)]
    return torch.cat([ours, extra[torch.argsort(gap[(gap > 0) & (gap <= 10)], stable=True)][:51]])


def spec_count(spec: list[tuple]) -> int:
    total = 0
    for _, kind, cin, cout, k in spec:
        total += 2 * cout if kind == "bn" else cin * cout * k * k + (0 if kind == "nobias" else cout)
    return total


@pytest.mark.parametrize("name", ["eccv16", "siggraph17"])
def test_small_models_predict_and_train(name):
    torch.manual_seed(0)
    model = create_model(name, width=0.125)
    L = torch.rand(2, 1, 32, 32) * 2 - 1
    ab = torch.rand(2, 2, 32, 32) * 1.2 - 0.6
    hints = torch.zeros(2, 3, 32, 32) if model.takes_hints else None
    pred = model.predict_ab(L, hints)
    assert pred.shape == (2, 2, 32, 32) and pred.abs().max() <= 1
    out = model(ColorModel.make_input(L, hints, model.takes_hints))
    assert out.shape == ((2, len(ab_bins()), 8, 8) if name == "eccv16" else (2, 2, 32, 32))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in model.parameters()]
    loss = compute_loss(model, out, ab)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))
    odd = model.predict_ab(L[:, :, :27, :30], None if hints is None else hints[:, :, :27, :30])
    assert odd.shape == (2, 2, 27, 30)  # any size: siggraph17 pads to a multiple of 8 and crops


def test_siggraph17_hints_change_the_output_and_model_class_is_frozen():
    model = create_model("siggraph17", width=0.125).eval()
    L = torch.zeros(1, 1, 16, 16)
    hints = torch.zeros(1, 3, 16, 16)
    hints[:, :, 4:8, 4:8] = torch.tensor([0.5, -0.3, 1.0]).view(1, 3, 1, 1)
    assert not torch.allclose(model.predict_ab(L), model.predict_ab(L, hints))
    assert not any(p.requires_grad for p in model.model_class.parameters())


def test_full_width_parameter_counts_match_the_release():
    with torch.device("meta"):
        eccv16 = create_model("eccv16")
        release_eccv16 = create_model("eccv16", num_bins=313)
        siggraph17 = create_model("siggraph17")
    assert count_parameters(eccv16) == 32_222_802  # with our 262 bins
    assert count_parameters(release_eccv16) == spec_count(ECCV16_RELEASE) == 32_236_011
    assert count_parameters(siggraph17) == spec_count(SIGGRAPH17_RELEASE) == 34_187_027


@pytest.fixture(scope="module")
def release_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("release")
    files = {}
    for name, spec, counters in (("eccv16", ECCV16_RELEASE, False), ("siggraph17", SIGGRAPH17_RELEASE, True)):
        state = release_state(spec, counters)
        files[name] = (root / f"{name}.pth", state)
        torch.save(state, files[name][0])
    return files


def test_import_eccv16_adapts_normalisation(release_files, tmp_path):
    path, state = release_files["eccv16"]
    model = import_zhang_weights(path, "eccv16")
    assert not model.training and model.arch == {
        "name": "eccv16",
        "kwargs": {"num_bins": 313, "temperature": 1.0},
    }
    torch.testing.assert_close(model.bins, release_bins())
    L = torch.linspace(0, 100, 16 * 16).view(1, 1, 16, 16)
    ours = F.conv2d((L - 50) / 50, model.model1[0].weight, model.model1[0].bias, padding=1)
    theirs = F.conv2d((L - 50) / 100, state["model1.0.weight"], state["model1.0.bias"], padding=1)
    torch.testing.assert_close(ours, theirs)  # first layer sees the same thing
    logits = torch.randn(1, 313, 4, 4)
    release_ab = F.conv2d(logits.softmax(1), state["model_out.weight"]) * 110  # CIELAB
    torch.testing.assert_close(model.decode(logits, (4, 4)), release_ab / 128)  # ... and decodes the same
    pred = model.predict_ab((L - 50) / 50)
    assert pred.shape == (1, 2, 16, 16) and pred.abs().max() <= 1
    run = save_run(tmp_path / "run", model)  # the run folder rebuilds the imported model by itself
    torch.testing.assert_close(load_model(run).predict_ab((L - 50) / 50), pred)


def test_import_siggraph17_adapts_normalisation(release_files):
    path, state = release_files["siggraph17"]
    model = import_zhang_weights(path, "siggraph17")
    assert model.ab_gain == pytest.approx(110 / 128)
    L = torch.linspace(0, 100, 16 * 16).view(1, 1, 16, 16)
    ab = torch.full((1, 2, 16, 16), 40.0)
    mask = (torch.arange(16 * 16).view(1, 1, 16, 16) % 7 == 0).float()
    ours = torch.cat([(L - 50) / 50, ab / 128 * mask, mask], 1)
    theirs = torch.cat([(L - 50) / 100, ab / 110 * mask, mask], 1)
    torch.testing.assert_close(
        F.conv2d(ours, model.model1[0].weight, model.model1[0].bias, padding=1),
        F.conv2d(theirs, state["model1.0.weight"], state["model1.0.bias"], padding=1),
    )
    pred = model.predict_ab((L - 50) / 50, torch.cat([ab / 128 * mask, mask], 1))
    assert pred.shape == (1, 2, 16, 16) and pred.abs().max() <= 110 / 128 + 1e-6


def test_import_errors(release_files, tmp_path):
    with pytest.raises(PolychromifyError, match="no such weights file"):
        import_zhang_weights(tmp_path / "nope.pth", "eccv16")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00not a checkpoint" * 100)
    with pytest.raises(PolychromifyError, match="cannot read"):
        import_zhang_weights(garbage, "eccv16")
    torch.save([torch.zeros(2)], tmp_path / "list.pth")
    with pytest.raises(PolychromifyError, match="not a state dict"):
        import_zhang_weights(tmp_path / "list.pth", "eccv16")
    with pytest.raises(PolychromifyError, match="not a siggraph17 release.*missing"):
        import_zhang_weights(release_files["eccv16"][0], "siggraph17")
    state = dict(release_files["siggraph17"][1])
    state["model3short8.0.weight"] = torch.zeros(256, 256, 1, 1)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(PolychromifyError, match=r"model3short8.0.weight has shape \(256, 256, 1, 1\)"):
        import_zhang_weights(tmp_path / "shape.pth", "siggraph17")
    with pytest.raises(PolychromifyError, match="eccv16 or siggraph17"):
        import_zhang_weights(release_files["eccv16"][0], "unet")
