import io
import json
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from polychromify.checkpoint import ASSETS
from polychromify.color import rgb_to_lab
from polychromify.config import ColourOptions
from polychromify.web import app as web
from polychromify.web.app import Limits, create_app
from tests.conftest import SAMPLES, make_photo
from tests.corpus import bad_files


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(limits=Limits(max_upload_bytes=2_000_000, max_pixels=3_000_000)))


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


SHEEP = (SAMPLES / "bw" / "tuxpaint-data--sheep.jpg").read_bytes()


def test_health_models_and_openapi(client):
    assert client.get("/health").json()["status"] == "ok"
    models = client.get("/api/models").json()["models"]
    assert models[0]["name"] == "default" and models[0]["hints"] is True
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/colorize", "/api/models", "/health", "/api/palette"} <= set(paths)
    page = client.get("/")
    assert page.status_code == 200 and "Polychromify" in page.text


@pytest.mark.parametrize("saturation, strength", [(1.0, 0.75), (1.5, 0.5)])
def test_the_page_starts_from_the_command_lines_defaults(monkeypatch, saturation, strength):
    monkeypatch.setattr(
        "polychromify.web.app.COLOUR", ColourOptions(saturation=saturation, reference_strength=strength)
    )
    page = TestClient(create_app()).get("/").text
    slider = dict(re.findall(r'id="(saturation|refStrength)"[^>]*value="([^"]*)"', page))
    assert float(slider["saturation"]) == saturation and float(slider["refStrength"]) == strength
    assert "$" not in page


def test_colorize_full_resolution_png_and_jpeg(client):
    r = client.post("/api/colorize", files={"image": ("x.bin", SHEEP)})  # the name is irrelevant
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    out = Image.open(io.BytesIO(r.content))
    assert out.size == Image.open(io.BytesIO(SHEEP)).size and out.mode == "RGB"
    r = client.post("/api/colorize", files={"image": ("s.jpg", SHEEP)}, data={"format": "jpeg"})
    assert Image.open(io.BytesIO(r.content)).format == "JPEG"


def test_hints_change_colours_near_the_hint(client):
    w, h = Image.open(io.BytesIO(SHEEP)).size
    x, y = w // 2, h // 2
    plain = client.post("/api/colorize", files={"image": ("s.jpg", SHEEP)}).content
    hinted = client.post(
        "/api/colorize",
        files={"image": ("s.jpg", SHEEP)},
        data={"hints": json.dumps([{"x": x, "y": y, "color": "#ff00ff"}])},
    ).content

    def ab_near(data):
        _, ab = rgb_to_lab(np.asarray(Image.open(io.BytesIO(data))))
        return ab[y - 3 : y + 4, x - 3 : x + 4].mean((0, 1))

    _, goal = rgb_to_lab(np.array([[[255, 0, 255]]], np.uint8))
    assert (
        np.linalg.norm(ab_near(hinted) - goal[0, 0]) < np.linalg.norm(ab_near(plain) - goal[0, 0]) - 2 / 128
    )  # at least 2 CIELAB units closer


def test_palette(client):
    r = client.post("/api/palette", files={"image": ("s.jpg", SHEEP)}, data={"x": 10, "y": 10, "k": 5})
    colors = r.json()["colors"]
    assert len(colors) == 5 and all(c.startswith("#") and len(c) == 7 for c in colors)


def test_every_bad_request_is_one_json_error(client, tmp_path):
    bad = bad_files(tmp_path)
    cases = []
    for name in sorted(set(bad) - {"grey.jpg"}):  # grey is a valid upload
        cases.append(({"image": (name, (tmp_path / name).read_bytes())}, {}))
    cases += [
        ({"image": ("s.jpg", SHEEP)}, {"hints": "not json"}),
        ({"image": ("s.jpg", SHEEP)}, {"hints": json.dumps([{"x": 1}])}),
        ({"image": ("s.jpg", SHEEP)}, {"hints": json.dumps([{"x": 99999, "y": 1, "color": "#ff0000"}])}),
        ({"image": ("s.jpg", SHEEP)}, {"saturation": "-1"}),
        ({"image": ("s.jpg", SHEEP)}, {"saturation": "lots"}),
        ({"image": ("s.jpg", SHEEP)}, {"model": "../../etc/passwd"}),
        ({"image": ("s.jpg", SHEEP)}, {"format": "gif"}),
        ({"image": ("big.png", png(make_photo(1, (2000, 2000))))}, {}),  # over max_pixels
        ({"image": ("huge.bin", b"\xff" * 2_100_000)}, {}),  # over max_upload_bytes
        ({}, {}),  # no image at all
    ]
    assert set(bad) >= {"zero.jpg"}
    for files, data in cases:
        r = client.post("/api/colorize", files=files or None, data=data)
        assert 400 <= r.status_code < 500, (files.keys(), data, r.status_code)
        body = r.json()
        assert set(body) == {"error"} and "Traceback" not in body["error"], body
    big = {"image": ("big.png", png(make_photo(1, (2000, 2000))))}
    assert client.post("/api/colorize", files=big).status_code == 413


def test_busy_server_answers_503_with_retry_after():
    app = create_app(limits=Limits(max_queue=0))
    r = TestClient(app).post("/api/colorize", files={"image": ("s.jpg", SHEEP)})
    assert r.status_code == 503 and r.headers["retry-after"] == "2" and "busy" in r.json()["error"]


def test_bf16_server_gives_the_same_picture_within_a_few_levels(client):
    from polychromify.errors import PolychromifyError

    fast = TestClient(create_app(precision="bf16"))
    a, b = (
        np.asarray(Image.open(io.BytesIO(c.post("/api/colorize", files={"image": ("s.jpg", SHEEP)}).content)))
        for c in (client, fast)
    )
    assert a.shape == b.shape and np.abs(a.astype(int) - b).mean() < 2
    with pytest.raises(PolychromifyError, match="precision"):
        create_app(precision="fp8")


def test_the_bundled_samples_are_listed_and_served(client):
    """The page's first screen offers them (GET /api/samples); each is served as the JPEG it is, from the
    package's own folder (the repository's samples/ is a link to it), so that a pip-installed `serve` has
    them too."""
    assert web.SAMPLES.parent == ASSETS and web.SAMPLES.resolve() == SAMPLES.resolve()
    samples = client.get("/api/samples").json()["samples"]
    assert [s["name"] for s in samples] == sorted(p.name for p in (SAMPLES / "bw").glob("*.jpg"))
    assert len(samples) == 4 and any(s["title"] == "field with sheep, sky" for s in samples)
    for s in samples:
        r = client.get(s["url"])
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert r.content == (SAMPLES / "bw" / s["name"]).read_bytes()
        assert Image.open(io.BytesIO(r.content)).format == "JPEG"


@pytest.mark.parametrize(
    "path", ["/samples/nope.jpg", "/samples/..%2FATTRIBUTION.tsv", "/samples/%2e%2e", "/samples/../x"]
)
def test_an_unknown_or_path_like_sample_name_is_one_json_404(client, path):
    r = client.get(path)
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    assert set(r.json()) == {"error"}
