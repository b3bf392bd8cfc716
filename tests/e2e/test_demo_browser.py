"""The demo (``python -m examples.demo``) driven by a person's browser: headless Debian Chromium under Playwright.

The demo runs as a subprocess on free ports of 127.0.0.1 (app and emulator) with a fresh SQLite file; Chromium
starts with a new user-data dir and flags that keep all its traffic on this machine. The walk: sign in through the
emulator's page as alice, see her in Acme as admin, switch to Globex and see role member, refresh, call
``/api/me``, open the claims page, sign out and be signed out. Screenshots go to ``tests/e2e/artifacts/``; the one
for the docs, ``docs/images/demo.png``, is written when missing or when ``AUTHKIT_UPDATE_SCREENSHOTS=1``.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it); Playwright never downloads a browser here.
A missing Chromium or Playwright skips locally and fails in CI (``AUTHKIT_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import require_service

try:
    from playwright.sync_api import BrowserContext, Page, expect, sync_playwright
except ImportError:  # reported by require_service in the test
    sync_playwright = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).parent / "artifacts"
DOCS_SCREENSHOT = ROOT / "docs" / "images" / "demo.png"
CHROMIUM = os.environ.get("AUTHKIT_CHROMIUM", "/usr/bin/chromium")
# Headless, and nothing that talks to the network on its own: this machine reaches no outside host.
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
ALICE = "alice@example.com"
URL_LINE = re.compile(r"authkit-session demo: (http://127\.0\.0\.1:\d+)/")


class Demo:
    """``python -m examples.demo`` in a subprocess on free ports; :attr:`url` is the app's base URL."""

    def __init__(self, database: str, *extra: str) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "examples.demo",
                "--port",
                "0",
                "--emulator-port",
                "0",
                "--no-browser",
                "--database",
                database,
                *extra,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        threading.Thread(target=self._drain, daemon=True).start()
        self.url = self._wait_for_url(timeout=20)

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _wait_for_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.output.append(line)
            if match := URL_LINE.search(line):
                return match.group(1)
        self.stop()
        raise AssertionError("the demo did not print its URL:\n" + "".join(self.output))

    def stop(self) -> int:
        """Ctrl-C, as a person would; returns the exit code (killed after 10 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def rest_of_output(self) -> str:
        """Everything printed so far (after :meth:`stop`: everything)."""
        while True:
            try:
                line = self.lines.get(timeout=5 if self.process.poll() is not None else 0)
            except queue.Empty:
                break
            if line is None:
                break
            self.output.append(line)
        return "".join(self.output)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    running = Demo(f"sqlite:///{tmp_path / 'sessions.sqlite3'}")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    require_service("Playwright", sync_playwright is not None, "pip install -e '.[dev]' (the playwright package)")
    require_service(
        "Chromium",
        os.access(CHROMIUM, os.X_OK),
        f"apt-get install chromium (Debian's package, {CHROMIUM}; .ci/run installs it)",
    )
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 760},
            timeout=20_000,
        )
        context.set_default_timeout(10_000)
        try:
            yield context
        finally:
            context.close()


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


@pytest.mark.timeout(60)
def test_sign_in_switch_refresh_api_sign_out(browser: BrowserContext, demo: Demo) -> None:
    expect.set_options(timeout=10_000)
    page = browser.pages[0] if browser.pages else browser.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    status = page.locator("#status")

    # signed out: the home page offers sign-in, the API refuses
    page.goto(demo.url + "/")
    expect(status).to_have_attribute("data-state", "signed-out")
    assert browser.request.get(demo.url + "/api/me").status == 401

    # sign in through the emulator's page, choosing alice
    page.locator("#sign-in").click()
    alice = page.locator(f'a[data-user-email="{ALICE}"]')
    expect(alice).to_be_visible()
    assert "/user_management/authorize" in page.url
    alice.click()
    expect(page.locator("#user-email")).to_have_text(ALICE)
    assert page.url.startswith(demo.url + "/")
    expect(status).to_have_attribute("data-state", "signed-in")
    expect(page.locator("#org-id")).to_have_text("org_acme")
    expect(page.locator("#role")).to_have_text("admin")
    expect(page.locator("#permissions")).to_contain_text("users:manage")
    expect(page.locator("#session-id")).to_have_text(re.compile(r"^session_\w+$"))
    expect(page.locator("#token-expires")).to_contain_text("UTC")
    screenshot(page, "01-signed-in")

    # switch organization: a refresh into Globex, where alice is a member
    page.locator("#switch-org #switch-to-org_globex").click()
    expect(page.locator("#notice")).to_contain_text("Switched organization")
    expect(page.locator("#org-id")).to_have_text("org_globex")
    expect(page.locator("#org-name")).to_have_text("Globex")
    expect(page.locator("#role")).to_have_text("member")
    expect(page.locator("#permissions")).not_to_contain_text("users:manage")
    session_id = page.locator("#session-id").inner_text()

    # refresh: new tokens, same session and organization
    page.locator("#refresh-session").click()
    expect(page.locator("#notice")).to_contain_text("Session refreshed")
    expect(page.locator("#session-id")).to_have_text(session_id)
    expect(page.locator("#org-id")).to_have_text("org_globex")

    # the protected API, from the page's button and as a plain request with the browser's cookies
    page.locator("#call-api").click()
    expect(page.locator("#api-result")).to_contain_text("HTTP 200")
    expect(page.locator("#api-result")).to_contain_text('"role": "member"')
    answer = browser.request.get(demo.url + "/api/me")
    assert answer.status == 200
    me = json.loads(answer.text())
    assert (me["user"]["email"], me["organization_id"], me["role"]) == (ALICE, "org_globex", "member")
    screenshot(page, "02-switched-refreshed-api")
    if not DOCS_SCREENSHOT.exists() or os.environ.get("AUTHKIT_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=DOCS_SCREENSHOT, full_page=True)

    # the page behind with_auth(ensure_signed_in=True): the token's claims
    page.locator("#claims-link").click()
    expect(page.locator("#claims")).to_contain_text('"org_id": "org_globex"')

    # sign out: through the emulator's logout and back home, signed out
    page.goto(demo.url + "/")
    page.locator("#sign-out").click()
    expect(status).to_have_attribute("data-state", "signed-out")
    expect(page.locator("#notice")).to_have_text("Signed out.")
    expect(page.locator("#sign-in")).to_be_visible()
    assert browser.request.get(demo.url + "/api/me").status == 401
    screenshot(page, "03-signed-out")

    # signed out, the claims page sends the browser to sign in again
    page.goto(demo.url + "/account")
    expect(page.locator(f'a[data-user-email="{ALICE}"]')).to_be_visible()
    assert "/user_management/authorize" in page.url

    assert page_errors == []
    assert demo.stop() == 0
    assert "demo stopped" in demo.rest_of_output()
