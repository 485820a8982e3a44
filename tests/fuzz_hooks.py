"""Schemathesis hooks for fuzzing `serve` (loaded by bench/fuzz_api.py through SCHEMATHESIS_HOOKS).

The image parts of a generated request hold real, small images of every kind the API declares, so that
requests reach decoding, hints, the palette and the model. They always have some colour: the same strategy
fills `reference`, and a reference without colour is refused. Bytes that are not an image, or an image cut
short, are not valid images; tests/test_api_fuzz.py sends those itself.

A positive case is also made what the schema means but no JSON Schema can say (negative cases stay as they
are); see `before_call`."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import schemathesis
from hypothesis import strategies as st
from PIL import Image

FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/bmp": "BMP"}
FORMATS |= {"image/tiff": "TIFF", "image/gif": "GIF"}


def picture(seed: int, fmt: str, mode: str, w: int, h: int) -> bytes:
    """A random w x h colour picture saved as `fmt`, in `mode` (RGB, RGBA or P)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, 3), np.uint8)
    pixels[..., 0] |= 0x80  # red over 127 and blue under 128: every pixel clearly coloured
    pixels[..., 2] &= 0x7F
    im = Image.fromarray(pixels, "RGB")
    im = im.quantize(16) if mode == "P" else im.convert(mode)
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


@st.composite
def image_bytes(draw: st.DrawFn, fmt: str) -> bytes:
    modes = ["RGB"] if fmt == "JPEG" else ["RGB", "RGBA", "P"]
    size = st.integers(1, 48)
    return picture(draw(st.integers(0, 2**32 - 1)), fmt, draw(st.sampled_from(modes)), draw(size), draw(size))


for media_type, fmt in FORMATS.items():
    schemathesis.openapi.media_type(media_type, image_bytes(fmt))


def _size(value) -> tuple[int, int] | None:
    """(w, h) of an image part that holds a whole image, or None."""
    try:
        with Image.open(io.BytesIO(value if isinstance(value, bytes) else str(value).encode())) as im:
            im.load()
            return im.size
    except Exception:
        return None


def _inside(value, side: int) -> float:
    return min(float(value), side - 1)


@schemathesis.hook
def before_call(ctx, case, **kwargs) -> None:
    """A positive case, made what the schema means:
    - an image part that is not a whole image (the examples and coverage phases send "0" as a photo) becomes a
      real picture drawn from those bytes;
    - the palette's point and every hint's position are brought inside the image, whose size the request's
      other fields cannot know;
    - schemathesis 4.32's coverage case "Multipart body with custom encoding" fills the required fields that
      have no media-type strategy with "" (`_generate_multipart_body_from_custom_strategies`), a number too:
      such a field gets its schema's first example.
    Schemathesis would revalidate an edited body and, as any body holding bytes fails its validation, call it
    negative; these edits keep it positive, so the edited body is taken as the case's starting state."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return
    body = dict(case.body)  # a copy: never change a value schemathesis may share with another case
    for body_schema in case.operation.body:
        for name, schema in body_schema.form_properties.items():
            if body.get(name) == "" and schema.get("examples"):
                body[name] = schema["examples"][0]
    for name in ("image", "reference"):
        if name in body and _size(body[name]) is None:
            seed = int.from_bytes(hashlib.sha256(str(body[name]).encode()).digest()[:4], "little")
            body[name] = picture(seed, "PNG", "RGB", 1 + seed % 48, 1 + seed // 48 % 48)
    w, h = _size(body["image"]) if "image" in body else (1, 1)
    if "x" in body and "y" in body:
        body["x"], body["y"] = _inside(body["x"], w), _inside(body["y"], h)
    if isinstance(body.get("hints"), list):
        body["hints"] = [
            hint | {"x": _inside(hint["x"], w), "y": _inside(hint["y"], h)} for hint in body["hints"]
        ]
    if body != case.body:
        case.body = body
        case._record_starting_state()
