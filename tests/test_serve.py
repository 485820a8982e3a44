"""`polychromify serve` as a real uvicorn server on loopback: workers, slow senders, a proxy's prefix."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import httpx

from tests.server import serving, workers
from tests.test_web import SHEEP

STALLED = (
    b"POST /api/colorize HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=b\r\n"
    b"Content-Length: 100000\r\n\r\n--b\r\n"  # then nothing more
)


def stalled_sender(url: str) -> socket.socket:
    """A client that sends its headers and the first bytes of a 100 kB body, then stops."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.sendall(STALLED)
    return sock


def answer(sock: socket.socket) -> bytes:
    sock.settimeout(120)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


async def at_once(url: str, requests: list[tuple[str, str, dict]]) -> list[httpx.Response]:
    """Sends the requests concurrently, each on its own connection (so any worker may take it)."""

    async def one(method: str, path: str, kw: dict) -> httpx.Response:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            return await http.request(method, path, **kw)

    return await asyncio.gather(*(one(*r) for r in requests))


def test_two_workers_answer_and_each_holds_its_limits():
    big = {"files": {"image": ("big.jpg", b"\xff" * 1_500_000)}}  # over --max-upload-mb 1
    photo = {"files": {"image": ("s.jpg", SHEEP)}}
    with serving("--workers", "2", "--max-queue", "0", "--max-upload-mb", "1") as (url, proc):
        pids = set(workers(proc.pid))
        assert len(pids) == 2 and proc.pid not in pids
        seen: dict[str, set[int]] = {"health": set(), "busy": set(), "too large": set()}
        for _ in range(40):  # which worker accepts a connection is the kernel's choice: ask until both did
            batch = [("GET", "/health", {}), ("POST", "/api/colorize", photo), ("POST", "/api/colorize", big)]
            for i, r in enumerate(asyncio.run(at_once(url, batch * 3))):
                kind = list(seen)[i % 3]
                pid = int(r.headers["x-polychromify-worker"])
                if kind == "health":
                    assert r.status_code == 200 and r.json()["pid"] == pid
                elif kind == "busy":  # --max-queue 0: every worker refuses every photo
                    assert r.status_code == 503 and r.headers["retry-after"] == "2", r.text
                    assert r.json() == {"error": "server busy, try again shortly"}
                else:
                    assert r.status_code == 413 and "larger than 1 MB" in r.json()["error"]
                seen[kind].add(pid)
            if all(s == pids for s in seen.values()):
                break
        assert all(s == pids for s in seen.values()), seen  # both workers answered each kind


def test_a_stalled_upload_holds_no_one_up_and_gets_408():
    """--body-timeout 300: if the stalled sender held the server up, the others would wait 300 s and their
    120-s timeouts would fail the test; no clock is compared. Then a server with --body-timeout 1 answers a
    stalled body with 408."""
    with serving("--body-timeout", "300") as (url, _):
        slow = [stalled_sender(url) for _ in range(4)]
        health, photo = asyncio.run(
            at_once(
                url, [("GET", "/health", {}), ("POST", "/api/colorize", {"files": {"image": ("s", SHEEP)}})]
            )
        )
        assert health.status_code == 200 and photo.status_code == 200
        assert photo.headers["content-type"] == "image/png"
        for sock in slow:
            sock.close()
    with serving("--body-timeout", "1") as (url, _):
        with stalled_sender(url) as sock:
            head = answer(sock)
        assert head.startswith(b"HTTP/1.1 408 "), head
        assert b"content-type: application/json" in head.lower()


def test_behind_a_proxy_prefix():
    """--root-path: the schema names the prefix as its server, and the page's links are relative, so the page
    works under the prefix the proxy strips (http://proxy/colorize/ -> http://127.0.0.1:8000/)."""
    with serving("--root-path", "/colorize") as (url, _):
        spec = httpx.get(url + "/openapi.json").json()
        assert spec["servers"] == [{"url": "/colorize"}]
        page = httpx.get(url + "/").text
        assert 'href="static/style.css"' in page and 'src="static/app.js"' in page
        assert httpx.get(url + "/static/app.js").status_code == 200
