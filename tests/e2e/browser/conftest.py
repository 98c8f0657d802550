"""Real headless Chromium (Debian's `chromium`, driven by Playwright for Python) against the app
served over HTTP by a real WSGI server in this process, on SQLite and PostgreSQL.

`.ci/run` installs chromium with apt when it is missing. Without it (or without Playwright) these
tests skip with the reason, except with CI=true, where they fail instead. Screenshots of every
page a test visits go to test-artifacts/screenshots/ (kept by CI as artefacts).
"""
from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import IN_CI
from tests.integration.web.conftest import PASSWORD, add_accounts
from tests.world import World
from web.app import create_app

CHROMIUM = os.environ.get("PORTFOLIO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"


def _unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        return f"Playwright for Python is not installed: {error}"
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM} (apt install chromium)"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _unavailable()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires the browser tests: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


class Site:
    """The app served on a free port, with a World and its accounts; `now` moves the app's clock."""

    def __init__(self, db, files):
        self.world = World(db, files)
        self.accounts = add_accounts(self.world)
        self.app = create_app({"DATABASE": db, "FILES": files, "SECRET_KEY": "browser-test",
                               "SESSION_COOKIE_SECURE": False})
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def at(self, moment) -> None:
        self.app.config["NOW"] = moment

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture
def site(db, files):
    running = Site(db, files)
    yield running
    running.stop()


class Person:
    """One browser context (its own cookies) signed in as one account."""

    def __init__(self, browser, site: Site, who: str, test_name: str):
        self.context = browser.new_context(locale="zh-TW", timezone_id="America/Los_Angeles")
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.page.on("dialog", lambda dialog: dialog.accept())  # "are you sure?" → yes
        self.site, self.who, self.test_name = site, who, test_name
        self.shots = 0
        self.page.goto(site.url + "/login")
        self.page.fill("input[name=username]", f"{who}.{site.world.code}")
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()
        assert "/login" not in self.page.url, self.page.content()

    def go(self, path: str):
        self.page.goto(self.site.url + path)
        return self.page

    def shot(self, name: str) -> Path:
        self.shots += 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^\w.-]+", "_", f"{self.test_name}-{self.shots:02d}-{self.who}-{name}")
        path = SCREENSHOTS / f"{safe}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def person(browser, site, request):
    opened = []

    def sign_in(who: str) -> Person:
        one = Person(browser, site, who, request.node.name)
        opened.append(one)
        return one
    yield sign_in
    for one in opened:
        one.close()
