"""`polychromify serve`: FastAPI app with a JSON/multipart API and one static page.

POST /api/colorize  multipart: image, hints (JSON [{x,y,color}]), reference (a colour photo whose colours
                    to take), reference_strength (0-1), saturation, model, format -> PNG/JPEG
POST /api/palette   multipart: image, x, y, model -> the colours the model finds likely at that point
GET  /api/models    the models this server offers
GET  /api/samples   the bundled black-and-white sample photos (assets/samples/bw), for the page's first screen
GET  /samples/NAME  one of them, a JPEG (a name not in that list: 404)
GET  /health        liveness (and which worker process answered)
Nothing from the client is ever used as a path (a sample's name is only looked up among the bundled ones).
Every error is one JSON {"error": ...}: 400 a body that is not a form, 404 no such page or sample, 408 a
body that did not arrive in time, 413 too large, 415 not an image, 422 an invalid field, 503 busy (with
Retry-After); each is declared in the OpenAPI schema, which tests/test_api_fuzz.py checks.
The body limits (408, 413) and the worker's name on every answer are web/middleware.py's.
"""

import csv
import io
import json
import os
import string
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from fastapi import Depends, FastAPI, File, Form, Request, UploadFile, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from polychromify.checkpoint import ASSETS
from polychromify.color import grey_lightness, lab_to_rgb, normalize_l, to_grey
from polychromify.config import ColourOptions, ServeJob
from polychromify.data.images import ImageError, open_image
from polychromify.errors import PolychromifyError
from polychromify.inference import Colorizer, Hint, parse_hint
from polychromify.precision import check_precision
from polychromify.reference import Reference
from polychromify.runtime import keep_freed_memory, set_thread_budget
from polychromify.web.middleware import BodyGuard, WorkerHeader

STATIC = Path(__file__).parent / "static"
SAMPLES = ASSETS / "samples"  # bw/*.jpg, their colour originals (color/), ATTRIBUTION.tsv; in the wheel
SETTINGS_ENV = "POLYCHROMIFY_SERVE"  # create_app's arguments as JSON, for app_from_env in each uvicorn worker
COLOUR = ColourOptions()  # the form's defaults are the command line's
MB = 1024 * 1024


@dataclass
class Limits:
    """Per worker process: with `serve --workers N` each worker admits its own `max_queue`."""

    # per file; a request's whole body may hold two and the fields
    max_upload_bytes: int = ServeJob.max_upload_mb * MB
    max_pixels: int = ServeJob.max_pixels
    max_queue: int = ServeJob.max_queue  # requests running or waiting; more get 503 + Retry-After
    max_hints: int = 64
    # the whole body must arrive within this, else 408 (uvicorn has no such limit)
    body_seconds: float = ServeJob.body_timeout

    @property
    def max_body_bytes(self) -> int:
        return 2 * self.max_upload_bytes + 256 * 1024


class ErrorBody(BaseModel):
    error: str


class Health(BaseModel):
    status: Literal["ok"]
    models: list[str]
    pid: int


class ModelInfo(BaseModel):
    name: str
    architecture: str
    hints: bool
    palette: bool
    reference: bool


class ModelList(BaseModel):
    models: list[ModelInfo]


class Palette(BaseModel):
    colors: list[str]


class Sample(BaseModel):
    name: str
    title: str  # what the photo shows, from ATTRIBUTION.tsv's `content`
    url: str  # where this server serves it: /samples/{name}


class SampleList(BaseModel):
    samples: list[Sample]


_WHY = {
    400: "the body is not a readable multipart form",
    408: "the body did not arrive in time",
    413: "an upload, the image's pixels or the whole body is over its limit",
    415: "an upload is not an image",
    422: "a field is missing or invalid",
    503: "busy: try again after Retry-After seconds",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}


def _errors(*codes: int) -> dict[int | str, dict]:
    """OpenAPI entries for the error answers an operation can give, each a JSON ErrorBody."""
    return {
        code: {"model": ErrorBody, "description": _WHY[code]}
        | ({"headers": _RETRY_AFTER} if code == 503 else {})
        for code in codes
    }


