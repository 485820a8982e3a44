"""Training and inference speed of every registered model against the machine's peak; prints JSON.

    python bench/train.py [--models v2,cnn] [--size 128] [--batch 8] [--repeats 5] [--quick] [--compile]

For each model and precision (fp32; bf16 autocast): FLOPs per image counted by torch.utils.flop_counter
(forward for inference; forward + backward for training), training images/s (forward, the model's own loss,
backward, the trainer's fused Adam step) and inference images/s (forward, no grad), channels-last, and the
achieved fraction of the matmul peak of that precision (bench/peak.py). The host this runs on is shared and
its speed drifts within seconds, so every timing of --steps steps is paired with a peak measured just
before it; a row reports the medians over --repeats pairs (images/s, peak, fraction). --compile adds
rows with torch.compile (inductor; frozen weights for inference), "compiled": true. Prints a JSON object:
the machine, and `rows`, one per model, precision and compilation, each with `auto`, the precision that
`--precision auto` picks for that model on this machine.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).parent))
from peak import matmul_gflops  # noqa: E402
from polychromify.losses import compute_loss  # noqa: E402
from polychromify.models.registry import ColorModel, create_model, list_models  # noqa: E402
from polychromify.precision import ARITHMETIC, autocast, choose, machine, native_bf16  # noqa: E402
from polychromify.runtime import keep_freed_memory
from polychromify.train import make_optimizer  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
NATIVE_BF16 = native_bf16(torch.device("cpu"))[0]


def _inputs(model: ColorModel, batch: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    L = torch.rand(batch, 1, size, size) * 2 - 1
    hints = torch.zeros(batch, 3, size, size) if model.takes_hints else None
    x = ColorModel.make_input(L, hints, model.takes_hints).contiguous(memory_format=torch.channels_last)
    return x, torch.rand(batch, 2, size, size) * 2 - 1


def _flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def _timed(
    fn, steps: int, repeats: int, dtype: torch.dtype, peak_size: int
) -> tuple[list[float], list[float]]:
    """Seconds per call of `fn` and the matmul peak (GFLOP/s) measured just before, for each repeat. No
    peak for emulated bf16 (a CPU without bf16 units): its matmul is ~100x slower than the convolutions'
    own emulation, so a fraction of it would mean nothing."""
    fn()  # warm-up (and compilation)
    seconds, peaks = [], []
    emulated = dtype == torch.bfloat16 and not NATIVE_BF16
    for _ in range(repeats):
        peaks.append(math.nan if emulated else matmul_gflops(peak_size, 3, dtype))
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        seconds.append((time.perf_counter() - t0) / steps)
    return seconds, peaks


def _fraction(flops: float, seconds: list[float], peaks: list[float]) -> float | None:
    """Median over repeats of the achieved FLOP/s over the peak measured just before (None: no peak)."""
    if any(math.isnan(p) for p in peaks):
        return None
    return round(statistics.median(flops / t / 1e9 / p for t, p in zip(seconds, peaks, strict=True)), 3)


def bench_model(
    name: str, precision: str, size: int, batch: int, steps: int, repeats: int, compiled: bool, peak_size: int
) -> dict:
    torch.manual_seed(0)
    model = create_model(name).to(memory_format=torch.channels_last)
    x, ab = _inputs(model, batch, size)
    opt = make_optimizer(model, 1e-4, torch.device("cpu"))
    amp = autocast("cpu", precision)
    train_forward = torch.compile(model) if compiled else model

    def train_step() -> None:
        with amp:
            out = train_forward(x)
        loss = compute_loss(model, out.float(), ab)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def forward_backward() -> None:
        with amp:
            out = model(x)
        compute_loss(model, out.float(), ab).backward()

    model.train()
    train_flops = _flops(forward_backward) / batch
    train_s, train_peaks = _timed(train_step, steps, repeats, DTYPES[precision], peak_size)
    model.eval()
    with torch.no_grad(), torch._inductor.config.patch(freezing=True):
        infer_forward = torch.compile(model) if compiled else model

        def infer() -> None:
            with amp:
                infer_forward(x)

        infer_flops = _flops(lambda: model(x)) / batch
        infer_s, infer_peaks = _timed(infer, steps, repeats, DTYPES[precision], peak_size)
    med = statistics.median
    return {
        "model": name,
        "precision": precision,
        "auto": choose("auto", torch.device("cpu"), model).precision,
        "compiled": compiled,
        "parameters": sum(p.numel() for p in model.parameters()),
        "flops_per_image": int(infer_flops),
        "train_flops_per_image": int(train_flops),
        "train_images_per_s": round(med(batch / t for t in train_s), 2),
        "infer_images_per_s": round(med(batch / t for t in infer_s), 2),
        "train_peak_fraction": _fraction(train_flops * batch, train_s, train_peaks),
        "infer_peak_fraction": _fraction(infer_flops * batch, infer_s, infer_peaks),
        "peak_gflops": None if math.isnan(train_peaks[0]) else round(med(train_peaks + infer_peaks), 1),
    }


def _percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction:.0%}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", help="comma-separated (default: all registered)")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--compile", action="store_true", help="also measure torch.compile'd models")
    ap.add_argument("--quick", action="store_true", help="cnn, v2, unet, mnv2-unet, one repeat: ~1 minute")
    ap.add_argument("--malloc", choices=("keep", "glibc"), default="keep", help="keep: as polychromify runs")
    a = ap.parse_args()
    if a.malloc == "keep":
        keep_freed_memory()
    every = [n for n in list_models() if n != "polychromify"]  # that one is an alias of v2
    names = a.models.split(",") if a.models else (["cnn", "v2", "unet", "mnv2-unet"] if a.quick else every)
    steps, repeats = (1, 1) if a.quick else (a.steps, a.repeats)
    peak_size = 1024 if a.quick else 2048
    rows = []
    for name in names:
        for compiled in (False, True) if a.compile else (False,):
            for precision in ARITHMETIC:
                r = bench_model(name, precision, a.size, a.batch, steps, repeats, compiled, peak_size)
                rows.append(r)
                print(
                    f"{name} {precision}{' compiled' if compiled else ''}: {r['train_images_per_s']} / "
                    f"{r['infer_images_per_s']} img/s, {_percent(r['train_peak_fraction'])} / "
                    f"{_percent(r['infer_peak_fraction'])} of peak",
                    file=sys.stderr,
                )
    print(json.dumps({"benchmark": "train", "machine": machine(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
