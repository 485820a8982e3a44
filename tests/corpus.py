"""Generated hostile and unusual image files, shared by the tests of every entry point."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import make_photo


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def bomb_png(width: int = 60_000, height: int = 60_000) -> bytes:
    """A tiny PNG whose header declares a huge image."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def jpeg_bytes(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", **kw)
    return buf.getvalue()


def bad_files(folder: Path) -> dict[str, str]:
    """Write files that must be skipped; returns {file name: word expected in the reason}."""
    folder.mkdir(parents=True, exist_ok=True)
    good = jpeg_bytes(make_photo(99, (64, 64)))
    png = io.BytesIO()
    make_photo(98, (64, 64)).save(png, "PNG")
    files = {
        "zero.jpg": (b"", "empty"),
        "truncated.jpg": (good[: len(good) // 2], "decode"),
        "truncated.png": (png.getvalue()[: len(png.getvalue()) // 2], "decode"),
        "notes.jpg": (b"this is text, not a photo\n" * 20, "not an image"),
        "readme.txt": (b"hello", "not an image"),
        "bomb.png": (bomb_png(), "too large"),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    frames = [make_photo(i, (30, 20)) for i in range(3)]
    for name in ("animated.gif", "animated.webp"):
        frames[0].save(folder / name, save_all=True, append_images=frames[1:], duration=100)
        files[name] = (b"", "animated")
    grey = Image.fromarray(np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (64, 1)), "L").convert("RGB")
    grey.save(folder / "grey.jpg")
    return {name: word for name, (_, word) in files.items()} | {"grey.jpg": "no colour"}


def odd_but_valid(folder: Path) -> list[str]:
    """Unusual encodings of real colour content that must all decode: returns the file names."""
    folder.mkdir(parents=True, exist_ok=True)
    base = make_photo(7, (40, 30))
    base.quantize(16).save(folder / "palette.png")
    rgba = base.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(folder / "alpha.png")
    p = base.quantize(16)
    p.info["transparency"] = 0
    p.save(folder / "palette_transparent.png", transparency=0)
    base.convert("CMYK").save(folder / "cmyk.jpg")
    base.save(folder / "image.webp")
    base.save(folder / "image.bmp")
    base.save(folder / "image.tiff")
    arr16 = (np.asarray(base.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(arr16).save(folder / "grey16.png")  # 16-bit grey: decodes, but has no colour
    return [
        "palette.png",
        "alpha.png",
        "palette_transparent.png",
        "cmyk.jpg",
        "image.webp",
        "image.bmp",
        "image.tiff",
        "grey16.png",
    ]


def exif_rotated(path: Path, orientation: int = 6) -> Image.Image:
    """Save a 40x20 photo whose EXIF says 'rotate'; returns the upright image expected after decoding."""
    im = make_photo(5, (40, 20))
    exif = Image.Exif()
    exif[0x0112] = orientation
    im.save(path, exif=exif.tobytes(), quality=95)
    return im.transpose(Image.Transpose.ROTATE_270) if orientation == 6 else im


def wide_gamut_icc() -> bytes:
    """An RGB ICC profile that is not sRGB: the sRGB profile with its red primary moved."""
    from PIL import ImageCms

    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack(">I", data[128:132])
    for i in range(count):
        sig, offset, _ = struct.unpack(">4sII", data[132 + 12 * i : 144 + 12 * i])
        if sig == b"rXYZ":  # XYZType: 'XYZ ' + 4 reserved + three s15Fixed16 numbers
            x, y, z = (v / 65536 for v in struct.unpack(">iii", data[offset + 8 : offset + 20]))
            data[offset + 8 : offset + 20] = struct.pack(
                ">iii", *(int(v * 65536) for v in (x * 1.3, y * 0.7, z))
            )
    return bytes(data)


def adobe_rgb_icc() -> bytes:
    """A wide-gamut RGB profile as photos carry them: the sRGB profile with Adobe RGB (1998)'s primaries
    (their D50-adapted XYZ, which add up to the same white: greys stay grey)."""
    from PIL import ImageCms

    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    primaries = {
        b"rXYZ": (0.6097, 0.3111, 0.0195),
        b"gXYZ": (0.2053, 0.6257, 0.0609),
        b"bXYZ": (0.1492, 0.0632, 0.7446),
    }
    (count,) = struct.unpack(">I", data[128:132])
    for i in range(count):
        sig, offset, _ = struct.unpack(">4sII", data[132 + 12 * i : 144 + 12 * i])
        if sig in primaries:
            data[offset + 8 : offset + 20] = struct.pack(">iii", *(round(v * 65536) for v in primaries[sig]))
    return bytes(data)


def odd_shapes(folder: Path) -> dict[str, tuple[int, int]]:
    """Valid colour images of extreme shapes and names: {file name: (width, height)}. The names include one
    that is not UTF-8 (as Linux allows), returned as Python decodes it (with a surrogate escape)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    shapes = {"one.png": (1, 1), "row.png": (50, 1), "column.jpg": (1, 50), "still.gif": (40, 30)}
    for name, (w, h) in shapes.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / name)
    latin1 = os.fsdecode(b"caf\xe9.jpg")  # 'café' in Latin-1: not valid UTF-8
    make_photo(4, (40, 30)).save(folder / latin1)
    return shapes | {latin1: (40, 30)}


# EXIF orientation -> the transform that makes the stored pixels upright (EXIF 2.3, tag 0x0112)
ORIENTATIONS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
    0: None,  # out-of-range values are ignored
    9: None,
    65535: None,
}


def exif_orientations(folder: Path) -> dict[str, Image.Image]:
    """A lossless PNG per EXIF orientation value, valid or not: {file name: expected upright image}."""
    folder.mkdir(parents=True, exist_ok=True)
    im = make_photo(6, (40, 20))
    expected = {}
    for value, transform in ORIENTATIONS.items():
        exif = Image.Exif()
        exif[0x0112] = value
        name = f"orientation{value}.png"
        im.save(folder / name, exif=exif.tobytes())
        expected[name] = im if transform is None else im.transpose(transform)
    return expected
