"""`polychromify export`: a model as one self-contained ONNX graph, and `OnnxNet`, its onnxruntime side.

The graph takes `L` float32 (N,1,H,W), CIELAB lightness in [0,100], and for models with hints also `hints`
float32 (N,3,H,W): a and b in CIELAB units and a mask (1 where a hint is, a and b 0 elsewhere). It gives
`ab` float32 (N,2,H,W) in CIELAB units at the input's size, the model's own decoding included (the annealed
mean of the bin models). N, H and W are dynamic; H and W must be multiples of 16 (as polychromify's
Colorizer feeds them). With L and ab, any Lab library makes the colour image: the user needs onnxruntime and
numpy, not torch or polychromify. Exported with torch's TorchScript-based exporter (opset 17; torch marks it
deprecated, but its tracing keeps our shape-dependent code exportable), which needs the `onnx` package
(`pip install 'polychromify[onnx]'`).
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from polychromify.checkpoint import model_folder, read_config, resolve_model
from polychromify.color import AB_SCALE, L_CENTER, L_RANGE
from polychromify.errors import PolychromifyError
from polychromify.models.registry import ColorModel
from polychromify.version import __version__

MULTIPLE = 16
OPSET = 17
# Models whose graph cannot take any input size: name -> why
NOT_EXPORTABLE = {
    "v0": "v0 is fully connected over a fixed grid (adaptive pooling to 32x32), which ONNX cannot express "
    "for every input size"
}


class _Graph(nn.Module):
    """CIELAB units in and out around the model's own [-1,1] interface."""

    def __init__(self, model: ColorModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, L: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        x = (L - L_CENTER) / L_RANGE
        if hints is not None:
            hints = torch.cat([hints[:, :2] / AB_SCALE, hints[:, 2:]], 1)
        return self.model.predict_ab(x, hints) * AB_SCALE


def _needs_onnx():
    try:
        import onnx
    except ImportError:
        raise PolychromifyError(
            "ONNX export needs the onnx package: pip install 'polychromify[onnx]'"
        ) from None
    return onnx


def export_onnx(model: ColorModel, metadata: dict[str, str] | None = None) -> bytes:
    """`model` (eval mode is set) -> the bytes of its ONNX graph, with `metadata` in its properties."""
    name = model.arch.get("name", "?")
    if name in NOT_EXPORTABLE:
        raise PolychromifyError(f"cannot export {name}: {NOT_EXPORTABLE[name]}")
    onnx = _needs_onnx()
    model = model.eval()
    L = torch.rand(1, 1, 64, 96) * 100
    inputs, names = (L,), ["L"]
    axes = {"L": {0: "N", 2: "H", 3: "W"}, "ab": {0: "N", 2: "H", 3: "W"}}
    if model.takes_hints:
        hints = torch.zeros(1, 3, 64, 96)
        hints[:, :, 10:13, 20:23] = torch.tensor([20.0, -30.0, 1.0]).view(3, 1, 1)  # exercises the hint path
        inputs, names = (L, hints), ["L", "hints"]
        axes["hints"] = {0: "N", 2: "H", 3: "W"}
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # expected: the tracer notes the shape tests it bakes in (every branch it takes holds for any size
        # that is a multiple of 16, as the size tests check), and torch marks this exporter deprecated
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            _Graph(model).eval(),  # else the exporter restores train mode on the model afterwards
            inputs,
            buf,
            input_names=names,
            output_names=["ab"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    graph = onnx.load_from_string(buf.getvalue())
    props = {"polychromify_version": __version__, "architecture": json.dumps(model.arch)}
    props |= {"hw_multiple": str(MULTIPLE), "inputs": ", ".join(names)} | (metadata or {})
    for key, value in props.items():
        graph.metadata_props.add(key=key, value=str(value))
    graph.doc_string = "polychromify colorization: L in [0,100] -> ab in CIELAB units"
    return graph.SerializeToString()


def export_model(model: str | Path, dest: str | Path, overwrite: bool = False) -> dict[str, str]:
    """'default', a shipped model's name or a run folder -> DEST.onnx; returns the metadata written."""
    dest = Path(dest)
    if dest.suffix.lower() != ".onnx":
        raise PolychromifyError(f"{dest}: the output file must end in .onnx")
    if dest.exists() and not overwrite:
        raise PolychromifyError(f"{dest} exists; pass --overwrite to replace it")
    net = resolve_model(model)
    config = read_config(model_folder(model))
    metadata = {
        "source": str(model),
        "trained_input_size": str(config.get("data", {}).get("size", "")),
        "licence": config.get("licence", "as the licences of the run's training photos and starting weights"),
    }
    data = export_onnx(net, metadata)
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return metadata


class OnnxNet:
    """An exported graph on onnxruntime, with the part of ColorModel's interface the Colorizer uses."""

    def __init__(self, graph: bytes | str | Path) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise PolychromifyError(
                "--runtime onnx needs onnxruntime: pip install 'polychromify[onnx]'"
            ) from None
        options = ort.SessionOptions()
        # idle threads sleep instead of spinning on the cores that the rest of the pipeline (resizing,
        # Lab -> RGB, JPEG or x264) needs next, as `polychromify video` asks of torch's OpenMP threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                graph if isinstance(graph, bytes) else str(graph), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types for a bad file
            raise PolychromifyError(f"not a usable ONNX graph: {exc}") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        self.arch = json.loads(meta.get("architecture", "{}"))
        self.takes_hints = "hints" in [i.name for i in self.session.get_inputs()]

    def predict_ab(self, x: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        """The torch model's interface: x (N,1,H,W) in [-1,1] (+ hints, ab in [-1,1]) -> ab in [-1,1]."""
        feed = {"L": (x.float().numpy() * L_RANGE + L_CENTER).astype(np.float32)}
        if self.takes_hints:
            h = (
                hints.float().numpy()
                if hints is not None
                else np.zeros((len(x), 3, *x.shape[-2:]), np.float32)
            )
            feed["hints"] = np.concatenate([h[:, :2] * AB_SCALE, h[:, 2:]], 1).astype(np.float32)
        (ab,) = self.session.run(["ab"], feed)
        return torch.from_numpy(ab / AB_SCALE)
