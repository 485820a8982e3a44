"""Load test of `polychromify serve` on loopback; prints JSON.

    python bench/load.py [--requests 200] [--concurrency 8] [--quick]

Starts the server in a child process, sends a mix of valid uploads (the bundled sample photos, some with
hints) and invalid ones (empty, text, truncated, decompression bomb, bad hints, bad saturation) from
`--concurrency` clients at once, and checks every answer: a valid upload must come back as a PNG of the
same size whose lightness matches the input (mean CIELAB L difference under 3); an invalid one as a
4xx JSON error. Reports status counts, 5xx, dropped connections, wrong answers, p50/p95 latency and the
server's memory (RSS) over the run.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from polychromify.color import rgb_to_lab
from polychromify.precision import machine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.corpus import bomb_png  # noqa: E402  (the test suite's hostile files; pytest is a dev dependency)


def _payloads(quick: bool) -> list[tuple[str, dict, dict, np.ndarray | None]]:
    """(kind, files, form data, expected grey or None for an invalid request)."""
    out = []
    for path in sorted((REPO / "samples" / "bw").glob("*.jpg")):
        im = Image.open(path).convert("RGB")
        if quick:
            im.thumbnail((160, 160))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90)
        grey = rgb_to_lab(np.asarray(im))[0]  # CIELAB L, what the colorizer keeps
        files = {"image": (path.name, buf.getvalue())}
        out.append(("valid", files, {}, grey))
        hint = [{"x": im.width // 2, "y": im.height // 2, "color": "#3080ff"}]
        out.append(("valid", files, {"hints": json.dumps(hint), "saturation": "1.5"}, grey))
    jpeg = out[0][1]["image"][1]
    out += [
        ("invalid", {"image": ("zero.jpg", b"")}, {}, None),
        ("invalid", {"image": ("notes.jpg", b"not a photo\n" * 50)}, {}, None),
        ("invalid", {"image": ("cut.jpg", jpeg[: len(jpeg) // 3])}, {}, None),
        ("invalid", {"image": ("bomb.png", bomb_png())}, {}, None),
        ("invalid", {"image": ("s.jpg", jpeg)}, {"hints": "[{"}, None),
        ("invalid", {"image": ("s.jpg", jpeg)}, {"saturation": "-3"}, None),
    ]
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _correct(kind: str, grey: np.ndarray | None, r: httpx.Response) -> bool:
    if kind == "invalid":
        return 400 <= r.status_code < 500 and set(r.json()) == {"error"}
    if r.status_code != 200 or r.headers["content-type"] != "image/png":
        return False
    out = rgb_to_lab(np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB")))[0]
    # lightness kept (up to gamut clipping, which saturation 1.5 makes larger; not luma, which blue lowers)
    return out.shape == grey.shape and float(np.abs(out - grey).mean()) < 3.0


async def _run(url: str, jobs: list, concurrency: int, on_done) -> list[dict]:
    results: list[dict] = []
    queue: asyncio.Queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            while not queue.empty():
                kind, files, data, grey = queue.get_nowait()
                t0 = time.perf_counter()
                try:
                    r = await http.post("/api/colorize", files=files, data=data)
                    status, ok = r.status_code, _correct(kind, grey, r)
                except httpx.TransportError as exc:
                    status, ok = f"dropped: {type(exc).__name__}", False
                results.append(
                    {"kind": kind, "status": status, "ok": ok, "ms": (time.perf_counter() - t0) * 1e3}
                )
                on_done(len(results))

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--quick", action="store_true", help="24 requests, 4 clients, small photos")
    a = ap.parse_args()
    n, concurrency = (24, 4) if a.quick else (a.requests, a.concurrency)
    payloads = _payloads(a.quick)
    rng = np.random.default_rng(0)
    jobs = [payloads[i] for i in rng.integers(0, len(payloads), n)]

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "polychromify", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        # warm-up: load the models once, so the memory figures compare like with like
        warm = [p for p in payloads if p[0] == "valid"]
        asyncio.run(_run(url, warm, 1, lambda _: None))
        rss = {"after_warmup": _rss_mb(server.pid), "peak": 0.0}
        quarter: dict[str, float] = {}
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                rss["peak"] = max(rss["peak"], _rss_mb(server.pid))
                time.sleep(0.05)

        def on_done(k: int) -> None:
            if k == n // 4:
                quarter["rss"] = _rss_mb(server.pid)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        results = asyncio.run(_run(url, jobs, concurrency, on_done))
        wall = time.perf_counter() - t0
        stop.set()
        sampler.join()
        rss_end = _rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    lat = sorted(r["ms"] for r in results)
    valid_lat = sorted(r["ms"] for r in results if r["kind"] == "valid")
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    print(
        json.dumps(
            {
                "benchmark": "load",
                "machine": machine(),
                "requests": len(results),
                "concurrency": concurrency,
                "valid": sum(r["kind"] == "valid" for r in results),
                "invalid": sum(r["kind"] == "invalid" for r in results),
                "statuses": statuses,
                "errors_5xx": sum(isinstance(r["status"], int) and r["status"] >= 500 for r in results),
                "dropped": sum(isinstance(r["status"], str) for r in results),
                "wrong": sum(not r["ok"] for r in results),
                "p50_ms": round(statistics.median(lat), 1),
                "p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 1),
                "valid_p50_ms": round(statistics.median(valid_lat), 1) if valid_lat else None,
                "valid_p95_ms": round(valid_lat[int(0.95 * (len(valid_lat) - 1))], 1) if valid_lat else None,
                "requests_per_s": round(len(results) / wall, 2),
                "rss_mb_after_warmup": round(rss["after_warmup"], 1),
                "rss_mb_after_first_quarter": round(quarter.get("rss", rss["after_warmup"]), 1),
                "rss_mb_end": round(rss_end, 1),
                "rss_mb_peak": round(rss["peak"], 1),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
