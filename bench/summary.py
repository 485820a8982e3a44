"""Every benchmark in one run, one JSON object, with the speed targets checked on the machine at hand.

    python bench/summary.py [--quick] [--video]

Runs peak, train, epoch (a real `polychromify train` epoch against train's best rate), prepare and inference
(the shipped default, `--precision auto`), and with --video bench/video.py with the default preset and with
ultrafast. Each script runs in its own process, one after another, so they do not compete for the cores.
`--quick` passes the scripts' small settings (a few minutes in all, too short for the targets: a 24-frame
clip is mostly start-up); without it train covers four models (cnn, v2, unet, mnv2-unet; `bench/train.py`
alone covers all) and the other scripts run with their defaults (~15 minutes). `targets` compares the
results with the performance issue's targets: a train epoch >= 70% of the best rate, a 12-MP photo end to
end < 0.5 s, 720p video >= 20 frames/s (default preset) and >= 30 (ultrafast); `machine` says which CPU
gave them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
MODELS = "cnn,v2,unet,mnv2-unet"  # the seed's baseline and Polychromify, the previous and the new default


def run(script: str, *args: str) -> object:
    out = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True, text=True)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout)


def targets(summary: dict) -> dict:
    """Each target: the measured value, the bound, and whether it is met (None where not measured)."""

    def check(value: float | None, bound: float, above: bool) -> dict:
        met = None if value is None else (value >= bound if above else value < bound)
        return {"value": value, "target": f"{'>=' if above else '<'} {bound}", "met": met}

    def fps(key: str) -> float | None:
        rows = summary.get(key, {}).get("results", [])
        return next((r["frames_per_s"] for r in rows if r["size"] == "1280x720"), None)

    return {
        "train_epoch_fraction_of_best": check(summary["epoch"].get("fraction"), 0.7, True),
        "photo_12mp_seconds": check(summary["inference"].get("photo_12mp_seconds"), 0.5, False),
        "video_720p_frames_per_s": check(fps("video"), 20, True),
        "video_720p_ultrafast_frames_per_s": check(fps("video_ultrafast"), 30, True),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--video", action="store_true", help="also bench/video.py")
    a = ap.parse_args()
    quick = a.quick
    summary = {
        "peak": run("peak.py", *(["--size", "1024", "--repeats", "3"] if quick else [])),
        # every model in emulated bf16 would take hours on a CPU without bf16 units: the ones that matter
        "train": run("train.py", *(["--quick"] if quick else ["--models", MODELS, "--repeats", "3"])),
        "epoch": run("epoch.py", *(["--steps", "12"] if quick else [])),
        "prepare": run("prepare.py", *(["--n", "8", "--megapixels", "2"] if quick else [])),
        "inference": run("inference.py", "--repeats", "1" if quick else "5"),
    }
    if a.video:
        frames = ["--frames", "24" if quick else "96"]
        summary["video"] = run("video.py", *frames)
        summary["video_ultrafast"] = run("video.py", *frames, "--preset", "ultrafast")
    summary["machine"] = summary["peak"].get("machine")
    summary["targets"] = targets(summary)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
