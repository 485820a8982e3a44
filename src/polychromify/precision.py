"""The networks' arithmetic, one definition for training, colorize, video, evaluate and the web server:
fp32 (the reference), bf16 autocast (bfloat16 matmuls and convolutions, fp32 weights), or auto.

auto is a rule, never a timing, so the same machine, model and command always get the same arithmetic (and
the same photo the same colours): bf16 where the device computes it natively and the model's family gains
from it (`ColorModel.bf16_pays`), fp32 everywhere else. Without native bf16 units (an AVX2-only CPU) bf16 is
emulated and about 10x slower than fp32. Under torchrun rank 0's choice is every rank's (`from_rank0`).
"""

from __future__ import annotations

import logging
import os
import platform
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from polychromify.errors import PolychromifyError
from polychromify.runtime import budget_line

if TYPE_CHECKING:  # torch is imported inside the functions: the command line reads its options without it
    import torch

PRECISIONS = ("auto", "fp32", "bf16")
ARITHMETIC = ("fp32", "bf16")  # what `auto` resolves to
NATIVE_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # /proc/cpuinfo flags of CPUs with bf16 units


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise PolychromifyError(f"unknown precision {precision!r}: use auto, fp32 or bf16")
    return precision


def pick_device(name: str) -> torch.device:
    """'auto' -> cuda, then mps, then cpu; anything else is checked."""
    import torch  # here, so that the command line's option parsing does not load torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise PolychromifyError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PolychromifyError("--device cuda asked for, but no CUDA GPU is available")
    return device


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


# What `--precision bf16` costs where bf16 is emulated: bench/train.py on a 2-core AMD EPYC with AVX2 only
# (docs/bench/avx2-summary.json, docs/performance.md "Benchmarks"): 8-15x slower than fp32 for every model.
EMULATED_SLOWDOWN = "8-15x"


def choose(requested: str, device: torch.device, model: torch.nn.Module | None = None) -> Choice:
    """Resolve `requested` (auto, fp32 or bf16) on `device` by rule: auto is bf16 where the device has
    native bf16 and `model` (if given) is of a family that runs faster in it, fp32 otherwise."""
    check_precision(requested)
    native, why = native_bf16(device)
    if requested == "fp32":
        return Choice("fp32", "asked for")
    if requested == "bf16":
        if native:
            return Choice("bf16", f"asked for; {why}")
        return Choice(
            "bf16",
            f"asked for; {why}",
            f"{why}: bf16 is emulated here, {EMULATED_SLOWDOWN} slower than fp32 (measured on an AVX2-only "
            "CPU); --precision auto (the default) picks fp32",
        )
    if not native:
        return Choice("fp32", why)
    if model is not None and not getattr(model, "bf16_pays", True):
        name = getattr(model, "arch", {}).get("name", type(model).__name__)
        return Choice("fp32", f"{why}, but {name} runs slower in bf16")
    return Choice("bf16", why)


def resolve(
    requested: str, device: torch.device, model: torch.nn.Module | None = None, announce: bool = True
) -> Choice:
    """`choose`, then said once per process: the choice as an INFO line of the 'polychromify' logger (the
    command line prints it), an expected slow-down as a warning."""
    choice = choose(requested, device, model)
    if announce and str(choice) not in _announced:
        _announced.add(str(choice))
        logging.getLogger("polychromify").info(f"{choice}; {budget_line()}")
        if choice.warning:
            warnings.warn(choice.warning, stacklevel=3)
    return choice


_announced: set[str] = set()


def from_rank0(choice: Choice) -> Choice:
    """Under torch.distributed, rank 0's choice on every rank (ranks on other machines may differ), so that
    all of them train in one arithmetic; `choice` itself elsewhere."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return choice
    box = [choice]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def machine() -> dict:
    """What every benchmark's JSON says about the machine it ran on."""
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
