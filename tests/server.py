"""`polychromify serve` as a real server on loopback, for the tests and the bench scripts that need one."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of one process, MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def workers(pid: int) -> list[int]:
    """The pids of the processes serving: `pid` itself, or with --workers N its N children that serve."""
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    # uvicorn's supervisor also starts multiprocessing's resource tracker, which is no worker
    serving = [int(k) for k in kids if b"resource_tracker" not in Path(f"/proc/{k}/cmdline").read_bytes()]
    return serving or [pid]


@contextmanager
def serving(*args: str, start_timeout: float = 180) -> Iterator[tuple[str, subprocess.Popen]]:
    """Runs `polychromify serve --port P ARGS` until the block ends; yields its URL and process once /health
    answers (and with --workers N, once the N workers are started)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    n = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "polychromify", "serve", "--port", str(port), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the workers end with it
        )
        try:
            t0 = time.monotonic()
            while len(workers(proc.pid)) < n or not _answers(url):
                if proc.poll() is not None or time.monotonic() - t0 > start_timeout:
                    log.seek(0)
                    raise RuntimeError("serve did not start: " + log.read().decode(errors="replace")[-3000:])
                time.sleep(0.2)
            yield url, proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
