"""Load test of `polychromify serve` on loopback, with bad neighbours; prints JSON.

    python bench/load.py [--requests 1000] [--concurrency 6] [--slow 2] [--workers 1] [--seconds S] [--quick]

Starts the server in a child process (`serve --max-upload-mb 2`) and sends, from `--concurrency` clients
at once, a mix of valid uploads (the bundled sample photos, some with hints) and bad ones: oversized
uploads (3 MB, read and refused; 6 MB, refused from its Content-Length), truncated files, text, a
decompression bomb, bad hints, a bad saturation. Beside them, `--slow` clients each send valid photos
a few bytes at a time (64 bytes every 2 ms, chunked). It stops after `--requests` requests or `--seconds`.

Every answer is checked: a valid photo must come back as a PNG of its size whose lightness matches the
input (mean CIELAB L difference under 3), a bad one as 413, 415 or 422 with one JSON error; a 503 (busy)
is allowed for any request but must carry Retry-After; anything else is "wrong". Reports statuses per
kind, 5xx, dropped connections, p50/p95 latency, how many other requests were answered while a slow
sender was mid-upload, and the server's memory (RSS, summed over the workers) after warm-up, at each
quarter and at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
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
from tests.corpus import bomb_png  # noqa: E402  (the test suite's hostile files and server helper)
from tests.server import rss_mb, serving, workers  # noqa: E402

SERVER = ["--max-upload-mb", "2"]
REFUSED = {413, 415, 422}


def _payloads(quick: bool) -> list[tuple[str, dict, dict, np.ndarray | None]]:
    """(kind, files, form data, the expected CIELAB L for a valid photo or None for a bad request)."""
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
        ("oversized", {"image": ("big.jpg", jpeg + b"\0" * 3_000_000)}, {}, None),
        ("oversized", {"image": ("huge.jpg", jpeg + b"\0" * 6_000_000)}, {}, None),
        ("truncated", {"image": ("cut.jpg", jpeg[: len(jpeg) // 3])}, {}, None),
        ("truncated", {"image": ("cut.jpg", jpeg[:-200])}, {}, None),
        ("invalid", {"image": ("zero.jpg", b"")}, {}, None),
        ("invalid", {"image": ("notes.jpg", b"not a photo\n" * 50)}, {}, None),
        ("invalid", {"image": ("bomb.png", bomb_png())}, {}, None),
        ("invalid", {"image": ("s.jpg", jpeg)}, {"hints": "[{"}, None),
        ("invalid", {"image": ("s.jpg", jpeg)}, {"saturation": "-3"}, None),
    ]
    return out


def _correct(kind: str, grey: np.ndarray | None, r: httpx.Response) -> bool:
    if r.status_code == 503:
        return "retry-after" in r.headers and set(r.json()) == {"error"}
    if grey is None:
        return r.status_code in REFUSED and set(r.json()) == {"error"}
    if r.status_code != 200 or r.headers["content-type"] != "image/png":
        return False
    out = rgb_to_lab(np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB")))[0]
    # lightness kept (up to gamut clipping, which saturation 1.5 makes larger; not luma, which blue lowers)
    return out.shape == grey.shape and float(np.abs(out - grey).mean()) < 3.0


async def _dribble(body: bytes, chunk: int = 64, pause: float = 0.002):
    for i in range(0, len(body), chunk):
        yield body[i : i + chunk]
        await asyncio.sleep(pause)


async def _run(url: str, jobs: list, concurrency: int, slow_jobs: list, slow: int, seconds: float, on_done):
    results: list[dict] = []
    uploading = [0]  # slow senders mid-upload now
    queue: asyncio.Queue = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    stop = time.perf_counter() + seconds

    async def send(http: httpx.AsyncClient, job: tuple, slowly: bool) -> None:
        kind, files, data, grey = job
        t0 = time.perf_counter()
        try:
            if slowly:
                request = http.build_request("POST", "/api/colorize", files=files, data=data)
                body, kind = request.read(), "slow"
                uploading[0] += 1
                try:
                    r = await http.post(
                        "/api/colorize",
                        content=_dribble(body),
                        headers={"content-type": request.headers["content-type"]},
                    )
                finally:
                    uploading[0] -= 1
            else:
                r = await http.post("/api/colorize", files=files, data=data)
            status, ok = r.status_code, _correct(kind, grey, r)
        except httpx.TransportError as exc:
            status, ok = f"dropped: {type(exc).__name__}", False
        ms = (time.perf_counter() - t0) * 1e3
        during_slow = uploading[0] > 0  # answered while a slow sender was mid-upload
        results.append({"kind": kind, "status": status, "ok": ok, "ms": ms, "during_slow": during_slow})
        on_done(len(results))

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=300) as http:
            while not queue.empty() and time.perf_counter() < stop:
                await send(http, queue.get_nowait(), slowly=False)

    async def slow_client(i: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=300) as http:
            k = i
            while not queue.empty() and time.perf_counter() < stop:  # as long as the others send
                await send(http, slow_jobs[k % len(slow_jobs)], slowly=True)
                k += slow

    await asyncio.gather(*(client() for _ in range(concurrency)), *(slow_client(i) for i in range(slow)))
    return results


def _pct(values: list[float], q: float) -> float | None:
    values = sorted(values)
    return round(values[int(q * (len(values) - 1))], 1) if values else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1000, help="requests from the mixed clients")
    ap.add_argument(
        "--concurrency",
        type=int,
        default=6,
        help="clients sending the mix (with --slow: 8, serve's --max-queue)",
    )
    ap.add_argument("--slow", type=int, default=2, help="clients sending valid photos a few bytes at a time")
    ap.add_argument("--workers", type=int, default=1, help="serve --workers")
    ap.add_argument("--seconds", type=float, default=900, help="stop sending after this long")
    ap.add_argument("--quick", action="store_true", help="24 requests, 4 clients, 1 slow, small photos")
    a = ap.parse_args()
    n, concurrency, slow = (24, 4, 1) if a.quick else (a.requests, a.concurrency, a.slow)
    payloads = _payloads(a.quick)
    rng = np.random.default_rng(0)
    jobs = [payloads[i] for i in rng.integers(0, len(payloads), n)]
    valid = [p for p in payloads if p[0] == "valid"]

    with serving(*SERVER, "--workers", str(a.workers)) as (url, proc):
        pids = workers(proc.pid)

        def rss() -> float:
            return sum(rss_mb(pid) for pid in pids)

        # warm-up: every worker loads its model once, so the memory figures compare like with like
        asyncio.run(_run(url, valid * 2 * a.workers, a.workers * 2, [], 0, a.seconds, lambda _: None))
        memory = {"after_warmup": rss(), "peak": 0.0}
        quarters: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                memory["peak"] = max(memory["peak"], rss())
                time.sleep(0.05)

        def on_done(k: int) -> None:
            if k % max(1, n // 4) == 0 and len(quarters) < 4:
                quarters.append(round(rss(), 1))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        results = asyncio.run(_run(url, jobs, concurrency, valid, slow, a.seconds, on_done))
        wall = time.perf_counter() - t0
        stop.set()
        sampler.join()
        memory["end"] = rss()
        per_worker = {str(pid): round(rss_mb(pid), 1) for pid in pids}

    statuses: dict[str, dict[str, int]] = {}
    for r in results:
        by_kind = statuses.setdefault(r["kind"], {})
        by_kind[str(r["status"])] = by_kind.get(str(r["status"]), 0) + 1
    fast = [r for r in results if r["kind"] != "slow"]
    print(
        json.dumps(
            {
                "benchmark": "load",
                "machine": machine(),
                "server": ["serve", *SERVER, "--workers", str(a.workers)],
                "requests": len(results),
                "clients": concurrency,
                "slow_clients": slow,
                "workers": a.workers,
                "seconds": round(wall, 1),
                "statuses": statuses,
                "errors_5xx": sum(r["status"] in range(500, 600) and r["status"] != 503 for r in results),
                "busy_503": sum(r["status"] == 503 for r in results),
                "dropped": sum(isinstance(r["status"], str) for r in results),
                "wrong": sum(not r["ok"] for r in results),
                "p50_ms": _pct([r["ms"] for r in fast], 0.5),
                "p95_ms": _pct([r["ms"] for r in fast], 0.95),
                "valid_p50_ms": _pct([r["ms"] for r in fast if r["kind"] == "valid"], 0.5),
                "valid_p95_ms": _pct([r["ms"] for r in fast if r["kind"] == "valid"], 0.95),
                "slow_p50_ms": _pct([r["ms"] for r in results if r["kind"] == "slow"], 0.5),
                "answered_while_a_slow_sender_uploaded": sum(r["during_slow"] for r in fast),
                "requests_per_s": round(len(results) / wall, 2),
                "rss_mb_after_warmup": round(memory["after_warmup"], 1),
                "rss_mb_each_quarter": quarters,
                "rss_mb_end": round(memory["end"], 1),
                "rss_mb_peak": round(memory["peak"], 1),
                "rss_mb_per_worker_end": per_worker,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
