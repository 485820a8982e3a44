"""Every benchmark in one run, one JSON object: peak, train, prepare, inference (and video with --video).

    python bench/summary.py [--quick] [--video]

Each script runs in its own process, one after another, so they do not compete for the cores. `--quick`
passes the scripts' small settings (a few minutes in all); without it the defaults of each script are used.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def run(script: str, *args: str) -> object:
    out = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True, text=True)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--video", action="store_true", help="also bench/video.py")
    a = ap.parse_args()
    quick = a.quick
    summary = {
        "peak": run("peak.py", *(["--size", "1024", "--repeats", "3"] if quick else [])),
        "train": run("train.py", *(["--quick"] if quick else [])),
        "prepare": run("prepare.py", *(["--n", "8", "--megapixels", "2"] if quick else [])),
        "inference": run("inference.py", "--repeats", "1" if quick else "5"),
    }
    if a.video:
        summary["video"] = run("video.py", *(["--frames", "12"] if quick else []))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
