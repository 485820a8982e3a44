"""Schemathesis against a running `polychromify serve` on loopback; prints JSON.

    python bench/fuzz_api.py [--max-examples 1000] [--seed 1] [--workers 1] [--report-dir DIR]

Starts the server (with small limits, so that generated images stay quick: 1 MB uploads, 65,536 pixels)
and runs `schemathesis run` on its /openapi.json: every operation, positive and negative requests (mode
all: the examples, coverage and fuzzing phases), one request at a time so that a seed reproduces the run,
with every check schemathesis has. The image parts hold real small colour images of each declared kind
(tests/fuzz_hooks.py, which also says what it makes of a positive case that the schema cannot say). Prints
the requests sent, the statuses per operation, and every failure with schemathesis's own words (a curl
line that reproduces it among them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.server import serving  # noqa: E402  (the tests' server helper; pytest is a dev dependency)

CHECKS = "all"  # every check schemathesis has: positive_data_acceptance, negative_data_rejection ...
SERVER = ["--max-upload-mb", "1", "--max-pixels", "65536"]


def fuzz(url: str, max_examples: int, seed: int, report_dir: Path) -> tuple[list[str], int, str]:
    """Runs the schemathesis command line against `url`; returns the command, its exit code and output."""
    cmd = [
        "schemathesis", "run", f"{url}/openapi.json",
        "--checks", CHECKS,
        "--mode", "all",
        "--seed", str(seed),
        "--max-examples", str(max_examples),
        "--workers", "1",
        "--report", "json,ndjson",
        "--report-dir", str(report_dir),
    ]  # fmt: skip
    env = os.environ | {"SCHEMATHESIS_HOOKS": "tests.fuzz_hooks", "PYTHONPATH": str(REPO)}
    run = subprocess.run(  # in the report folder, where it keeps its cache: every run starts afresh
        [sys.executable, "-m", "schemathesis.cli", *cmd[1:]],
        capture_output=True,
        text=True,
        env=env,
        cwd=report_dir,
    )
    return cmd, run.returncode, run.stdout + run.stderr


def statuses(ndjson: Path) -> Counter:
    """(operation, status) of every request schemathesis recorded."""
    seen: Counter = Counter()
    for line in ndjson.read_text().splitlines():
        event = json.loads(line).get("ScenarioFinished")
        for step in (event or {}).get("recorder", {}).get("interactions", {}).values():
            request, response = step["request"], step.get("response")
            path = "/" + request["uri"].split("/", 3)[3]
            path = "/samples/{name}" if path.startswith("/samples/") else path  # one line for every name
            seen[(f"{request['method']} {path}", response["status_code"] if response else "no answer")] += 1
    return seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-examples", type=int, default=1000, help="per operation and phase")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1, help="serve --workers")
    ap.add_argument("--report-dir", type=Path, help="keep schemathesis's JSON and NDJSON reports here")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        reports = a.report_dir or Path(tmp)
        reports.mkdir(parents=True, exist_ok=True)
        with serving(*SERVER, "--workers", str(a.workers)) as (url, _):
            t0 = time.perf_counter()
            cmd, code, output = fuzz(url, a.max_examples, a.seed, reports)
            seconds = time.perf_counter() - t0
        report = json.loads(max(reports.glob("json-*.json"), key=os.path.getmtime).read_text())
        seen = statuses(max(reports.glob("ndjson-*.ndjson"), key=os.path.getmtime))
    by_operation: dict[str, dict[str, int]] = {}
    for (operation, status), n in sorted(seen.items(), key=str):
        by_operation.setdefault(operation, {})[str(status)] = n
    print(
        json.dumps(
            {
                "benchmark": "fuzz_api",
                "command": " ".join(cmd[:2] + ["URL/openapi.json"] + cmd[3:-2]),
                "server": ["serve", *SERVER, "--workers", str(a.workers)],
                "seed": a.seed,
                "exit_code": code,
                "seconds": round(seconds, 1),
                "test_cases": report["test_cases"]["generated"],
                "requests": sum(seen.values()),
                "server_errors": sum(n for (_, s), n in seen.items() if s == "no answer" or s >= 500),
                "statuses": by_operation,
                "failures": report["failures"],
                "errors": report["errors"],
                "output_tail": output[-3000:] if code else "",
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
