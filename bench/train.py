"""Training and inference speed of every registered model against the machine's peak; prints JSON.

    python bench/train.py [--models v2,cnn] [--size 128] [--batch 8] [--repeats 3] [--quick]

For each model and precision (fp32; bf16 autocast): FLOPs per image counted by torch.utils.flop_counter
(forward for inference; forward + backward for training), training images/s (forward, the model's own loss,
backward, Adam step) and inference images/s (forward, no grad), channels-last, median of --repeats timings
of --steps steps after a warm-up, and the achieved fraction of the matmul peak of that precision measured
in the same run (bench/peak.py). Prints a JSON list, one object per model and precision.
"""

from __future__ import annotations

import argparse
import json
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

PRECISIONS = ("fp32", "bf16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def _inputs(model: ColorModel, batch: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    L = torch.rand(batch, 1, size, size) * 2 - 1
    hints = torch.zeros(batch, 3, size, size) if model.takes_hints else None
    x = ColorModel.make_input(L, hints, model.takes_hints).contiguous(memory_format=torch.channels_last)
    return x, torch.rand(batch, 2, size, size) * 2 - 1


def _flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def _median_seconds(fn, steps: int, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


def bench_model(name: str, precision: str, size: int, batch: int, steps: int, repeats: int) -> dict:
    torch.manual_seed(0)
    model = create_model(name).to(memory_format=torch.channels_last)
    x, ab = _inputs(model, batch, size)
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")

    def train_step() -> None:
        with autocast:
            out = model(x)
        loss = compute_loss(model, out.float(), ab)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def forward_backward() -> None:
        with autocast:
            out = model(x)
        compute_loss(model, out.float(), ab).backward()

    @torch.no_grad()
    def infer() -> None:
        with autocast:
            model(x)

    model.train()
    train_flops = _flops(forward_backward) / batch
    train_s = _median_seconds(train_step, steps, repeats)
    model.eval()
    infer_flops = _flops(infer) / batch
    infer_s = _median_seconds(infer, steps, repeats)
    return {
        "model": name,
        "precision": precision,
        "parameters": sum(p.numel() for p in model.parameters()),
        "flops_per_image": int(infer_flops),
        "train_flops_per_image": int(train_flops),
        "train_images_per_s": round(batch / train_s, 2),
        "infer_images_per_s": round(batch / infer_s, 2),
        "_train_gflops": train_flops * batch / train_s / 1e9,
        "_infer_gflops": infer_flops * batch / infer_s / 1e9,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", help="comma-separated (default: all registered)")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="cnn, v2 and unet, one repeat: under a minute")
    a = ap.parse_args()
    names = a.models.split(",") if a.models else (["cnn", "v2", "unet"] if a.quick else list_models())
    steps, repeats = (1, 1) if a.quick else (a.steps, a.repeats)
    size, reps = (1024, 3) if a.quick else (2048, 10)

    def measure_peak() -> dict[str, float]:
        return {p: matmul_gflops(size, reps, DTYPES[p]) for p in PRECISIONS}

    before = measure_peak()
    rows = []
    for name in names:
        for precision in PRECISIONS:
            r = bench_model(name, precision, a.size, a.batch, steps, repeats)
            rows.append(r)
            print(
                f"{name} {precision}: {r['train_images_per_s']} / {r['infer_images_per_s']} img/s",
                file=sys.stderr,
            )
    after = measure_peak()
    # The peak is measured before and after the models; on a shared machine it drifts, so the larger of
    # the two is the denominator (a conservative fraction) and both are reported.
    for r in rows:
        peak = max(before[r["precision"]], after[r["precision"]])
        r["train_peak_fraction"] = round(r.pop("_train_gflops") / peak, 3)
        r["infer_peak_fraction"] = round(r.pop("_infer_gflops") / peak, 3)
        r["peak_gflops_before"] = round(before[r["precision"]], 1)
        r["peak_gflops_after"] = round(after[r["precision"]], 1)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
