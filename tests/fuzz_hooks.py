"""Schemathesis hooks for fuzzing `serve` (loaded by bench/fuzz_api.py through SCHEMATHESIS_HOOKS): what
the image parts of a generated request hold. Real, small images of every kind the API declares, so that
requests reach decoding, hints, the palette and the model; and, as application/octet-stream, random bytes
and cut or altered images, which must get 415 or 422. The other fields are schemathesis's own."""

from __future__ import annotations

import io

import numpy as np
import schemathesis
from hypothesis import strategies as st
from PIL import Image

FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/bmp": "BMP"}
FORMATS |= {"image/tiff": "TIFF", "image/gif": "GIF"}


@st.composite
def image_bytes(draw: st.DrawFn, fmt: str) -> bytes:
    """A random w x h picture (1-48 px a side, grey, colour, alpha or palette) saved as `fmt`."""
    w, h = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    modes = ["L", "RGB"] if fmt == "JPEG" else ["L", "RGB", "RGBA", "P"]
    mode = draw(st.sampled_from(modes))
    pixels = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(0, 256, (h, w, 3), np.uint8)
    im = Image.fromarray(pixels, "RGB")
    im = im.quantize(16) if mode == "P" else im.convert(mode)
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


@st.composite
def broken_bytes(draw: st.DrawFn) -> bytes:
    """Random bytes, or a small image cut short or with one byte changed."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=1024))
    data = bytearray(draw(image_bytes(draw(st.sampled_from(list(FORMATS.values()))))))
    if draw(st.booleans()):
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


for media_type, fmt in FORMATS.items():
    schemathesis.openapi.media_type(media_type, image_bytes(fmt))
schemathesis.openapi.media_type("application/octet-stream", broken_bytes())
