"""Process settings that make the same PyTorch work faster on a CPU; no torch import here.

`keep_freed_memory`: glibc's malloc serves blocks above its mmap threshold (at most 32 MB) with fresh
mappings and unmaps them when freed, so every training step maps its activations anew and the kernel
zeroes them page by page: v2 in bf16 took ~170,000 page faults and a third of its CPU time in the kernel
per step of 8 images. Keeping freed memory in the process (what jemalloc or tcmalloc do for PyTorch)
removes that: 1.5-1.9x faster v2 training, ~10% faster photos. The price: the process keeps its peak
memory until it exits (+12% peak for v2 training, ~+200 MB for photos of mixed sizes). `polychromify`
and the benchmarks call it at start.

`set_thread_budget`: one thread budget for the process, decided once before torch and numpy load their
pools: the cores this process may use (its CPU affinity and its cgroup's CPU quota, not the machine's
count), divided among the processes that run at once (`serve --workers N`), or `--threads N`. Threads that
finish their share of a layer sleep instead of spinning (OMP_WAIT_POLICY=PASSIVE): spinning threads of two
processes, or of torch beside FFmpeg's codec threads, took the cores from each other (docs/performance.md,
"A busy machine", `bench/contention.py`). `polychromify` calls it at start, `import polychromify` too.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
from pathlib import Path

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt parameters, from glibc's malloc.h


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to serve large blocks from the heap and not to give freed memory back (Linux
    with glibc only; elsewhere nothing changes). Returns whether the setting took."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own symbols, libc's among them
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by its cgroup's CPU quota (a container
    limited to 1.5 CPUs gets 2: a thread is whole)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cores, quota) if quota else cores)


def _cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """CPUs allowed by the cgroup's quota (v2 cpu.max, else v1 cpu.cfs_quota_us), rounded up; None if none."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else math.ceil(int(quota) / int(period))
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return math.ceil(quota / period) if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


_budget: dict[str, int] = {}
_set_here: dict[str, str] = {}  # the environment variables this module set: not the user's


def _users(var: str) -> str | None:
    """The user's own value of an environment variable (None if unset or set by this module)."""
    value = os.environ.get(var)
    return None if value is None or _set_here.get(var) == value else value


def _set(var: str, value: str) -> None:
    os.environ[var] = _set_here[var] = value


def set_thread_budget(requested: int | None = None, sharers: int = 1) -> int:
    """Decide this process's compute threads: `requested` (--threads N), else $OMP_NUM_THREADS if the user
    set it, else the usable cores divided among `sharers` processes that run at once (at least one each).
    Before torch loads, it also sets OMP_WAIT_POLICY=PASSIVE and the OpenMP/MKL thread counts (a user's own
    settings of them win, but not over --threads); numpy's OpenBLAS gets one thread (our numpy work is
    element-wise, its pool would only wait beside torch's). After torch loaded, torch's pool is set, and
    numpy's OpenBLAS if it is loaded (threadpoolctl). Returns the number of threads."""
    if requested is not None and requested < 1:
        raise ValueError(f"threads must be 1 or more, not {requested}")
    cores = usable_cores()
    user = _users("OMP_NUM_THREADS") or ""  # the user's own setting, honoured unless --threads
    n = requested or (int(user) if user.isdigit() and int(user) > 0 else max(1, cores // max(1, sharers)))
    for var, value in (("OMP_WAIT_POLICY", "PASSIVE"), ("OPENBLAS_NUM_THREADS", "1")):
        if _users(var) is None:
            _set(var, value)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if requested or _users(var) is None:
            _set(var, str(n))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    if "numpy" in sys.modules and _set_here.get("OPENBLAS_NUM_THREADS") == "1":  # loaded before: its pool
        from threadpoolctl import ThreadpoolController

        ThreadpoolController().select(internal_api="openblas").limit(limits=1)
    _budget.update(threads=n, cores=cores, sharers=sharers)
    return n


def threads() -> int:
    """The process's thread budget (decided now, from the usable cores, if nothing set it yet)."""
    if not _budget:
        set_thread_budget()
    return _budget["threads"]


def budget_line() -> str:
    """The budget for people: said once, with the precision line."""
    threads()
    shared = f", shared by {_budget['sharers']} processes" if _budget["sharers"] > 1 else ""
    return f"threads: {_budget['threads']} ({_budget['cores']} usable cores{shared})"


def share_cores_with_codecs() -> None:
    """OMP_WAIT_POLICY=PASSIVE unless the user set it; effective only if torch is not loaded yet (the
    thread budget sets it too)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
