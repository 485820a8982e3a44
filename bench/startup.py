"""How long the command line takes to answer without doing any work (help, a refused option); prints JSON.

    python bench/startup.py [--runs 21] [--against OTHER/src]

Each case runs `python -m polychromify ...` in a fresh process, --runs times; median and minimum in
seconds. With --against, another checkout's src/ (e.g. a `git worktree` of an older commit) is timed in
the same loop, alternating with this one, both through PYTHONPATH so the two import the same way; the
`ratio` is this tree's median over the other's. No torch may load in any of these cases.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from polychromify.precision import machine

CASES = {"help": ["--help"], "train_help": ["train", "--help"], "bad_option": ["colorize", "--bad"]}
SRC = Path(__file__).resolve().parents[1] / "src"


def time_case(args: list[str], src: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(src))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "polychromify", *args], capture_output=True, env=env, check=False)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--against", type=Path, help="another checkout's src/ folder, timed alternately")
    a = ap.parse_args()
    trees = {"this": SRC} | ({"other": a.against.resolve()} if a.against else {})
    times = {(tree, case): [] for tree in trees for case in CASES}
    for _ in range(a.runs):
        for case, args in CASES.items():
            for tree, src in trees.items():
                times[tree, case].append(time_case(args, src))
    out: dict = {"benchmark": "startup", "machine": machine(), "runs": a.runs}
    for case in CASES:
        row = {
            tree: {
                "median_s": round(statistics.median(times[tree, case]), 4),
                "min_s": round(min(times[tree, case]), 4),
            }
            for tree in trees
        }
        if a.against:
            row["ratio"] = round(row["this"]["median_s"] / row["other"]["median_s"], 3)
        out[case] = row
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