_UPLOAD_ERRORS = _errors(400, 408, 413, 415, 422, 503)
_HINTS = 'JSON list of colour hints in pixels of the image, [{"x": 10, "y": 20, "color": "#RRGGBB"}, ...]'
_HINT_EXAMPLES = [[], [{"x": 0, "y": 0, "color": "#3080ff"}], [{"x": 1.5, "y": 0, "color": "#FFFFFF"}]]
_HINT = {
    "type": "object",
    "properties": {
        "x": {"type": "number", "minimum": 0, "description": "pixel column, inside the image"},
        "y": {"type": "number", "minimum": 0, "description": "pixel row, inside the image"},
        "color": {"type": "string", "pattern": "^#?[0-9a-fA-F]{6}$"},
    },
    "required": ["x", "y", "color"],
}


def _hints_field(max_hints: int):
    """The `hints` form field: read as text, declared as what it must hold, a JSON list of hints (its part's
    content type is application/json, see _parts)."""

    def declare(schema: dict) -> None:
        schema.clear()
        schema |= {"type": "array", "items": _HINT, "maxItems": max_hints, "default": []}
        schema |= {"description": _HINTS, "examples": _HINT_EXAMPLES}

    return Form(json_schema_extra=declare)


def _model_field(served: "_Served"):
    """The `model` form field: one of the served models' names."""
    return Form(json_schema_extra={"enum": list(served.models)})


_IMAGE = {"schema": {"type": "string", "format": "binary"}}
# An image part: a file part of one byte or more (an empty one, or a reference sent as a text field, is
# answered 422, so the schema says so). What no JSON Schema can say is whether the bytes decode: a file that
# is not an image gets 415, one cut short 422, a reference without colour 422 (bench/fuzz_api.py).
_UPLOAD = File(description="an image (JPEG, PNG, WebP, BMP, TIFF or GIF)", json_schema_extra={"minLength": 1})
# The types an image part is declared as. Its Content-Type is never trusted: the content is sniffed, so a part
# sent as application/octet-stream is read the same.
IMAGE_TYPES = "image/jpeg, image/png, image/webp, image/bmp, image/tiff, image/gif"


def _filled(*names: str) -> params.Depends:
    """A dependency that refuses an empty value for these form fields with 422. FastAPI reads an empty field
    as an absent one (what a browser sends for an untouched input) and would quietly take the default, which
    the schema does not say: schemathesis found format="" answered with a PNG."""

    async def check(request: Request) -> None:
        form = await request.form()  # already read by FastAPI; this is its cached copy
        for name in names:
            if "" in form.getlist(name):
                raise ApiError(422, f"invalid request: {name} is empty")

    return Depends(check)


def _parts(*images: str, json: tuple[str, ...] = ()) -> dict:
    """openapi_extra saying which multipart parts are image files and which hold JSON (the schema alone says
    only 'bytes' and 'text')."""
    encoding = {name: {"contentType": IMAGE_TYPES} for name in images}
    encoding |= {name: {"contentType": "application/json"} for name in json}
    return {"requestBody": {"content": {"multipart/form-data": {"encoding": encoding}}}}


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

    async def admitted(self, fn, *args):
        """fn(*args) in the thread pool, once admitted (else 503) and alone."""
        self.enter()
        try:
            return await run_in_threadpool(_locked, self.run_lock, fn, *args)
        finally:
            self.leave()


@dataclass
class _Served:
    """What the routes share: the models offered ({name: 'default' or run folder}; each is loaded once, on
    first use, and runs in `precision`), the limits and the admission gate."""

    models: dict[str, str | Path]
    precision: str
    limits: Limits
    gate: _Gate
    loaded: dict[str, Colorizer] = field(default_factory=dict)

    def colorizer(self, name: str) -> Colorizer:
        if name not in self.models:
            raise ApiError(422, f"unknown model {name!r}; available: {', '.join(self.models)}")
        if name not in self.loaded:
            self.loaded[name] = Colorizer(self.models[name], precision=self.precision)
        return self.loaded[name]


def create_app(
    models: dict[str, str | Path] | None = None, limits: Limits | None = None, precision: str = "auto"
) -> FastAPI:
    """App serving `models` ({name: 'default' or run folder}); each is loaded once, on first use, and runs in
    `precision` (auto, fp32 or bf16; see polychromify.precision)."""
    models = models or {"default": "default"}
    limits = limits or Limits()
    check_precision(precision)  # now, not at the first request (models load on first use)
    app = FastAPI(
        title="Polychromify",
        version="1",
        docs_url="/docs",
        form_limits={"max_files": 2, "max_fields": 32, "max_part_size": 64 * 1024},  # 2 = image + reference
    )
    app.add_middleware(BodyGuard, max_bytes=limits.max_body_bytes, seconds=limits.body_seconds)
    app.add_middleware(WorkerHeader)
    served = _Served(models, precision, limits, _Gate(limits.max_queue))
    _add_error_handlers(app)
    _add_info_routes(app, served)
    _add_colorize_route(app, served)
    _add_palette_route(app, served)
    _add_sample_routes(app)
    _add_page(app)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Every error is one JSON {"error": ...}."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.add_exception_handler(Exception, _internal)


