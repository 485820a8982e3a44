"""Property tests: the decode path and the hints parser never fail with anything but a clear error."""

import io

from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from polychromify.data.images import ImageError, open_image
from polychromify.errors import PolychromifyError
from polychromify.inference import Hint, parse_hint
from tests.conftest import make_photo

_buf = io.BytesIO()
make_photo(0, (16, 12)).save(_buf, "PNG")
PNG = _buf.getvalue()
_buf = io.BytesIO()
make_photo(0, (16, 12)).save(_buf, "JPEG")
JPEG = _buf.getvalue()


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_decode_or_clear_error(data):
    try:
        im = open_image(data)
    except ImageError as exc:
        assert str(exc)
    else:
        assert im.mode == "RGB"


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([PNG, JPEG]), st.integers(0, 4000), st.integers(0, 255), st.integers(1, 8))
@example(JPEG, 1477, 1, 1)  # seen in CI: the frame's height byte (1477 % 657), 12 -> 268 rows, nothing cut
def test_mutated_images_decode_or_clear_error(base, pos, value, cut):
    data = bytearray(base)
    data[pos % len(data)] = value
    data = bytes(data[: max(1, len(data) - cut * (pos % 7))])
    try:
        im = open_image(data)
    except ImageError:
        return
    # a mutation of the header's size bytes is a valid file of another size: the size the file itself says
    assert im.mode == "RGB" and im.size == Image.open(io.BytesIO(data)).size


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_hint_parser_never_crashes(text):
    try:
        hint = parse_hint(text)
    except PolychromifyError as exc:
        assert "X,Y,#RRGGBB" in str(exc)
    else:
        assert isinstance(hint, Hint) and len(hint.color) == 7
        a, b = hint.ab
        assert -1 <= a <= 1 and -1 <= b <= 1


@given(st.floats(0, 5000), st.floats(0, 5000), st.from_regex(r"#[0-9a-fA-F]{6}", fullmatch=True))
def test_valid_hints_round_trip(x, y, color):
    h = parse_hint(f"{x},{y},{color}")
    assert h.color == color.lower() and abs(h.x - x) <= 1e-6 * max(1, x)
