"""Access tokens for front-end code, in a real browser: the demo's ``/token`` page runs the plain-JavaScript snippet
of docs/api-auth.md (``examples/demo/static/authkit-access-token.js``) in headless Chromium. It gets the user's
access token from ``POST /auth/access-token`` and calls ``/api/me`` with it as a bearer token, the session cookie
left out; it keeps working across refreshes (the demo runs with 20 s access tokens, inside the refresh buffer, so
every token request refreshes first) and stops after sign-out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from .test_demo_browser import ALICE, ROOT, Demo, browser, screenshot

__all__ = ["browser"]  # the Chromium fixture, shared with the demo's walk

SNIPPET = ROOT / "examples" / "demo" / "static" / "authkit-access-token.js"
DOC = ROOT / "docs" / "api-auth.md"


@pytest.fixture
def short_tokens_demo(tmp_path: Path) -> Iterator[Demo]:
    running = Demo(f"sqlite:///{tmp_path / 'sessions.sqlite3'}", "--access-token-ttl", "20")
    try:
        yield running
    finally:
        running.stop()


def call(page: object) -> tuple[int, str]:
    """Run the snippet's ``fetchWithToken('/api/me')`` in the page (cookie left out): the status and the body."""
    result = page.evaluate(  # type: ignore[attr-defined]
        """async () => {
            const response = await authkit.fetchWithToken('/api/me', {credentials: 'omit'});
            return [response.status, await response.text()];
        }"""
    )
    return int(result[0]), str(result[1])


@pytest.mark.timeout(60)
def test_the_snippet_calls_a_bearer_api_across_refreshes_and_stops_after_sign_out(
    browser: BrowserContext, short_tokens_demo: Demo
) -> None:
    demo = short_tokens_demo
    expect.set_options(timeout=10_000)
    page = browser.pages[0] if browser.pages else browser.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))

    page.goto(demo.url + "/")
    page.locator("#sign-in").click()
    page.locator(f'a[data-user-email="{ALICE}"]').click()
    expect(page.locator("#user-email")).to_have_text(ALICE)

    page.goto(demo.url + "/token")
    page.locator("#call-api-with-token").click()
    expect(page.locator("#token-api-result")).to_contain_text("HTTP 200")
    expect(page.locator("#token-api-result")).to_contain_text('"id":"user_alice"')
    screenshot(page, "04-access-token-page")

    tokens = []
    for _ in range(3):  # each token request refreshes first (20 s tokens): new tokens, the API keeps answering
        status, body = call(page)
        assert status == 200 and json.loads(body)["user"]["id"] == "user_alice"  # a token carries no email
        tokens.append(page.evaluate("authkit.getAccessToken()"))
    assert len(set(tokens)) == 3, "every token request should have refreshed the session"
    # the API really took the bearer token: without it (and without the cookie) it refuses
    assert page.evaluate("fetch('/api/me', {credentials: 'omit'}).then(r => r.status)") == 401

    page.goto(demo.url + "/")
    page.locator("#sign-out").click()
    expect(page.locator("#status")).to_have_attribute("data-state", "signed-out")
    page.goto(demo.url + "/token")
    status, _ = call(page)
    assert status == 401  # no session: no token to hand out
    assert page.evaluate("authkit.getAccessToken()") is None
    assert page_errors == []


def test_the_doc_shows_the_snippet_the_demo_serves() -> None:
    """docs/api-auth.md includes the snippet file verbatim, so the doc cannot drift from the code the browser test
    runs."""
    assert SNIPPET.read_text() in DOC.read_text()


@pytest.fixture
def impersonating_demo(tmp_path: Path) -> Iterator[Demo]:
    running = Demo(f"sqlite:///{tmp_path / 'sessions.sqlite3'}", "--impersonate", ALICE)
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.timeout(60)
def test_an_impersonated_session_shows_the_banner(browser: BrowserContext, impersonating_demo: Demo) -> None:
    """The emulator makes Alice's next sign-in an impersonation (as an admin starts one from the WorkOS
    dashboard): the demo shows who is impersonating, and why; the organization names come from the WorkOS API."""
    demo = impersonating_demo
    expect.set_options(timeout=10_000)
    page = browser.pages[0] if browser.pages else browser.new_page()
    page.goto(demo.url + "/")
    expect(page.locator("#impersonation-banner")).to_have_count(0)
    page.locator("#sign-in").click()
    page.locator(f'a[data-user-email="{ALICE}"]').click()
    expect(page.locator("#user-email")).to_have_text(ALICE)
    banner = page.locator("#impersonation-banner")
    expect(banner).to_contain_text(f"You are impersonating {ALICE}")
    expect(page.locator("#impersonator-email")).to_have_text("admin@example.com")
    expect(banner).to_contain_text("Support ticket #1234")
    expect(page.locator("#org-name")).to_have_text("Acme Corp")
    expect(page.locator("#switch-org")).to_contain_text("Globex")
    screenshot(page, "05-impersonation-banner")
