"""Decode any photo a user may have into 8-bit sRGB, safely.

Handles EXIF orientation, palette/alpha, still GIFs, CMYK, 16-bit and ICC-tagged images, refuses decompression
bombs, animations and truncated files; decodes large JPEGs at reduced size when only a small image is needed.
"""

from __future__ import annotations

import contextlib
import functools
import io
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageChops, ImageCms, ImageOps, UnidentifiedImageError

from polychromify.errors import PolychromifyError
from polychromify.runtime import threads

FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF", "GIF"}
EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
MAX_PIXELS = 120_000_000  # ~ a 13k x 9k photo; larger is refused as a likely decompression bomb
_SRGB = ImageCms.createProfile("sRGB")


class ImageError(PolychromifyError):
    """A file that cannot be read as a photo; the message says why."""


def open_image(
    src: str | Path | bytes | BinaryIO, min_size: int | None = None, keep_grey: bool = False
) -> Image.Image:
    """Decode `src` into an RGB PIL image, EXIF-rotated and converted to sRGB.

    `min_size`: the shorter side the caller needs at least; JPEGs are then decoded at a reduced
    scale (Pillow's `draft`), which is several times faster on multi-megapixel photos.
    `keep_grey`: single-channel photos stay single-channel ('L'): a third of the memory, for callers
    that only need the grey.
    Raises ImageError with a short reason for anything that is not a readable photo.
    """
    if isinstance(src, bytes):
        if not src:
            raise ImageError("empty file")
        src = io.BytesIO(src)
    elif isinstance(src, str | Path):
        path = Path(src)
        if not path.is_file():
            raise ImageError(f"{path} is a folder, not a photo" if path.is_dir() else f"no such file: {path}")
        if path.stat().st_size == 0:
            raise ImageError("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(src)
            if im.format not in FORMATS:
                raise ImageError(f"unsupported image format {im.format}")
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ImageError(f"image too large ({w}x{h} pixels, limit {MAX_PIXELS:,})")
            if getattr(im, "is_animated", False) and im.format != "MPO":  # MPO: a camera's JPEG + preview
                raise ImageError(f"animated image ({im.n_frames} frames); only still photos are supported")
            if min_size and im.format in ("JPEG", "MPO"):
                scale = min(w, h) / min_size
                if scale >= 2:
                    im.draft("RGB", (int(w / scale) + 1, int(h / scale) + 1))
            im.load()
            im = ImageOps.exif_transpose(im)
            return to_srgb(im, keep_grey)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("not an image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("image too large (decompression bomb guard)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        msg = str(exc) or type(exc).__name__
        raise ImageError(f"cannot decode image: {msg}") from None


def to_srgb(im: Image.Image, keep_grey: bool = False) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB in sRGB (or 'L' for grey ones with keep_grey); alpha is composited
    on white."""
    icc = im.info.get("icc_profile")
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if arr.max() > 255 else 255.0
        im = Image.fromarray(np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba).convert("RGB")
    if icc and im.mode in ("RGB", "CMYK"):
        with contextlib.suppress(ImageCms.PyCMSError, OSError):  # a broken profile: the pixels taken as sRGB
            im = convert_profile(im, _to_srgb(icc, im.mode), keep_grey)
    if im.mode != "RGB" and not (keep_grey and im.mode == "L"):
        im = im.convert("RGB")
    return im


@functools.lru_cache(maxsize=8)
def _to_srgb(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform:
    """The colour transform from an embedded profile to sRGB, built once per profile (perceptual intent,
    as `ImageCms.profileToProfile` by default)."""
    return ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(icc)), _SRGB, mode, "RGB")


BLOCK_PIXELS = 1 << 20  # row blocks of at least a megapixel each: smaller ones do not pay for the thread


def convert_profile(
    im: Image.Image, transform: ImageCms.ImageCmsTransform, keep_grey: bool = False
) -> Image.Image:
    """`transform` applied to every pixel, as `ImageCms.applyTransform` would, faster on large photos:
    - a photo whose pixels are all neutral (R = G = B, a grey scan saved as RGB) goes through a table of
      the transform of the 256 greys, one lookup per channel (with `keep_grey`, where the profile keeps
      greys grey, one lookup, and the result is 'L');
    - others in row blocks on the threads of the process's budget (Little CMS leaves the GIL), so a
      12-megapixel photo takes all the cores instead of one.
    The transform is a function of each pixel alone, so both give the very same pixels."""
    if im.mode == "RGB":
        red, green, blue = im.split()
        if (
            ImageChops.difference(red, green).getbbox() is None
            and ImageChops.difference(green, blue).getbbox() is None
        ):
            greys = Image.fromarray(np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2))
            table = np.asarray(ImageCms.applyTransform(greys, transform))[0]  # (256,3): each grey's sRGB
            if keep_grey and (table == table[:, :1]).all():
                return red.point(table[:, 0].tolist())
            return Image.merge("RGB", [red.point(table[:, c].tolist()) for c in range(3)])
    w, h = im.size
    blocks = min(threads(), max(1, w * h // BLOCK_PIXELS))
    if blocks == 1:
        return ImageCms.applyTransform(im, transform)
    edges = [round(h * i / blocks) for i in range(blocks + 1)]
    out = Image.new("RGB", im.size)

    def convert(i: int) -> None:
        top, bottom = edges[i], edges[i + 1]
        out.paste(ImageCms.applyTransform(im.crop((0, top, w, bottom)), transform), (0, top))

    with ThreadPoolExecutor(blocks) as pool:
        list(pool.map(convert, range(blocks)))
    return out


def to_rgb_array(image: str | Path | Image.Image | np.ndarray, keep_grey: bool = False) -> np.ndarray:
    """A path, PIL image or array -> (H,W,3) uint8 sRGB, EXIF-rotated; keep_grey: a grey one as (H,W)
    (colorizing needs only its grey levels: a 12-MP grey photo is not spread over three channels first)."""
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise PolychromifyError("arrays must be uint8 (H,W) or (H,W,3)")
        return image if image.ndim == 3 or keep_grey else np.repeat(image[..., None], 3, axis=2)
    if isinstance(image, Image.Image):
        return np.asarray(to_srgb(image, keep_grey))
    return np.asarray(open_image(image, keep_grey=keep_grey))
