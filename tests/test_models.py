import pytest
import torch

from polychromify.errors import PolychromifyError
from polychromify.losses import compute_loss
from polychromify.models import ColorModel, count_parameters, create_model, list_models

# Narrow versions of the big reference networks keep this test fast on a CPU.
SMALL = {"eccv16": {"width": 0.125}, "siggraph17": {"width": 0.125}}


@pytest.mark.parametrize("name", list_models())
def test_every_model_forward_range_and_one_step(name):
    torch.manual_seed(0)
    model = create_model(name, **SMALL.get(name, {}))
    assert isinstance(model, ColorModel)
    L = torch.rand(2, 1, 32, 32) * 2 - 1
    ab = torch.rand(2, 2, 32, 32) * 1.2 - 0.6
    hints = torch.zeros(2, 3, 32, 32) if model.takes_hints else None
    pred = model.predict_ab(L, hints)
    assert pred.shape == (2, 2, 32, 32)
    assert pred.min() >= -1 and pred.max() <= 1 and torch.isfinite(pred).all()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in model.parameters()]
    loss = compute_loss(model, model(ColorModel.make_input(L, hints, model.takes_hints)), ab)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


def test_parameter_counts_of_the_seed():
    assert count_parameters(create_model("v2")) == 293_074  # the seed's Polychromify
    assert count_parameters(create_model("polychromify")) == 293_074
    assert count_parameters(create_model("hp-v3")) == 293_074  # its row in the hyper-parameter table
    assert 95_000 <= count_parameters(create_model("cnn")) <= 100_000  # seed: ~98k
    hp = [count_parameters(create_model(f"hp-v{i}")) for i in range(1, 6)]
    assert hp[0] < hp[1] < hp[2] < hp[3] < hp[4]  # more neurons, filters, then BN -> more weights


def test_unknown_model_lists_valid_names():
    with pytest.raises(PolychromifyError, match="unknown model 'v9'.*v2"):
        create_model("v9")
    with pytest.raises(PolychromifyError, match="no argument"):
        create_model("v2", widht=3)


def test_v2_options_change_the_network():
    strided = create_model("v2", strides=True)
    x = torch.zeros(1, 1, 32, 32)
    assert strided.encoder(x).shape[-1] == 4  # three stride-2 convs
    assert strided(x).shape == (1, 2, 32, 32)
    bn = create_model("v2", batch_norm=True, dropout=0.1)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in bn.modules())
    assert any(isinstance(m, torch.nn.Dropout2d) for m in bn.modules())
