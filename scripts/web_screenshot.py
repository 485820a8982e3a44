"""Redraw docs/web.png: the page served by `polychromify serve` (the shipped default) after one upload.

    python scripts/web_screenshot.py [PHOTO] [OUT]
    (defaults: samples/bw/tuxpaint-data--sheep.jpg, docs/web.png)

Needs Debian's chromium and Playwright (the test set-up installs both); nothing is downloaded.
"""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request

from playwright.sync_api import sync_playwright

photo = sys.argv[1] if len(sys.argv) > 1 else "samples/bw/tuxpaint-data--sheep.jpg"
out = sys.argv[2] if len(sys.argv) > 2 else "docs/web.png"
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = subprocess.Popen([sys.executable, "-m", "polychromify", "serve", "--port", str(port)])
url = f"http://127.0.0.1:{port}"
try:
    for _ in range(120):
        try:
            urllib.request.urlopen(url + "/health", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 600})
        page.goto(url)
        page.set_input_files("#file", photo)
        page.wait_for_selector('#status[data-results="1"]', timeout=60_000)
        page.screenshot(path=out)
        browser.close()
finally:
    server.terminate()
    server.wait(timeout=10)
print(f"wrote {out}")
