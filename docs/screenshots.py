"""The page's screenshots in docs/ (page.png at 1280 px, page-phone.png at 390 px), taken
in Debian's Chromium on the demo's data:

    .venv/bin/python docs/screenshots.py

Needs the test tools (`make test` installs them). Look at both before committing them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

DOCS = Path(__file__).parent
PROGRAM = Path(sys.executable).with_name("billable")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "BILLABLE_DATABASE_URL": f"sqlite:///{folder}/demo.db"}
        out = subprocess.run([PROGRAM, "demo", "--users", "60"], env=env, check=True, capture_output=True,
                             text=True).stdout
        demo = json.loads(out[out.index("{"):])
        server = subprocess.Popen([PROGRAM, "serve", "--port", "8093"], env=env, stderr=subprocess.DEVNULL)
        base = "http://127.0.0.1:8093"
        try:
            for _ in range(100):
                try:
                    httpx.get(f"{base}/health/ready").raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                for name, width in (("page.png", 1280), ("page-phone.png", 390)):
                    page = browser.new_page(viewport={"width": width, "height": 900})
                    page.goto(base + "/")
                    page.fill("#client-id", demo["clientId"])
                    page.fill("#client-secret", demo["clientSecret"])
                    page.click("#sign-in button[type=submit]")
                    page.wait_for_selector("#usages tr.usage")
                    page.locator("#usages tr.usage").first.click()
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(DOCS / name), full_page=width < 1000)
                    page.close()
                browser.close()
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
