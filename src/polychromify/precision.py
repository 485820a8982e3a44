"""The networks' arithmetic, one definition for training, colorize, video, evaluate and the web server:
fp32 (the reference), bf16 autocast (bfloat16 matmuls and convolutions, fp32 weights), or auto.

auto = bf16 only where the device computes it natively *and* it is measured faster for the model at
hand; fp32 otherwise. Without native bf16 units (an AVX2-only CPU) bf16 is emulated and about 10x slower
than fp32, so that CPU never gets it unless asked, and then with a warning that says what was measured.
Even with native units a model may be slower in bf16 (MobileNetV2's depthwise convolutions): `choose`
times one forward pass of the model in both before it picks bf16.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from polychromify.errors import PolychromifyError

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "fp32", "bf16")
ARITHMETIC = ("fp32", "bf16")  # what `auto` resolves to
NATIVE_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # /proc/cpuinfo flags of CPUs with bf16 units


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise PolychromifyError(f"unknown precision {precision!r}: use auto, fp32 or bf16")
    return precision


def autocast(device_type: str, precision: str) -> torch.autocast:
    """The autocast context of `precision` ('fp32' or 'bf16') on a device type; a no-op for fp32."""
    import torch  # here, so that the command line's option parsing does not load torch

    if precision not in ARITHMETIC:
        raise ValueError(f"resolve {precision!r} with precision.choose first")
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16")


@cache
def _cpuinfo(*keys: str) -> str:
    """The value of the first /proc/cpuinfo line starting with one of `keys` ('' where there is none)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:  # no /proc, e.g. macOS
        return ""
    return next((x.partition(":")[2].strip() for x in lines if x.startswith(keys)), "")


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    return frozenset(_cpuinfo("flags", "Features").split())


def native_bf16(device: torch.device) -> tuple[bool, str]:
    """Does `device` compute bfloat16 natively? (answer, the reason in words)."""
    import torch

    if device.type == "cuda":
        ok = torch.cuda.is_bf16_supported()
        return ok, "this GPU computes bf16" if ok else "this GPU has no bf16 units"
    if device.type != "cpu":
        return False, f"bf16 is not measured faster on {device.type} here"
    probes = [getattr(torch.cpu, n, None) for n in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    native = any(p() for p in probes if p is not None) or bool(NATIVE_CPU_FLAGS & cpu_flags())
    if native:
        return True, "this CPU has native bf16"
    return False, "this CPU has no native bf16"


@dataclass(frozen=True)
class Choice:
    precision: str  # "fp32" or "bf16"
    reason: str
    warning: str | None = None  # set when an explicit bf16 is expected to be slow

    def __str__(self) -> str:
        return f"precision: {self.precision} ({self.reason})"


def choose(requested: str, device: torch.device, model: torch.nn.Module | None = None) -> Choice:
    """Resolve `requested` (auto, fp32 or bf16) on `device`. With auto and native bf16, `model` (if given)
    is timed in both (`time_forward`) and bf16 kept only if it is faster."""
    check_precision(requested)
    native, why = native_bf16(device)
    if requested == "fp32":
        return Choice("fp32", "asked for")
    if requested == "bf16":
        if native:
            return Choice("bf16", f"asked for; {why}")
        slower = bf16_slowdown(device)
        return Choice(
            "bf16",
            f"asked for; {why}",
            f"{why}: bf16 is emulated here, measured {slower:.1f}x slower than fp32 on a convolution; "
            "--precision auto (the default) picks fp32",
        )
    if not native:
        return Choice("fp32", why)
    if model is None:
        return Choice("bf16", why)
    times = time_forward(model, device)
    speedup = times["fp32"] / times["bf16"]
    if speedup > 1.05:
        return Choice("bf16", f"{why}; this model measured {speedup:.1f}x faster in bf16")
    return Choice("fp32", f"{why}, but this model measured no faster in bf16")


def resolve(
    requested: str, device: torch.device, model: torch.nn.Module | None = None, announce: bool = True
) -> Choice:
    """`choose`, then said once per process: the choice as an INFO line of the 'polychromify' logger (the
    command line prints it), an expected slow-down as a warning."""
    choice = choose(requested, device, model)
    if announce and str(choice) not in _announced:
        _announced.add(str(choice))
        logging.getLogger("polychromify").info(str(choice))
        if choice.warning:
            warnings.warn(choice.warning, stacklevel=3)
    return choice


_announced: set[str] = set()


def time_forward(model: torch.nn.Module, device: torch.device, size: int = 128) -> dict[str, float]:
    """Seconds of one forward pass of `model` (a ColorModel, in eval mode) on a (1,C,size,size) input in
    each arithmetic."""
    import torch

    x = torch.zeros(1, 1, size, size, device=device)
    x = model.make_input(x, None, model.takes_hints).contiguous(memory_format=torch.channels_last)
    training = model.training
    model.eval()  # so that batch norm's running statistics stay as they are
    try:
        return _best_times(lambda: model(x), device)
    finally:
        model.train(training)


@cache
def bf16_slowdown(device: torch.device) -> float:
    """bf16 time over fp32 time of a small convolution layer (3x3, 64 channels, 64x64, batch 2), in the
    channels-last layout polychromify runs (plain layout and matmuls are slower still: ~100x here)."""
    import torch

    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(device, memory_format=torch.channels_last)
    x = torch.randn(2, 64, 64, 64, device=device).contiguous(memory_format=torch.channels_last)
    times = _best_times(lambda: conv(x), device)
    return times["bf16"] / times["fp32"]


def _best_times(fn, device: torch.device) -> dict[str, float]:
    """Seconds of `fn()` under each arithmetic, without gradients: the best of two after a warm-up."""
    import torch

    times = {}
    with torch.no_grad():
        for precision in ARITHMETIC:
            runs = []
            for _ in range(3):
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                t0 = time.perf_counter()
                with autocast(device.type, precision):
                    fn()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                runs.append(time.perf_counter() - t0)
            times[precision] = min(runs[1:])
    return times


def machine() -> dict:
    """What every benchmark's JSON says about the machine it ran on."""
    import os
    import platform

    import torch

    native, _ = native_bf16(torch.device("cpu"))
    return {
        "cpu": _cpuinfo("model name") or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": native,
        "bf16_flags": sorted(NATIVE_CPU_FLAGS & cpu_flags()),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }
