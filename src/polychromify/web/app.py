"""`polychromify serve`: FastAPI app with a JSON/multipart API and one static page.

POST /api/colorize  multipart: image, hints (JSON [{x,y,color}]), reference (a colour photo whose colours
                    to take), reference_strength (0-1), saturation, model, format -> PNG/JPEG
POST /api/palette   multipart: image, x, y, model -> the colours the model finds likely at that point
GET  /api/models    the models this server offers
GET  /health        liveness
Nothing from the client is ever used as a path; uploads never touch the disk.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image
from starlette.concurrency import run_in_threadpool

from polychromify.color import grey_lightness, lab_to_rgb, normalize_l, to_grey
from polychromify.data.images import ImageError, open_image
from polychromify.errors import PolychromifyError
from polychromify.inference import Colorizer, Hint, parse_hint
from polychromify.precision import check_precision
from polychromify.reference import STRENGTH, Reference

STATIC = Path(__file__).parent / "static"


@dataclass
class Limits:
    max_upload_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_queue: int = 8  # requests running or waiting; more get 503 + Retry-After
    max_hints: int = 64


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass
class _Gate:
    """Bounded admission: at most `limit` requests inside; one inference at a time (torch uses all cores)."""

    limit: int
    inside: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    run_lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self) -> None:
        with self.lock:
            if self.inside >= self.limit:
                raise ApiError(503, "server busy, try again shortly", {"Retry-After": "2"})
            self.inside += 1

    def leave(self) -> None:
        with self.lock:
            self.inside -= 1


def create_app(
    models: dict[str, str | Path] | None = None, limits: Limits | None = None, precision: str = "auto"
) -> FastAPI:
    """App serving `models` ({name: 'default' or run folder}); each is loaded once, on first use, and runs in
    `precision` (auto, fp32 or bf16; see polychromify.precision)."""
    models = models or {"default": "default"}
    limits = limits or Limits()
    check_precision(precision)  # now, not at the first request (models load on first use)
    app = FastAPI(title="Polychromify", version="1", docs_url="/docs")
    loaded: dict[str, Colorizer] = {}
    gate = _Gate(limits.max_queue)

    def colorizer(name: str) -> Colorizer:
        if name not in models:
            raise ApiError(400, f"unknown model {name!r}; available: {', '.join(models)}")
        if name not in loaded:
            loaded[name] = Colorizer(models[name], precision=precision)
        return loaded[name]

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", []) if x != "body")
        return JSONResponse(
            {"error": f"invalid request: {where} {first.get('msg', '')}".strip()}, status_code=422
        )

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:  # never a stack trace to the client
        return JSONResponse({"error": "internal error"}, status_code=500)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "models": list(models)}

    @app.get("/api/models")
    def list_models() -> dict:
        out = []
        for name in models:
            c = colorizer(name)
            out.append(
                {
                    "name": name,
                    "architecture": c.model.arch["name"],
                    "hints": c.takes_hints,
                    "palette": c.model.kind == "classification",
                    "reference": c.takes_reference,
                }
            )
        return {"models": out}

    async def admitted(fn, *args):
        gate.enter()
        try:
            return await run_in_threadpool(_locked, gate.run_lock, fn, *args)
        finally:
            gate.leave()

    @app.post("/api/colorize")
    async def colorize(
        image: Annotated[UploadFile, File()],
        hints: Annotated[str, Form()] = "[]",
        reference: Annotated[UploadFile | None, File()] = None,
        reference_strength: Annotated[float, Form()] = STRENGTH,
        saturation: Annotated[float, Form()] = 1.0,
        model: Annotated[str, Form()] = "default",
        format: Annotated[str, Form()] = "png",
    ) -> Response:
        if format not in ("png", "jpeg"):
            raise ApiError(400, "format must be png or jpeg")
        if not 0 <= saturation <= 4:
            raise ApiError(400, "saturation must be between 0 and 4")
        parsed = _parse_hints(hints, limits.max_hints)
        c = colorizer(model)
        if parsed and not c.takes_hints:
            raise ApiError(400, f"model {model!r} does not take colour hints")
        if not 0 <= reference_strength <= 1:
            raise ApiError(400, "reference_strength must be between 0 and 1")
        if reference is not None and not c.takes_reference:
            raise ApiError(400, f"model {model!r} cannot take colours from a reference photo")
        rgb = await run_in_threadpool(_decode, await _read_upload(image, limits), limits)
        ref = None
        if reference is not None:
            data = await _read_upload(reference, limits)
            ref = await run_in_threadpool(_reference, data, limits, reference_strength)
        body = await admitted(_colorize_bytes, c, rgb, parsed, saturation, format, ref)
        return Response(body, media_type=f"image/{format}")

    @app.post("/api/palette")
    async def palette(
        image: Annotated[UploadFile, File()],
        x: Annotated[float, Form()],
        y: Annotated[float, Form()],
        model: Annotated[str, Form()] = "default",
        k: Annotated[int, Form()] = 6,
    ) -> dict:
        c = colorizer(model)
        if c.model.kind != "classification":
            raise ApiError(400, f"model {model!r} cannot suggest colours")
        rgb = await run_in_threadpool(_decode, await _read_upload(image, limits), limits)
        h, w = rgb.shape[:2]
        if not (0 <= x < w and 0 <= y < h):
            raise ApiError(400, f"point ({x:g},{y:g}) is outside the {w}x{h} image")
        return {"colors": await admitted(_palette, c, rgb, x, y, max(1, min(k, 12)))}

    @app.get("/")
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _locked(lock: threading.Lock, fn, *args):
    with lock:
        return fn(*args)


async def _read_upload(upload: UploadFile, limits: Limits) -> bytes:
    data = await upload.read(limits.max_upload_bytes + 1)
    if len(data) > limits.max_upload_bytes:
        raise ApiError(413, f"upload larger than {limits.max_upload_bytes // (1024 * 1024)} MB")
    if not data:
        raise ApiError(400, "empty upload")
    return data


def _decode(data: bytes, limits: Limits) -> np.ndarray:
    """Content-sniffed decode (the file name is ignored), with the pixel limit checked before decoding.
    Runs in the thread pool, so a large upload does not hold up the event loop."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            w, h = probe.size
    except Image.DecompressionBombError:
        raise ApiError(413, f"image too large, limit {limits.max_pixels:,} pixels") from None
    except Exception:  # noqa: BLE001 - anything Pillow cannot identify is simply not an image
        raise ApiError(415, "not an image (JPEG, PNG, WebP, BMP, TIFF or GIF expected)") from None
    if w * h > limits.max_pixels:
        raise ApiError(413, f"image too large: {w}x{h} pixels, limit {limits.max_pixels:,}")
    try:
        return np.asarray(open_image(data))
    except ImageError as exc:
        raise ApiError(
            415 if "not an image" in str(exc) or "unsupported" in str(exc) else 400, str(exc)
        ) from None


