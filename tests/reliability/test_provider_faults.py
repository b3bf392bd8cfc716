"""Provider faults, end to end: the WorkOS emulator misbehaves while real browsers use real servers.

Each fault is injected on the refresh grant of a signed-in session (ASGI under uvicorn and WSGI under a threaded
``wsgiref``, cookie store). For each one the suite checks the classification the user ends up with:

* transient (5xx, 429, timeouts, dropped or refused connections, bodies that do not parse): the session
  survives. A still-valid access token keeps serving the user (the refresh is tried once, without retries); an
  expired one makes that request signed out and a protected page answer 503 (never a redirect to an unreachable
  sign-in, never an expired cookie). The session is then backed off (the circuit breaker): the next requests are
  answered at once without calling WorkOS, and the first request after the back-off refreshes and signs in;
* a fault the retry absorbs (one failed attempt) is invisible;
* terminal (``invalid_grant``, an authentication step required, a 4xx that is not WorkOS's JSON): the session
  ends cleanly: cookie expired, ``reason`` set, a protected page redirects to sign-in;
* and never does an exception reach the server as a 500.

Also here: a grant WorkOS processed whose answer was lost (every attempt timed out) loses nothing, because the
next attempt carries the same ``Idempotency-Key`` and is answered from WorkOS's replay store.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from authkit_core.storage.memory import MemorySessionStore
from authkit_core.tokens import get_token_claims

from .conftest import (
    ALICE,
    AUTHENTICATE,
    SESSION,
    Gate,
    Site,
    count,
    expires_session,
    set_cookies,
    sign_in,
    wait_until,
    whoami,
)

HTML = "<!doctype html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"

#: ``(name, inject_fault keyword arguments, the engine's error code)`` of every transient fault.
TRANSIENT: list[tuple[str, dict[str, Any], str]] = [
    ("500", {"status": 500}, "server_error"),
    ("502", {"status": 502}, "server_error"),
    ("503", {"status": 503}, "server_error"),
    ("504", {"status": 504}, "server_error"),
    ("429 retry-after 1", {"status": 429, "headers": {"Retry-After": "1"}}, "rate_limit_exceeded"),
    ("429 retry-after 1h", {"status": 429, "headers": {"Retry-After": "3600"}}, "rate_limit_exceeded"),
    ("timeout", {"status": 503, "delay": 1.5}, "timeout"),
    ("dropped connection", {"drop_connection": True}, "network_error"),
    ("malformed JSON", {"status": 200, "raw_body": '{"access_token": "eyJ", "refresh_'}, "invalid_response"),
    ("HTML page 200", {"status": 200, "raw_body": HTML}, "invalid_response"),
    ("HTML page 502", {"status": 502, "raw_body": HTML}, "server_error"),
    ("empty 200", {"status": 200, "raw_body": ""}, "invalid_response"),
    ("JSON without tokens", {"status": 200, "body": {"unexpected": True}}, "invalid_response"),
    # WorkOS answers every error in JSON: an HTML 4xx is a proxy's or firewall's page and keeps the session
    ("HTML page 403", {"status": 403, "raw_body": "<html><body>Request blocked</body></html>"}, "http_403"),
    ("HTML page 404", {"status": 404, "raw_body": "<html><body>Not Found</body></html>"}, "http_404"),
    (
        "JSON list",
        {"status": 200, "raw_body": "[1, 2, 3]", "headers": {"Content-Type": "application/json"}},
        "invalid_response",
    ),
]


@contextmanager
def signed_in_site(site: Site, **overrides: Any) -> Iterator[httpx.Client]:
    """Mount a fresh engine (``http_timeout_seconds=0.5``) and sign Alice in with 20 s tokens, inside the 30 s
    refresh buffer: every request refreshes."""
    site.emulator.access_token_ttl = 20
    site.mount(site.kit(**{"http_timeout_seconds": 0.5, **overrides}))
    with site.client() as client:
        sign_in(client)
        yield client


def expire_access_token(site: Site, client: httpx.Client) -> str:
    """Replace the browser's session with one whose access token expired two minutes ago (its refresh token is
    live); returns the session id."""
    issued = site.emulator.issue_session("user_alice")
    sid = get_token_claims(issued["access_token"])["sid"]
    issued["access_token"] = site.emulator.mint_access_token(
        "user_alice", session_id=sid, organization_id="org_acme", expires_in=-120
    )
    saved = client.post("/save", json=issued)
    assert saved.status_code == 200 and saved.json()["email"] == ALICE
    return str(sid)


@pytest.mark.parametrize(("name", "fault", "code"), TRANSIENT, ids=[t[0] for t in TRANSIENT])
def test_transient_fault_with_a_valid_token_keeps_the_user_signed_in(
    site: Site, name: str, fault: dict[str, Any], code: str
) -> None:
    with signed_in_site(site) as client:
        before = client.cookies[SESSION]
        grants = site.emulator.grant_count("refresh_token")
        site.emulator.inject_fault(AUTHENTICATE, method="POST", count=2, **fault)
        count("faults")
        response, body = whoami(client)
        assert body["email"] == ALICE  # served with the still-valid access token
        assert body["error"] == code
        assert site.emulator.grant_count("refresh_token") == grants + 1  # one attempt: no retry for a valid token
        assert not expires_session(response)
        assert client.cookies[SESSION] == before
        site.emulator.clear_faults()
        response, body = whoami(client)  # backed off: served at once, WorkOS not asked
        assert body["email"] == ALICE and body["error"] == "provider_unavailable"
        assert site.emulator.grant_count("refresh_token") == grants + 1
        site.pass_backoff()
        response, body = whoami(client)
        assert body["email"] == ALICE and body["error"] is None
        assert set_cookies(response)[SESSION]["value"] != before  # refreshed and written back


@pytest.mark.parametrize(("name", "fault", "code"), TRANSIENT, ids=[t[0] for t in TRANSIENT])
def test_transient_fault_with_an_expired_token_keeps_the_session(
    site: Site, name: str, fault: dict[str, Any], code: str
) -> None:
    with signed_in_site(site) as client:
        expire_access_token(site, client)
        site.emulator.inject_fault(AUTHENTICATE, method="POST", count=4, **fault)
        count("faults", 2)
        response, body = whoami(client)
        assert body["email"] is None and body["error"] == code
        assert not expires_session(response)
        protected = client.get("/protected")  # a protected page answers 503: sign-in is unreachable too
        assert protected.status_code == 503 and "Retry-After" in protected.headers
        assert not expires_session(protected)
        site.emulator.clear_faults()
        site.pass_backoff()
        response, body = whoami(client)
        assert body["email"] == ALICE and body["error"] is None
        assert SESSION in set_cookies(response)


@pytest.mark.parametrize("fault", [{"status": 503}, {"drop_connection": True}, {"status": 429}])
def test_one_failed_attempt_is_absorbed_by_the_retry(site: Site, fault: dict[str, Any]) -> None:
    with signed_in_site(site) as client:
        expire_access_token(site, client)
        site.emulator.inject_fault(AUTHENTICATE, method="POST", count=1, **fault)
        count("faults")
        response, body = whoami(client)
        assert body["email"] == ALICE and body["error"] is None
        assert SESSION in set_cookies(response)


def test_slow_provider_is_only_slower(site: Site) -> None:
    with signed_in_site(site, http_timeout_seconds=5) as client:
        expire_access_token(site, client)
        site.emulator.inject_fault(AUTHENTICATE, method="POST", delay=0.8)
        count("faults")
        started = time.monotonic()
        _response, body = whoami(client)
        assert time.monotonic() - started >= 0.8
        assert body["email"] == ALICE and body["error"] is None


def test_unexpected_fields_are_ignored(site: Site) -> None:
    with signed_in_site(site) as client:
        answer = site.emulator.issue_session("user_alice")
        answer["unexpected"] = {"nested": [1, 2, {"x": None}]}
        answer["user"]["favourite_colour"] = "teal"
        answer["authentication_method"] = "Quantum"
        sid = get_token_claims(answer["access_token"])["sid"]
        site.emulator.inject_fault(AUTHENTICATE, method="POST", status=200, body=answer)
        count("faults")
        _response, body = whoami(client)
        assert body["email"] == ALICE and body["error"] is None and body["sid"] == sid
        _, body = whoami(client)  # its refresh token works in turn
        assert body["email"] == ALICE and body["error"] is None


def test_connection_refused_then_restored(site: Site) -> None:
    port = int(site.emulator.base_url.rsplit(":", 1)[1])
    with Gate(port) as gate, signed_in_site(site, api_port=gate.port) as client:
        expire_access_token(site, client)
        gate.close()
        count("faults")
        response, body = whoami(client)
        assert body["email"] is None and body["error"] == "network_error"
        assert not expires_session(response)
        gate.open()
        site.pass_backoff()
        _, body = whoami(client)
        assert body["email"] == ALICE and body["error"] is None


@pytest.mark.parametrize("store", ["memory", "cookie"])
def test_answer_lost_after_the_grant_was_processed(site: Site, store: str) -> None:
    """Every attempt times out, but WorkOS processed the first one: the stored refresh token is spent.

    With a store that keeps the tokens server-side (memory here, SQL in ``test_storage_faults.py``) the next
    request sends the same ``Idempotency-Key`` and gets the stored answer: nothing is lost. With the cookie store
    the key is random (a copied stale cookie must not be replayable back to life), so that session ends cleanly
    at the next request, as ``docs/security.md`` says."""
    with signed_in_site(site, store=MemorySessionStore() if store == "memory" else None) as client:
        expire_access_token(site, client)
        start = len(site.emulator.requests)
        site.emulator.inject_fault(AUTHENTICATE, method="POST", delay=1.5, count=2)  # real answers, too late
        count("faults", 2)
        _, body = whoami(client)
        assert body["email"] is None and body["error"] == "timeout"
        grants = [r for r in site.emulator.requests[start:] if r.grant_type == "refresh_token"]
        wait_until(lambda: all(r.status is not None for r in grants), 10, "the slow grants to be processed")
        assert grants[0].status == 200  # processed: the token was rotated, the answer went nowhere
        site.pass_backoff()
        if store == "cookie":
            assert_ended(client, "invalid_grant")
            count("sessions_lost_by_design")
            return
        _, body = whoami(client)
        assert body["email"] == ALICE and body["error"] is None, body
        assert site.emulator.requests[-1].replayed
        _, body = whoami(client)  # and the rotated refresh token works
        assert body["email"] == ALICE and body["error"] is None


# --- terminal ------------------------------------------------------------------------------------------------


def assert_ended(client: httpx.Client, reason: str) -> None:
    response, body = whoami(client)
    assert body["email"] is None and body["reason"] == reason, body
    assert expires_session(response)
    assert SESSION not in client.cookies
    protected = client.get("/protected")
    assert protected.status_code == 307 and "/user_management/authorize?" in protected.headers["location"]


def test_revoked_session_ends_cleanly(site: Site) -> None:
    with signed_in_site(site) as client:
        _, body = whoami(client)
        site.emulator.end_session(body["sid"])
        count("faults")
        assert_ended(client, "invalid_grant")


def test_authentication_step_required_ends_cleanly(site: Site) -> None:
    with signed_in_site(site) as client:
        site.emulator.set_user_outcome("user_alice", "sso_required")
        count("faults")
        assert_ended(client, "sso_required")


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"status": 400, "body": {"error": "invalid_client", "error_description": "bad secret"}}, "invalid_client"),
        ({"status": 403, "body": {"code": "forbidden", "message": "not allowed"}}, "forbidden"),
    ],
    ids=["invalid_client", "json 403"],
)
def test_refusals_that_are_not_transient_end_the_session(site: Site, fault: dict[str, Any], reason: str) -> None:
    with signed_in_site(site) as client:
        site.emulator.inject_fault(AUTHENTICATE, method="POST", **fault)
        count("faults")
        assert_ended(client, reason)
