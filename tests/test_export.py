"""ONNX export: every exportable model, reloaded in onnxruntime, gives PyTorch's colours at any size."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

from polychromify.color import AB_SCALE, rgb_to_lab
from polychromify.errors import PolychromifyError
from polychromify.export import NOT_EXPORTABLE, OnnxNet, export_onnx
from polychromify.inference import Colorizer, Reference
from polychromify.models import create_model, list_models
from tests.conftest import SAMPLES, run_cli

EXPORTABLE = [n for n in list_models() if n not in NOT_EXPORTABLE and n != "polychromify"]  # v2's alias


def _real_input(h: int, w: int) -> torch.Tensor:
    photo = Image.open(SAMPLES / "color" / "lxqt-themes--Valendas.jpg").convert("RGB").resize((w, h))
    L, _ = rgb_to_lab(np.asarray(photo))
    return torch.from_numpy((L - 50) / 50)[None, None]


def _hints(n: int, h: int, w: int) -> torch.Tensor:
    hints = torch.zeros(n, 3, h, w)
    hints[:, :, 8:11, 16:19] = torch.tensor([0.4, -0.5, 1.0]).view(3, 1, 1)  # a blue patch, ab in [-1,1]
    return hints


# and an EfficientNet-Lite encoder: its TensorFlow 'SAME' padding depends on each size's parity
@pytest.mark.parametrize("name,kwargs", [(n, {}) for n in EXPORTABLE] + [("mnv2-unet", {"encoder": "lite0"})])
def test_exported_graph_matches_pytorch_at_two_sizes(name, kwargs):
    torch.manual_seed(0)
    model = create_model(name, **kwargs).eval()
    net = OnnxNet(export_onnx(model))
    assert net.takes_hints == model.takes_hints and net.arch == model.arch
    for x in (torch.rand(2, 1, 48, 80) * 2 - 1, _real_input(64, 96)):
        for hints in [None, _hints(len(x), *x.shape[-2:])] if model.takes_hints else [None]:
            with torch.no_grad():
                ref = model.predict_ab(x, hints)
            got = net.predict_ab(x, hints)
            assert got.shape == ref.shape == (len(x), 2, *x.shape[-2:])
            assert (got - ref).abs().max() * AB_SCALE < 1e-3  # CIELAB units


def test_models_that_cannot_be_exported_say_why():
    with pytest.raises(PolychromifyError, match="cannot export v0"):
        export_onnx(create_model("v0"))


def test_export_command_writes_a_self_describing_graph(tmp_path, capsys):
    out = tmp_path / "default.onnx"
    assert run_cli("export", "default", "-o", out) == 0
    graph = onnx.load(str(out))
    meta = {p.key: p.value for p in graph.metadata_props}
    arch = json.loads(meta["architecture"])  # the default: two networks' logits averaged, in one graph
    assert arch["name"] == "blend" and arch["members"] == ["clean", "old-prints"]
    assert meta["trained_input_size"] == "128"
    assert {"polychromify_version", "hw_multiple"} <= set(meta) and "non-commercial" in meta["licence"]
    assert [i.name for i in graph.graph.input] == ["L", "hints"] and graph.graph.output[0].name == "ab"
    dims = [d.dim_param or d.dim_value for d in graph.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", 1, "H", "W"]  # dynamic batch and size
    assert run_cli("export", "default", "-o", out) == 1  # never replaced without --overwrite
    assert "exists" in capsys.readouterr().err
    assert run_cli("export", "nonsense-model", "-o", tmp_path / "x.onnx") == 1
    assert run_cli("export", "default", "-o", tmp_path / "x.txt") == 1


def test_onnx_runtime_colorizes_like_pytorch(tmp_path):
    photo = SAMPLES / "bw" / "tuxpaint-data--sheep.jpg"
    assert run_cli("colorize", photo, "-o", tmp_path / "torch", "--precision", "fp32") == 0
    assert run_cli("colorize", photo, "-o", tmp_path / "onnx", "--runtime", "onnx") == 0
    a = np.asarray(Image.open(tmp_path / "torch" / photo.name), dtype=np.int16)
    b = np.asarray(Image.open(tmp_path / "onnx" / photo.name), dtype=np.int16)
    assert a.shape == b.shape and _alike(a, b)
    graph = tmp_path / "default.onnx"
    assert run_cli("export", "default", "-o", graph) == 0
    grey = np.asarray(Image.open(photo).convert("L"))[:96, :128]
    hint = ["40,30,#3060c0"]
    from_file = Colorizer(graph, runtime="onnx").colorize_array(grey, [_parse(h) for h in hint])
    in_torch = Colorizer("default", precision="fp32").colorize_array(grey, [_parse(h) for h in hint])
    assert _alike(from_file, in_torch)
    colour = SAMPLES / "color" / "tuxpaint-data--sheep.jpg"  # reference photos need the torch runtime
    assert run_cli("colorize", photo, "-o", tmp_path / "r", "--runtime", "onnx", "--reference", colour) == 1
    with pytest.raises(PolychromifyError, match="torch runtime"):
        Colorizer(graph, runtime="onnx").colorize_array(grey, reference=Reference.of(colour))


def _alike(a: np.ndarray, b: np.ndarray) -> bool:
    """Two runtimes' results agree: within one level, except where an ab a hair apart falls in the next
    2-unit cell of the output table (color.LUT_STEP), a few pixels in a thousand, each a cell's worth."""
    d = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(-1)
    return (d > 1).mean() < 1e-3 and d.max() <= 8


def _parse(text: str):
    from polychromify.inference import parse_hint

    return parse_hint(text)


def test_runtime_errors_are_one_line(tmp_path):
    with pytest.raises(PolychromifyError, match="fp32"):
        Colorizer("default", runtime="onnx", precision="bf16")
    with pytest.raises(PolychromifyError, match="runtime"):
        Colorizer("default", runtime="tensorrt")
    with pytest.raises(PolychromifyError, match="--runtime onnx"):
        Colorizer(tmp_path / "model.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a graph")
    with pytest.raises(PolychromifyError, match="not a usable ONNX graph"):
        Colorizer(tmp_path / "bad.onnx", runtime="onnx")
    with pytest.raises(PolychromifyError, match="no such file"):
        Colorizer(tmp_path / "missing.onnx", runtime="onnx")
