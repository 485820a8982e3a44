"""The API against what the internet sends: schemathesis on the running server (bench/fuzz_api.py, seeded),
and a regression test for each thing the fuzzing and the schema's review found."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polychromify.web.app import ErrorBody, Limits, bundled_samples, create_app
from tests.conftest import REPO, make_photo
from tests.corpus import bomb_png, jpeg_bytes
from tests.test_web import SHEEP, png


def test_schemathesis_finds_nothing_on_the_running_server():
    """Every operation, positive and negative, seed 1: no 5xx; every status, content type, header and body
    as the schema declares them; other methods 405."""
    r = subprocess.run(
        [sys.executable, str(REPO / "bench" / "fuzz_api.py"), "--max-examples", "120", "--seed", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    assert out["failures"] == [] and out["errors"] == [] and out["exit_code"] == 0, out["output_tail"]
    assert out["server_errors"] == 0 and out["requests"] >= 250
    for operation in ("POST /api/colorize", "POST /api/palette"):  # generated images got through, and not
        seen = out["statuses"][operation]
        assert seen.get("200", 0) > 0 and "422" in seen, (operation, seen)
    assert {"200"} == set(out["statuses"]["GET /health"]) == set(out["statuses"]["GET /api/models"])


@pytest.fixture(scope="module")
def app():
    return create_app(limits=Limits(max_upload_bytes=1024 * 1024, max_pixels=65_536, max_hints=4))


@pytest.fixture(scope="module")
def client(app):
    return TestClient(app)


SMALL = png(make_photo(0, (40, 30)))
BOUNDARY = {"content-type": "multipart/form-data; boundary=b"}

# (method, path, request keyword arguments, status); each answer must be declared in the schema
CASES = [
    # found by schemathesis on the first schema: an empty upload was an undeclared 400; with all its checks,
    # an empty upload and a reference sent as a text field were schema-valid: the schema now says minLength 1
    # and a file part (test_the_schema_declares_what_it_refuses)
    ("POST", "/api/colorize", {"files": {"image": ("s", SMALL)}, "data": {"reference": "null"}}, 422),
    ("POST", "/api/colorize", {"files": {"image": ("s", SMALL), "reference": ("r", b"")}}, 422),
    ("POST", "/api/colorize", {"files": {"image": ("e", b"")}}, 422),
    ("POST", "/api/palette", {"files": {"image": ("e", b"")}, "data": {"x": "0", "y": "0"}}, 422),
    ("POST", "/api/colorize", {"files": {"image": ("t.jpg", b"text, not a photo")}}, 415),
    ("POST", "/api/colorize", {"files": {"image": ("c.jpg", jpeg_bytes(make_photo(1))[:-100])}}, 422),
    ("POST", "/api/colorize", {"files": {"image": ("b.png", bomb_png())}}, 413),
    ("POST", "/api/colorize", {"files": {"image": ("p.png", png(make_photo(2, (300, 300))))}}, 413),
    ("POST", "/api/colorize", {"files": {"image": ("h.bin", b"\xff" * 1_100_000)}}, 413),
    # a body over the whole limit: refused from its Content-Length (FastAPI's own limit says it in plain text)
    ("POST", "/api/colorize", {"files": {"image": ("h.bin", b"\xff" * 2_400_000)}}, 413),
    ("POST", "/api/colorize", {"content": b"--b\r\nnot a form", "headers": BOUNDARY}, 400),
    ("POST", "/api/colorize", {"content": b"image=1", "headers": {"content-type": "text/plain"}}, 422),
    ("POST", "/api/colorize", {"files": [("image", ("a", SMALL))] * 3}, 400),  # 2 files at most
    ("POST", "/api/colorize", {"files": {"image": ("s", SMALL)}, "data": {"hints": "[" * 5000}}, 422),
    ("POST", "/api/colorize", {"files": {"image": ("s", SMALL)}, "data": {"hints": "x" * 70_000}}, 400),
    ("POST", "/api/colorize", {"files": {"image": ("s", SMALL)}, "data": {"hints": "[1, 2]"}}, 422),
    (
        "POST",
        "/api/colorize",
        {"files": {"image": ("s", SMALL)}, "data": {"hints": json.dumps([{}] * 5)}},
        422,
    ),
    ("POST", "/api/colorize", {"files": {"image": ("s", SMALL)}, "data": {"saturation": "nan"}}, 422),
    ("POST", "/api/colorize", {"files": {"image": ("s", SMALL)}, "data": {"saturation": "9"}}, 422),
    ("POST", "/api/colorize", {"files": {"image": ("s", SMALL)}, "data": {"format": "gif"}}, 422),
    ("POST", "/api/colorize", {"files": {"image": ("s", SMALL)}, "data": {"model": "../x"}}, 422),
    ("POST", "/api/palette", {"files": {"image": ("s", SMALL)}, "data": {"x": "40", "y": "0"}}, 422),
    ("POST", "/api/palette", {"files": {"image": ("s", SMALL)}, "data": {"x": "inf", "y": "0"}}, 422),
    (
        "POST",
        "/api/palette",
        {"files": {"image": ("s", SMALL)}, "data": {"x": "1", "y": "1", "k": "99"}},
        422,
    ),
    # found by schemathesis: an empty field was read as absent, so format="" gave the default PNG
    ("POST", "/api/colorize", {"files": {"image": ("s", SMALL)}, "data": {"format": ""}}, 422),
    ("POST", "/api/colorize", {"files": {"image": ("s", SMALL)}, "data": {"saturation": ""}}, 422),
    ("POST", "/api/palette", {"files": {"image": ("s", SMALL)}, "data": {"x": "1", "y": "1", "k": ""}}, 422),
    ("GET", "/nowhere", {}, 404),
    ("GET", "/samples/nowhere.jpg", {}, 404),  # a sample's name is one of the bundled ones (in the schema)
    ("DELETE", "/health", {}, 405),
]


@pytest.mark.parametrize(
    ("method", "path", "kw", "status"), CASES, ids=[f"{c[3]}-{i}" for i, c in enumerate(CASES)]
)
def test_every_refusal_is_one_declared_json_error(app, client, method, path, kw, status):
    r = client.request(method, path, **kw)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json" and "x-polychromify-worker" in r.headers
    assert set(r.json()) == {"error"} and ErrorBody.model_validate(r.json()).error
    operations = app.openapi()["paths"]
    if path in operations and method.lower() in operations[path]:
        responses = operations[path][method.lower()]["responses"]
        assert str(status) in responses, (status, list(responses))
        assert responses[str(status)]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    if status == 405:
        assert r.headers["allow"] == "GET"


def test_the_schema_declares_what_each_success_is():
    spec = create_app().openapi()
    ok = {
        path: {m: set(op["responses"]["200"]["content"]) for m, op in ops.items()}
        for path, ops in spec["paths"].items()
    }
    # found by schemathesis on the first schema: the page was declared as JSON
    assert ok == {
        "/": {"get": {"text/html"}},
        "/health": {"get": {"application/json"}},
        "/api/models": {"get": {"application/json"}},
        "/api/colorize": {"post": {"image/png", "image/jpeg"}},
        "/api/palette": {"post": {"application/json"}},
        "/api/samples": {"get": {"application/json"}},
        "/samples/{name}": {"get": {"image/jpeg"}},
    }
    busy = spec["paths"]["/api/colorize"]["post"]["responses"]["503"]
    assert "Retry-After" in busy["headers"]
    body = spec["paths"]["/api/colorize"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert "image/jpeg" in body["encoding"]["image"]["contentType"]


def test_the_schema_declares_what_it_refuses():
    """What schemathesis's positive_data_acceptance found schema-valid and refused is declared now: an image
    part is a file of one byte or more, a reference is a file or absent (never null or text), hints a JSON
    list of points with a hex colour, at most max_hints, and a model one of those served."""
    spec = create_app({"default": "default", "mine": "default"}, Limits(max_hints=4)).openapi()
    schemas = spec["components"]["schemas"]
    colorize, palette = schemas["Body_colorize_api_colorize_post"], schemas["Body_palette_api_palette_post"]
    for body in (colorize, palette):
        assert body["properties"]["image"]["minLength"] == 1 and body["required"][0] == "image"
        assert body["properties"]["model"]["enum"] == ["default", "mine"]
    assert colorize["properties"]["reference"]["type"] == "string"  # no anyOf with null
    assert colorize["properties"]["reference"]["minLength"] == 1
    hints = colorize["properties"]["hints"]
    assert hints["type"] == "array" and hints["maxItems"] == 4
    assert set(hints["items"]["required"]) == {"x", "y", "color"}
    form = spec["paths"]["/api/colorize"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert form["encoding"]["hints"]["contentType"] == "application/json"
    sample = spec["paths"]["/samples/{name}"]["get"]  # a sample's name: one of the bundled ones, else 404
    assert (
        sample["parameters"][0]["schema"]["enum"] == list(bundled_samples()) and len(bundled_samples()) == 4
    )
    assert sample["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


@st.composite
def broken_image(draw: st.DrawFn) -> bytes:
    """Random bytes, or a small image cut short or with one byte changed."""
    if draw(st.booleans()):
        return draw(st.binary(min_size=1, max_size=1024))
    data = bytearray(png(make_photo(draw(st.integers(0, 99)), (draw(st.integers(1, 40)), 20))))
    if draw(st.booleans()):
        return bytes(data[: draw(st.integers(1, len(data) - 1))])
    data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=broken_image(), field=st.sampled_from(["image", "reference"]))
def test_broken_bytes_get_one_declared_error_or_a_picture(client, data, field):
    """Bytes that are not a whole image, as the photo or as the reference: 415 or 422 with one JSON error (or
    200 where a changed byte still decodes), never a server error."""
    files = {"image": ("s", SMALL)} | {field: ("b", data)}
    r = client.post("/api/colorize", files=files)
    assert r.status_code in (200, 415, 422), r.text
    if r.status_code != 200:
        assert set(r.json()) == {"error"}


def test_a_valid_photo_still_comes_back(client):
    r = client.post(
        "/api/colorize", files={"image": ("s", SMALL)}, data={"format": "jpeg", "saturation": "4"}
    )
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    r = client.post("/api/palette", files={"image": ("s", SMALL)}, data={"x": "39.5", "y": "0", "k": "12"})
    assert r.status_code == 200 and len(r.json()["colors"]) == 12
    assert client.post("/api/colorize", files={"image": ("s", SHEEP)}).status_code == 413  # over 65,536 px
