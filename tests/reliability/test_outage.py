"""A WorkOS outage, end to end (issue items 7 and 8), under uvicorn (ASGI) and a threaded wsgiref (WSGI).

Item 7: with WorkOS failing, a session due for refresh costs one attempt (no retries while its access token is
still valid), then its requests are answered at once with that token, WorkOS not asked again until the
session's back-off (or the provider-wide circuit's window) passes; once WorkOS answers again, the next request
after the window refreshes. Attempts are counted at the emulator; no test measures time.

Item 8: with WorkOS unreachable (a closed TCP gate: connection refused) and the access token expired, a page that
requires sign-in answers 503 with ``Retry-After``: a page for a navigation, a JSON error for an API request; no
cookie is deleted; the log names the host that could not be reached. ``middleware_auth`` answers alike.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from authkit_core.tokens import get_token_claims

from .conftest import ALICE, AUTHENTICATE, SESSION, Gate, Site, count, expires_session, sign_in, whoami

PAGE = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Mode": "navigate"}
API = {"Accept": "application/json", "Sec-Fetch-Mode": "cors"}


@contextmanager
def gated_site(site: Site, **options: Any) -> Iterator[tuple[httpx.Client, Gate]]:
    """WorkOS behind a TCP gate (open), a fresh engine, Alice signed in with 20 s tokens (inside the refresh
    buffer: every request wants to refresh), the engine's JWKS fetched. A closed gate refuses connections at once,
    so the engine's HTTP timeout is never waited for here; it is generous (5 s) so that a loaded machine does not
    turn the step where WorkOS is back into a timeout."""
    port = int(site.emulator.base_url.rsplit(":", 1)[1])
    with Gate(port) as gate:
        site.emulator.access_token_ttl = 20
        site.mount(site.kit(api_port=gate.port, http_timeout_seconds=5.0), **options)
        with site.client() as client:
            sign_in(client)
            assert whoami(client)[1]["email"] == ALICE
            yield client, gate


def expire_access_token(site: Site, client: httpx.Client) -> None:
    """Replace the browser's session with one whose access token expired two minutes ago (refresh token live)."""
    issued = site.emulator.issue_session("user_alice")
    sid = get_token_claims(issued["access_token"])["sid"]
    issued["access_token"] = site.emulator.mint_access_token(
        "user_alice", session_id=sid, organization_id="org_acme", expires_in=-120
    )
    assert client.post("/save", json=issued).status_code == 200


def refresh_grants(site: Site) -> int:
    return site.emulator.grant_count("refresh_token")


# --- item 7 ----------------------------------------------------------------------------------------------------


def test_failing_provider_costs_one_attempt_then_requests_are_answered_at_once(site: Site) -> None:
    with gated_site(site) as (client, _gate):
        before = client.cookies[SESSION]
        grants = refresh_grants(site)
        site.emulator.inject_fault(AUTHENTICATE, method="POST", status=503, count=1000)
        count("faults")
        _, body = whoami(client)
        assert body["email"] == ALICE and body["error"] == "server_error"
        assert refresh_grants(site) == grants + 1  # one attempt: no retry while the token is still valid
        for _ in range(10):
            response, body = whoami(client)
            assert body["email"] == ALICE and body["error"] == "provider_unavailable"  # the still-valid token
            assert not expires_session(response)
        assert refresh_grants(site) == grants + 1  # and WorkOS was not asked again
        assert client.cookies[SESSION] == before
        site.emulator.clear_faults()
        site.pass_backoff()  # WorkOS answers again; the back-off passes
        _, body = whoami(client)
        assert body["email"] == ALICE and body["error"] is None
        assert client.cookies[SESSION] != before  # refreshed


def test_the_circuit_opens_for_every_session_then_a_probe_resumes_refreshes(site: Site) -> None:
    with gated_site(site) as (alice, _gate):
        sessions = [alice]
        for _ in range(5):  # the threshold: five failures in a row, one per session
            other = site.client()
            sign_in(other)
            sessions.append(other)
        site.emulator.inject_fault(AUTHENTICATE, method="POST", status=502, count=1000)
        count("faults")
        grants = refresh_grants(site)
        for client in sessions[:5]:
            whoami(client)
        assert refresh_grants(site) == grants + 5
        _, body = whoami(sessions[5])  # a session that never failed: held back by the open circuit
        assert body["email"] == ALICE and body["error"] == "provider_unavailable"
        assert refresh_grants(site) == grants + 5
        site.emulator.clear_faults()
        site.pass_backoff(30)  # the circuit's window (30 s by default): half-open, one probe goes
        _, body = whoami(sessions[5])
        assert body["email"] == ALICE and body["error"] is None
        for client in sessions[1:5]:
            client.close()
        sessions[5].close()


# --- item 8 ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["page", "api"])
def test_expired_token_while_workos_is_unreachable_answers_503(
    site: Site, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    with gated_site(site) as (client, gate):
        expire_access_token(site, client)
        before = client.cookies[SESSION]
        gate.close()
        count("faults")
        caplog.set_level(logging.INFO, logger="authkit_session")
        for _ in range(3):  # the first request tries (and fails), the next ones are held back: all 503
            response = client.get("/protected?tab=secret", headers=PAGE if kind == "page" else API)
            assert response.status_code == 503, response.text
            assert int(response.headers["Retry-After"]) >= 1
            assert not expires_session(response)
            assert "location" not in response.headers
            if kind == "page":
                assert response.headers["content-type"].startswith("text/html")
                assert "Sign-in is temporarily unavailable" in response.text and "session is kept" in response.text
            else:
                assert response.headers["content-type"] == "application/json"
                answer = response.json()
                assert answer["code"] == "sign_in_unavailable" and "temporarily unavailable" in answer["error"]
        assert client.cookies[SESSION] == before  # nothing deleted
        host = f"127.0.0.1:{gate.port}"
        logged = [r.getMessage() for r in caplog.records if r.name == "authkit_session"]
        assert any(host in line and "refresh failed" in line for line in logged), logged
        assert any(host in line and "answering 503" in line for line in logged), logged
        assert not any("?tab=secret" in line or "tab=secret" in line for line in logged)
        gate.open()
        site.pass_backoff()  # WorkOS is back: after the window the session refreshes
        response = client.get("/protected", headers=PAGE)
        assert response.status_code == 200 and response.json()["email"] == ALICE


def test_middleware_auth_answers_503_for_a_kept_session_and_redirects_without_one(site: Site) -> None:
    with gated_site(site, middleware_auth=True) as (client, gate):
        expire_access_token(site, client)
        gate.close()
        count("faults")
        page = client.get("/anything", headers=PAGE)
        assert page.status_code == 503 and "Retry-After" in page.headers
        assert "temporarily unavailable" in page.text and not expires_session(page)
        api = client.get("/api/data", headers=API)
        assert api.status_code == 503 and api.json()["code"] == "sign_in_unavailable"
        with site.client() as stranger:  # no session at all: still the sign-in redirect
            assert stranger.get("/anything", headers=PAGE).status_code == 307
        gate.open()


def test_a_valid_token_is_served_not_refused(site: Site) -> None:
    """A protected page with a still-valid token is served during the outage (503 only when it must be)."""
    with gated_site(site) as (client, gate):
        gate.close()
        for _ in range(3):
            response = client.get("/protected", headers=PAGE)
            assert response.status_code == 200 and response.json()["email"] == ALICE
        gate.open()
