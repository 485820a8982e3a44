"""The machine's measured matmul peak in fp32 and bf16 (GFLOP/s), and which is native; prints JSON.

    python bench/peak.py [--size 2048] [--repeats 10]

The denominator of every `*_peak_fraction` in bench/train.py: an N x N by N x N matmul (2 N^3 FLOPs), timed
after a warm-up, median of --repeats, with torch's default threads. Run it on a quiet machine: a second
heavy process halves it. `native` says whether the CPU has bf16 units (avx512_bf16 or AMX): without them
bf16 is emulated, ~100x slower than fp32 here, and measured on a 512 x 512 matmul to keep it to seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from polychromify.precision import machine


def matmul_gflops(size: int = 2048, repeats: int = 10, dtype: torch.dtype = torch.float32) -> float:
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    for _ in range(2):
        a @ b
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * size**3 / statistics.median(times) / 1e9


def peak(size: int = 2048, repeats: int = 10) -> dict:
    info = machine()
    fp32 = matmul_gflops(size, repeats, torch.float32)
    bf16_size = size if info["native_bf16"] else min(size, 512)
    bf16 = matmul_gflops(bf16_size, repeats, torch.bfloat16)
    return {
        "benchmark": "peak",
        "machine": info,
        "size": size,
        "bf16_size": bf16_size,
        "threads": torch.get_num_threads(),
        "fp32_gflops": round(fp32, 1),
        "bf16_gflops": round(bf16, 1),
        "native": "bf16 and fp32" if info["native_bf16"] else "fp32 only (bf16 emulated)",
        "faster": "bf16" if bf16 > fp32 else "fp32",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=10)
    a = ap.parse_args()
    print(json.dumps(peak(a.size, a.repeats), indent=1))


if __name__ == "__main__":
    main()