async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)


async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's own: 404, 405, an unreadable form, the body limits."""
    return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)


async def _bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(x) for x in first.get("loc", []) if x != "body")
    return JSONResponse(
        {"error": f"invalid request: {where} {first.get('msg', '')}".strip()}, status_code=422
    )


async def _internal(_: Request, exc: Exception) -> JSONResponse:  # never a stack trace to the client
    return JSONResponse({"error": "internal error"}, status_code=500)


def _add_info_routes(app: FastAPI, served: _Served) -> None:
    @app.get("/health")
    def health() -> Health:
        return Health(status="ok", models=list(served.models), pid=os.getpid())

    @app.get("/api/models")
    def list_models() -> ModelList:
        out = []
        for name in served.models:
            c = served.colorizer(name)
            palette = c.model.kind == "classification"
            out.append(ModelInfo(name=name, architecture=c.model.arch["name"], hints=c.takes_hints,
                                 palette=palette, reference=c.takes_reference))  # fmt: skip
        return ModelList(models=out)


def _add_colorize_route(app: FastAPI, served: _Served) -> None:
    limits = served.limits

    @app.post(
        "/api/colorize",
        response_class=Response,
        responses={200: {"content": {"image/png": _IMAGE, "image/jpeg": _IMAGE}}} | _UPLOAD_ERRORS,
        openapi_extra=_parts("image", "reference", json=("hints",)),
        dependencies=[_filled("hints", "reference_strength", "saturation", "model", "format")],
    )
    async def colorize(
        image: Annotated[UploadFile, _UPLOAD],
        hints: Annotated[str, _hints_field(limits.max_hints)] = "[]",
        reference: Annotated[UploadFile, _UPLOAD] = None,  # optional, never null: a file or no part at all
        reference_strength: Annotated[float, Form(ge=0, le=1)] = COLOUR.reference_strength,
        saturation: Annotated[float, Form(ge=0, le=4)] = COLOUR.saturation,
        model: Annotated[str, _model_field(served)] = COLOUR.model,
        format: Annotated[Literal["png", "jpeg"], Form()] = "png",
    ) -> Response:
        parsed = _parse_hints(hints, limits.max_hints)
        c = served.colorizer(model)
        if parsed and not c.takes_hints:
            raise ApiError(422, f"model {model!r} does not take colour hints")
        if reference is not None and not c.takes_reference:
            raise ApiError(422, f"model {model!r} cannot take colours from a reference photo")
        rgb = await run_in_threadpool(_decode, await _read_upload(image, limits), limits)
        ref = None
        if reference is not None:
            data = await _read_upload(reference, limits)
            ref = await run_in_threadpool(_reference, data, limits, reference_strength)
        body = await served.gate.admitted(_colorize_bytes, c, rgb, parsed, saturation, format, ref)
        return Response(body, media_type=f"image/{format}")


def _add_palette_route(app: FastAPI, served: _Served) -> None:
    limits = served.limits

    @app.post(
        "/api/palette",
        responses=_UPLOAD_ERRORS,
        openapi_extra=_parts("image"),
        dependencies=[_filled("x", "y", "model", "k")],
    )
    async def palette(
        image: Annotated[UploadFile, _UPLOAD],
        x: Annotated[float, Form(ge=0, description="pixel column, inside the image", examples=[0, 10.5])],
        y: Annotated[float, Form(ge=0, description="pixel row, inside the image", examples=[0, 7])],
        model: Annotated[str, _model_field(served)] = COLOUR.model,
        k: Annotated[int, Form(ge=1, le=12)] = 6,
    ) -> Palette:
        c = served.colorizer(model)
        if c.model.kind != "classification":
            raise ApiError(422, f"model {model!r} cannot suggest colours")
        rgb = await run_in_threadpool(_decode, await _read_upload(image, limits), limits)
        h, w = rgb.shape[:2]
        if not (x < w and y < h):
            raise ApiError(422, f"point ({x:g},{y:g}) is outside the {w}x{h} image")
        return Palette(colors=await served.gate.admitted(_palette, c, rgb, x, y, k))