def _parse_hints(text: str, max_hints: int) -> list[Hint]:
    try:
        items = json.loads(text or "[]")
        if not isinstance(items, list):
            raise ValueError
        if len(items) > max_hints:
            raise ApiError(400, f"at most {max_hints} hints")
        return [parse_hint(f"{h['x']},{h['y']},{h['color']}") for h in items]
    except ApiError:
        raise
    except PolychromifyError as exc:
        raise ApiError(400, str(exc)) from None
    except (ValueError, TypeError, KeyError):
        raise ApiError(
            400, 'hints must be a JSON list like [{"x": 10, "y": 20, "color": "#RRGGBB"}]'
        ) from None


def _reference(data: bytes, limits: Limits, strength: float) -> Reference:
    try:
        return Reference.of(_decode(data, limits), strength)
    except ApiError as exc:
        raise ApiError(exc.status, f"reference photo: {exc.message}") from None
    except PolychromifyError as exc:
        raise ApiError(400, str(exc)) from None


def _colorize_bytes(
    c: Colorizer,
    rgb: np.ndarray,
    hints: list[Hint],
    saturation: float,
    fmt: str,
    reference: Reference | None = None,
) -> bytes:
    try:
        out = c.colorize_array(rgb, hints, saturation, reference)
    except PolychromifyError as exc:
        raise ApiError(400, str(exc)) from None
    buf = io.BytesIO()
    Image.fromarray(out).save(
        buf, "PNG" if fmt == "png" else "JPEG", **({"quality": 95} if fmt == "jpeg" else {})
    )
    return buf.getvalue()


@torch.no_grad()
def _palette(c: Colorizer, rgb: np.ndarray, x: float, y: float, k: int) -> list[str]:
    """The k most likely ab bins at (x, y), shown at that pixel's lightness, as '#rrggbb'."""
    grey = to_grey(rgb)
    L = torch.from_numpy(normalize_l(c.small_lightness([grey])))  # the network's input, as predict_small's
    logits = c.model(c.model.make_input(L, None, c.takes_hints))
    h, w = grey.shape
    gy, gx = int(y * logits.shape[2] / h), int(x * logits.shape[3] / w)
    top = logits[0, :, gy, gx].softmax(0).topk(k).indices
    ab = (c.model.bins[top] / 128).numpy()[None]  # (1,k,2)
    lightness = np.full((1, k), max(40.0, float(grey_lightness()[grey[int(y), int(x)]])), np.float32)
    colours = lab_to_rgb(lightness, ab)[0]
    return ["#{:02x}{:02x}{:02x}".format(*(int(v) for v in col)) for col in colours]
