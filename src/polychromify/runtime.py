"""Process settings that make the same PyTorch work faster on a CPU; no torch import here.

`keep_freed_memory`: glibc's malloc serves blocks above its mmap threshold (at most 32 MB) with fresh
mappings and unmaps them when freed, so every training step maps its activations anew and the kernel
zeroes them page by page: v2 in bf16 took ~170,000 page faults and a third of its CPU time in the kernel
per step of 8 images. Keeping freed memory in the process (what jemalloc or tcmalloc do for PyTorch)
removes that: 1.5-1.9x faster v2 training, ~10% faster photos. The price: the process keeps its peak
memory until it exits (+12% peak for v2 training, ~+200 MB for photos of mixed sizes). `polychromify`
and the benchmarks call it at start.

`share_cores_with_codecs`: OpenMP threads that finish a layer sleep instead of spinning, leaving the
cores to FFmpeg's decoder and encoder threads (`polychromify video`). It only works before torch loads.
"""

from __future__ import annotations

import ctypes
import os
import sys

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


def share_cores_with_codecs() -> None:
    """OMP_WAIT_POLICY=PASSIVE unless the user set it; effective only if torch is not loaded yet."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
