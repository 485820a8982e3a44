"""End to end in a real browser: Debian's headless Chromium, driven by Playwright, against `serve`."""

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from polychromify.color import rgb_to_lab
from tests.conftest import REPO, SAMPLES
from tests.server import serving

CHROMIUM = shutil.which("chromium")
SHOT = Path(os.environ.get("POLYCHROMIFY_SCREENSHOT", REPO / "out" / "web-screenshot.png"))


@pytest.fixture(scope="module")
def server():
    with serving(start_timeout=60) as (url, _):
        yield url


def launch(p):
    """Debian's Chromium, headless and quiet."""
    return p.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )


def shown_result(page) -> np.ndarray:
    """The colorized picture the page shows (#after), as RGB floats at full resolution."""
    data = page.evaluate("""async () => {
        const b = await (await fetch(document.getElementById('after').src)).blob();
        return Array.from(new Uint8Array(await b.arrayBuffer())); }""")
    return np.asarray(Image.open(io.BytesIO(bytes(data))).convert("RGB"), dtype=float)


def test_upload_hint_download_in_chromium(server, tmp_path):
    assert CHROMIUM, "Debian's chromium is required (make test installs it)"
    from playwright.sync_api import sync_playwright

    photo = SAMPLES / "bw" / "tuxpaint-data--sheep.jpg"
    size = Image.open(photo).size
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server)
        page.set_input_files("#file", str(photo))
        page.wait_for_selector('#status[data-results="1"]', timeout=60_000)

        first = shown_result(page)
        assert first.shape[:2] == (size[1], size[0])
        SHOT.parent.mkdir(parents=True, exist_ok=True)  # docs/web.md's docs/web.png (POLYCHROMIFY_SCREENSHOT)
        page.screenshot(path=str(SHOT), clip={"x": 0, "y": 0, "width": 1280, "height": 600})
        box = page.locator("#after").bounding_box()
        cx, cy = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
        page.fill("#color", "#ff00ff")
        page.mouse.click(cx, cy)
        page.wait_for_selector('#status[data-results="2"]', timeout=60_000)
        assert page.locator(".marker").count() == 1
        second = shown_result(page)
        x, y = size[0] // 2, size[1] // 2
        near = (slice(y - 5, y + 6), slice(x - 5, x + 6))
        goal = rgb_to_lab(np.array([[[255, 0, 255]]], np.uint8))[1][0, 0]

        def distance_to_goal(rgb):
            return np.linalg.norm(rgb_to_lab(rgb[near].astype(np.uint8))[1].mean((0, 1)) - goal)

        assert np.abs(second[near] - first[near]).mean() > 1  # the result changed at the hint...
        assert distance_to_goal(second) < distance_to_goal(first) - 2 / 128  # ...2+ CIELAB units towards it

        # A hint on the sky (the photo's top third) turns the sky, far from the hint too, not a blob. Green:
        # far from the sky's own hue with every shipped model (blue with `clean`, pale warm with the default).
        green = "#30b040"
        page.fill("#color", green)
        page.mouse.click(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.12)
        page.wait_for_selector('#status[data-results="3"]', timeout=60_000)
        third = shown_result(page)
        w, h = size
        far_sky = (slice(int(0.03 * h), int(0.25 * h)), slice(int(0.6 * w), int(0.95 * w)))  # 0.5-0.85 w away

        def sky_hue(rgb):
            a, b = rgb_to_lab(rgb[far_sky].astype(np.uint8))[1].reshape(-1, 2).mean(0)
            return np.degrees(np.arctan2(b, a))

        hint_hue = np.degrees(np.arctan2(*rgb_to_lab(np.array([[[48, 176, 64]]], np.uint8))[1][0, 0, ::-1]))
        before, after = abs(sky_hue(second) - hint_hue) % 360, abs(sky_hue(third) - hint_hue) % 360
        assert min(after, 360 - after) < min(before, 360 - before) - 30  # 30+ degrees towards the hint's hue

        # Colours like this photo: a blue-dominated reference turns the (unhinted) picture bluer.
        page.click("#clearHints")
        page.wait_for_selector('#status[data-results="4"]', timeout=60_000)
        plain = shown_result(page)
        rng = np.random.default_rng(0)
        blue = np.clip([50, 100, 210] * rng.uniform(0.5, 1.2, (64, 64, 1)), 0, 255).astype(np.uint8)
        Image.fromarray(blue).save(tmp_path / "blue.png")
        page.set_input_files("#reference", str(tmp_path / "blue.png"))
        page.wait_for_selector('#status[data-results="5"]', timeout=60_000)
        assert page.locator("#refBox").is_visible() and "reference" in page.text_content("#status")
        bluer = shown_result(page)
        assert (bluer[..., 2] - bluer[..., 0]).mean() > (plain[..., 2] - plain[..., 0]).mean() + 10
        with page.expect_download() as dl:
            page.click("#download")
        saved = tmp_path / "download.png"
        dl.value.save_as(saved)
        assert Image.open(saved).size == size
        browser.close()


def test_a_sample_is_one_click_from_the_first_screen(server):
    """Before anything is uploaded, the page offers the bundled samples; a click on one colorizes it as if it
    had been uploaded."""
    assert CHROMIUM, "Debian's chromium is required (make test installs it)"
    from playwright.sync_api import sync_playwright

    photo = SAMPLES / "bw" / "tuxpaint-data--sheep.jpg"
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server)
        page.wait_for_function("document.querySelectorAll('#sampleList img').length === 4")
        assert page.locator("#samples").is_visible() and not page.locator("#viewer").is_visible()
        assert "No photo at hand" in page.text_content("#samples")
        page.get_by_role("button", name="Sample photo: field with sheep, sky").click()
        page.wait_for_selector('#status[data-results="1"]', timeout=60_000)
        assert page.locator("#viewer").is_visible() and not page.locator("#download.disabled").count()
        result, grey = shown_result(page), np.asarray(Image.open(photo).convert("L"), dtype=float)
        assert result.shape[:2] == grey.shape  # that photo, at full resolution...
        assert np.abs(result.mean(2) - grey).mean() < 10  # ...with its own lightness...
        assert np.ptp(result, axis=2).mean() > 3  # ...in colour
        browser.close()