def bundled_samples() -> dict[str, tuple[Path, str]]:
    """{file name: (path, title)} of the black-and-white sample photos (assets/samples/bw), in name order; a
    title is what ATTRIBUTION.tsv says the photo shows ("field with sheep, sky"), else the file's stem."""
    tsv = SAMPLES / "ATTRIBUTION.tsv"
    rows = csv.DictReader(tsv.read_text().splitlines(), delimiter="\t") if tsv.is_file() else []
    titles = {row["file"]: row["content"] for row in rows if row.get("content")}
    return {p.name: (p, titles.get(p.name, p.stem)) for p in sorted((SAMPLES / "bw").glob("*.jpg"))}


def _add_sample_routes(app: FastAPI) -> None:
    """The bundled samples, which the page offers to try before anything is uploaded. The list is read once;
    a requested name is only looked up in it, never joined to a path."""
    samples = bundled_samples()
    listing = SampleList(
        samples=[Sample(name=n, title=title, url=f"/samples/{n}") for n, (_, title) in samples.items()]
    )
    name_field = params.Path(json_schema_extra={"enum": list(samples)} if samples else None)  # just these

    @app.get("/api/samples")
    def list_samples() -> SampleList:
        return listing

    @app.get(
        "/samples/{name}",
        response_class=Response,
        responses={
            200: {"content": {"image/jpeg": _IMAGE}, "description": "the photo"},
            404: {"model": ErrorBody, "description": "no bundled sample of that name"},
        },
    )
    def sample(name: Annotated[str, name_field]) -> Response:
        if name not in samples:
            raise ApiError(404, f"no sample named {name!r}; see /api/samples")
        path = samples[name][0]
        return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


def _add_page(app: FastAPI) -> None:
    """The one static page, and its files."""

    # the form's starting values are the command line's defaults ($saturation etc. in the file)
    defaults = {
        "saturation": f"{COLOUR.saturation:.2f}",
        "reference_strength": f"{COLOUR.reference_strength:g}",
    }
    page = string.Template((STATIC / "index.html").read_text()).substitute(defaults)

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(page)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def app_from_env() -> FastAPI:
    """The app of `serve`, built in each uvicorn worker process from the settings the command put in
    $POLYCHROMIFY_SERVE (workers are fresh processes, so each loads its own models and has its own limits)."""
    settings = json.loads(os.environ[SETTINGS_ENV])
    keep_freed_memory()  # as `polychromify` does at start (a worker process never ran its main)
    if settings["threads"]:  # the worker's share of the cores, decided by `serve` (runtime.set_thread_budget)
        set_thread_budget(settings["threads"])
    return create_app(settings["models"], Limits(**settings["limits"]), settings["precision"])


def _locked(lock: threading.Lock, fn, *args):
    with lock:
        return fn(*args)


async def _read_upload(upload: UploadFile, limits: Limits) -> bytes:
    data = await upload.read(limits.max_upload_bytes + 1)
    if len(data) > limits.max_upload_bytes:
        raise ApiError(413, f"upload larger than {limits.max_upload_bytes // (1024 * 1024)} MB")
    if not data:
        raise ApiError(422, "empty upload")
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
            415 if "not an image" in str(exc) or "unsupported" in str(exc) else 422, str(exc)
        ) from None


def _parse_hints(text: str, max_hints: int) -> list[Hint]:
    try:
        items = json.loads(text or "[]")
        if not isinstance(items, list):
            raise ValueError
        if len(items) > max_hints:
            raise ApiError(422, f"at most {max_hints} hints")
        return [parse_hint(f"{h['x']},{h['y']},{h['color']}") for h in items]
    except ApiError:
        raise
    except PolychromifyError as exc:
        raise ApiError(422, str(exc)) from None
    except (ValueError, TypeError, KeyError, RecursionError):  # RecursionError: '[' nested thousands deep
        raise ApiError(
            422, 'hints must be a JSON list like [{"x": 10, "y": 20, "color": "#RRGGBB"}]'
        ) from None


def _reference(data: bytes, limits: Limits, strength: float) -> Reference:
    try:
        return Reference.of(_decode(data, limits), strength)
    except ApiError as exc:
        raise ApiError(exc.status, f"reference photo: {exc.message}") from None
    except PolychromifyError as exc:
        raise ApiError(422, str(exc)) from None


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
        raise ApiError(422, str(exc)) from None
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
