import numpy as np
import pytest
from PIL import Image

from polychromify.data.images import ImageError, open_image
from tests.conftest import make_photo
from tests.corpus import bad_files, exif_orientations, exif_rotated, odd_but_valid, odd_shapes, wide_gamut_icc


def test_bad_files_raise_image_error_with_reason(tmp_path):
    expected = bad_files(tmp_path)
    for name, word in expected.items():
        if name == "grey.jpg":
            continue  # decodes fine; prepare rejects it for having no colour
        with pytest.raises(ImageError, match=word):
            open_image(tmp_path / name)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        open_image(tmp_path / "nope.jpg")


def test_unusual_encodings_decode_to_rgb(tmp_path):
    for name in odd_but_valid(tmp_path):
        im = open_image(tmp_path / name)
        assert im.mode == "RGB" and im.size == (40, 30), name


def test_keep_grey_leaves_grey_photos_single_channel(tmp_path):
    Image.fromarray(np.asarray(make_photo(1, (40, 30)))).convert("L").save(tmp_path / "grey.jpg")
    make_photo(2, (40, 30)).save(tmp_path / "colour.jpg")
    grey = open_image(tmp_path / "grey.jpg", keep_grey=True)
    assert grey.mode == "L" and open_image(tmp_path / "grey.jpg").mode == "RGB"
    assert np.array_equal(np.asarray(grey), np.asarray(open_image(tmp_path / "grey.jpg"))[..., 0])
    assert open_image(tmp_path / "colour.jpg", keep_grey=True).mode == "RGB"


def test_sixteen_bit_scaled_not_clipped(tmp_path):
    odd_but_valid(tmp_path)
    arr = np.asarray(open_image(tmp_path / "grey16.png"))
    assert 100 < arr.mean() < 200  # a naive 16->8 bit cast would clip everything to 255


def test_exif_orientation_applied(tmp_path):
    upright = exif_rotated(tmp_path / "rot.jpg")
    im = open_image(tmp_path / "rot.jpg")
    assert im.size == (20, 40)
    diff = np.abs(np.asarray(im, float) - np.asarray(upright, float)).mean()
    assert diff < 6


def test_alpha_composited_on_white(tmp_path):
    Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    assert np.asarray(open_image(tmp_path / "clear.png")).min() == 255


def test_icc_profile_converted_to_srgb(tmp_path):
    # A photo tagged with a non-sRGB profile must be converted, not taken as sRGB.
    im = make_photo(3, (16, 16))
    im.save(tmp_path / "srgb.png")
    im.save(tmp_path / "tagged.png", icc_profile=wide_gamut_icc())
    plain = np.asarray(open_image(tmp_path / "srgb.png"), float)
    tagged = np.asarray(open_image(tmp_path / "tagged.png"), float)
    assert np.abs(plain - tagged).mean() > 1


def test_draft_decodes_big_jpeg_smaller(tmp_path):
    make_photo(1, (1600, 1200)).save(tmp_path / "big.jpg")
    assert open_image(tmp_path / "big.jpg").size == (1600, 1200)
    small = open_image(tmp_path / "big.jpg", min_size=128)
    assert 128 <= min(small.size) < 1200


def test_every_exif_orientation_is_made_upright(tmp_path):
    for name, upright in exif_orientations(tmp_path).items():
        got = open_image(tmp_path / name)
        assert got.size == upright.size, name
        assert np.array_equal(np.asarray(got), np.asarray(upright.convert("RGB"))), name


def test_extreme_shapes_and_names_decode(tmp_path):
    for name, size in odd_shapes(tmp_path).items():
        assert open_image(tmp_path / name).size == size, name
