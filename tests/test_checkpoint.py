import json

import pytest
import torch

from polychromify.checkpoint import load_model, save_run, ship_half
from polychromify.errors import PolychromifyError
from polychromify.models import create_model
from tests.conftest import run_cli


def test_round_trip_and_bad_checkpoints(tmp_path):
    model = create_model("v1")
    run = save_run(tmp_path / "run", model, {"note": "x"})
    again = load_model(run)
    for k, v in model.state_dict().items():
        assert torch.equal(v, again.state_dict()[k])
    assert json.loads((run / "config.json").read_text())["note"] == "x"

    weights = (run / "model.safetensors").read_bytes()
    (run / "model.safetensors").write_bytes(weights[: len(weights) // 2])  # truncated
    with pytest.raises(PolychromifyError, match="damaged weights"):
        load_model(run)
    (run / "model.safetensors").write_bytes(b"\x00" * 64)  # tampered
    with pytest.raises(PolychromifyError, match="damaged weights"):
        load_model(run)

    save_run(tmp_path / "other", create_model("cnn"))
    (run / "model.safetensors").write_bytes((tmp_path / "other" / "model.safetensors").read_bytes())
    with pytest.raises(PolychromifyError, match="do not fit v1"):  # mismatched shapes
        load_model(run)

    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(config | {"arch": {"name": "gpt5"}}))
    with pytest.raises(PolychromifyError, match="unknown model 'gpt5'"):
        load_model(run)
    (run / "config.json").write_text("{not json")
    with pytest.raises(PolychromifyError, match="damaged"):
        load_model(run)
    with pytest.raises(PolychromifyError, match="no such run folder"):
        load_model(tmp_path / "missing")


def test_models_json(capsys):
    assert run_cli("models", "--json") == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["v2"]["parameters"] == 293_074 and rows["unet"]["hints"] is True
    assert rows["eccv16"]["kind"] == "classification"


def test_import_weights_cli(tmp_path, capsys):
    from tests.test_zhang import ECCV16_RELEASE, release_state

    torch.save(release_state(ECCV16_RELEASE, False), tmp_path / "eccv16.pth")
    assert (
        run_cli("import-weights", tmp_path / "eccv16.pth", "--model", "eccv16", "--out", tmp_path / "run")
        == 0
    )
    model = load_model(tmp_path / "run")
    assert model.arch["name"] == "eccv16" and len(model.bins) == 313
    assert (
        run_cli("import-weights", tmp_path / "eccv16.pth", "--model", "eccv16", "--out", tmp_path / "run")
        == 1
    )
    assert "already exists" in capsys.readouterr().err
    (tmp_path / "junk.pth").write_bytes(b"junk")
    assert (
        run_cli("import-weights", tmp_path / "junk.pth", "--model", "eccv16", "--out", tmp_path / "r2") == 1
    )
    assert not (tmp_path / "r2").exists()


def test_ship_half_halves_the_file_and_loads_back_into_float32(tmp_path):
    torch.manual_seed(0)
    model = create_model("mnv2-unet", width=8).eval()
    save_run(tmp_path / "run", model, {"train_seconds": 12.0})
    dest = ship_half(tmp_path / "run", tmp_path / "shipped", hint_model="partner")
    size = lambda d: (d / "model.safetensors").stat().st_size  # noqa: E731
    assert size(dest) < 0.55 * size(tmp_path / "run")
    config = json.loads((dest / "config.json").read_text())
    assert config["hint_model"] == "partner" and config["train_seconds"] == 12.0
    shipped = load_model(dest)
    assert all(p.dtype == torch.float32 for p in shipped.parameters())
    L = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        assert (shipped.predict_ab(L) - model.predict_ab(L)).abs().max() < 0.02
