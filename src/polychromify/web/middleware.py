"""The web app's ASGI middlewares: the body limits (413, 408) and the worker's name on every answer."""

from __future__ import annotations

import asyncio
import os

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WORKER_HEADER = "X-Polychromify-Worker"  # the pid of the worker process that answered


class BodyGuard:
    """413 as soon as a request's body is known to be over `max_bytes` (its Content-Length, or what has
    arrived), and 408 when it is not complete `seconds` after the request began; both as JSON errors raised
    while the form is read. uvicorn has neither limit. A client that dribbles its upload a few bytes at a
    time holds one connection for at most `seconds`; the others go on meanwhile, since bodies are read on
    the event loop and admission (the 503 gate) begins only once a body is in. (FastAPI's own max_body_size
    answers in plain text, hence this.)"""

    def __init__(self, app: ASGIApp, max_bytes: int, seconds: float) -> None:
        self.app, self.max_bytes, self.seconds = app, max_bytes, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        deadline = asyncio.get_running_loop().time() + self.seconds
        length = dict(scope["headers"]).get(b"content-length", b"")
        declared = int(length) if length.isdigit() else 0
        received, complete = 0, False
        too_large = HTTPException(413, f"request body larger than {self.max_bytes:,} bytes")

        async def guarded_receive() -> Message:
            nonlocal received, complete
            if complete:
                return await receive()
            if declared > self.max_bytes:  # refused before a byte of it is read
                raise too_large
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(408, f"request body not received within {self.seconds:g} s") from None
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise too_large
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, guarded_receive, send)


class WorkerHeader:
    """Names the worker process in every answer (X-Polychromify-Worker: pid), so a client, a proxy's log or a
    test can see which of `serve --workers N` answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pid = str(os.getpid()).encode()

        async def send_named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (WORKER_HEADER.lower().encode(), pid)]
            await send(message)

        await self.app(scope, receive, send_named)
