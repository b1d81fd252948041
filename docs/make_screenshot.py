"""Regenerate docs/screenshot.png: the overview after 90 days of sandbox history.

    python docs/make_screenshot.py

Runs the app in sandbox mode on a temporary database, backfills history with
``flask sandbox history``, logs in through the sandbox consent page in
headless Chromium and photographs the top of the overview, 1200 px wide.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def main(days: int = 90, out: Path = ROOT / "docs" / "screenshot.png") -> None:
    folder = Path(tempfile.mkdtemp(prefix="screenshot-"))
    app = create_app({
        "SECRET_KEY": "screenshot-" + "x" * 40,
        "DATABASE_URL": f"sqlite:///{folder / 'dashboard.sqlite3'}",
        "SANDBOX_DB": str(folder / "sandbox.sqlite3"),
        "TIKTOK_CLIENT_KEY": None, "TIKTOK_AUTH_URL": None, "TIKTOK_API_BASE": None,
        "QUEUE_PATH": str(folder / "queue.sqlite3"), "MEDIA_PATH": str(folder / "media"),
    })
    result = app.test_cli_runner().invoke(args=["sandbox", "history", "--days", str(days)])
    print(result.output.strip())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 1300}, locale="en-US")
        page.goto(base + "/")
        page.get_by_role("link", name="Log in with TikTok").click()
        page.get_by_role("button", name="Authorize").click()
        page.wait_for_url(base + "/")
        page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": 1200, "height": 1300})
        browser.close()
    server.shutdown()
    print(f"{out}: {out.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
