"""A real browser on the web app: Debian's Chromium driven by Playwright, against the local
gateway serving the whole stack. Screenshots land in .test-output/screenshots/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

# Workflows (a job's steps, a node's provisioning) run through the local stack's Step Functions
# and worker processes: on a loaded 2-core machine that takes longer than Playwright's default
# 5 s. A bound on waiting, not on what is expected.
expect.set_options(timeout=30_000)

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / ".test-output" / "screenshots"
# Debian's package; Playwright's own browser download is not used (nor reachable in CI).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium package"
            " (apt-get install chromium)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


class Tab:
    """One browser tab on the app, collecting what went wrong in the page itself."""

    def __init__(self, page: Any, base_url: str, screenshots: Path) -> None:
        self.page = page
        self.base_url = base_url
        self.screenshots = screenshots
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = message.text
        # Refused resources (a 4xx the app expects, like the dev-wallet probe) are not errors
        # of the page; a Content-Security-Policy violation or an exception is.
        if message.type == "error" and not text.startswith("Failed to load resource"):
            self.errors.append(f"console: {text}")

    def open(self, fragment: str = "") -> None:
        self.page.goto(f"{self.base_url}/{fragment}")
        self.page.wait_for_selector("#page-title")

    def shot(self, name: str) -> Path:
        path = self.screenshots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def tab(browser: Any, gateway_url: str, clean_db: None, screenshots: Path) -> Iterator[Tab]:
    """A fresh browser context (empty localStorage) on a clean database."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    opened = Tab(page, gateway_url, screenshots)
    try:
        yield opened
        assert not opened.errors, opened.errors
    finally:
        context.close()
