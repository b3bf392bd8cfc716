"""The JWKS endpoint failing and keys rotating, and clocks that disagree, end to end through the middleware.

* JWKS down when the app starts (no keys yet): requests with a session are served signed out, the cookie is kept,
  and the first request after the endpoint recovers (and the refetch cooldown passed) is signed in;
* JWKS down mid-life: the cached keys keep serving past their TTL (the stale window);
* rotation: a token signed by a new key is verified after one refetch; a token of a retired key is refreshed
  (the refresh needs no JWKS), so the user never notices;
* a flood of tokens naming random ``kid`` values costs at most one JWKS fetch per cooldown, not one per request;
* the app's clock behind or ahead of the provider's within the leeway, and tokens issued slightly in the future,
  are accepted.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from authkit_core.engine import AuthKit
from authkit_core.iron import seal_session
from authkit_core.models import AuthenticationResponse

from .conftest import ALICE, JWKS, SESSION, Site, count, expires_session, sign_in, whoami


def jwks_fetches(site: Site) -> int:
    """How many JWKS requests the emulator received."""
    return sum(1 for r in site.emulator.requests if r.path.startswith("/sso/jwks/"))


def signed_in_cookie(site: Site) -> str:
    """A signed-in session cookie, made through a throw-away engine (so the engine under test starts cold)."""
    site.mount()
    with site.client() as client:
        sign_in(client)
        return client.cookies[SESSION]


def test_jwks_down_at_start_up(site: Site) -> None:
    cookie = signed_in_cookie(site)
    site.mount(site.kit(jwks_refetch_cooldown_seconds=1.0))  # a cold engine: no keys yet
    site.emulator.inject_fault(JWKS, status=503, count=100)
    count("faults")
    with site.client() as client:
        client.cookies.set(SESSION, cookie)
        for _ in range(3):
            response, body = whoami(client)
            assert body["email"] is None and body["error"] == "server_error"
            assert not expires_session(response)
        protected = client.get("/protected")  # the session is kept: 503, not a sign-in redirect
        assert protected.status_code == 503 and "Retry-After" in protected.headers
        assert not expires_session(protected)
        site.emulator.clear_faults()
        time.sleep(1.1)  # the cooldown after a failed fetch
        _, body = whoami(client)
        assert body["email"] == ALICE and body["error"] is None


def test_jwks_down_mid_life_serves_the_cached_keys(site: Site) -> None:
    site.mount(site.kit(jwks_cache_ttl_seconds=0.5, jwks_refetch_cooldown_seconds=0.2))
    with site.client() as client:
        sign_in(client)
        assert whoami(client)[1]["email"] == ALICE
    site.emulator.inject_fault(JWKS, status=500, count=1000)
    site.emulator.inject_fault(JWKS, drop_connection=True, count=1000)
    count("faults")
    deadline = time.monotonic() + 2.0  # four times the TTL
    while time.monotonic() < deadline:
        with site.client() as client:  # a new sign-in: a token never verified before, checked with stale keys
            sign_in(client, "bob@example.com")
            response, body = whoami(client)
            assert body["email"] == "bob@example.com", body
            assert not expires_session(response)
        time.sleep(0.3)
    assert jwks_fetches(site) >= 2  # it did try, and kept serving


def test_key_rotation_new_kid_and_retired_kid(site: Site) -> None:
    site.mount(site.kit(jwks_refetch_cooldown_seconds=0.0))
    with site.client() as client:
        sign_in(client)
        assert whoami(client)[1]["email"] == ALICE
        site.emulator.rotate_signing_key()  # new kid, old one still published
        with site.client() as other:
            sign_in(other, "bob@example.com")  # a token of the new key: one refetch, then verified
            assert whoami(other)[1]["email"] == "bob@example.com"
        site.emulator.rotate_signing_key(retire_old=True)  # the kid of Alice's token disappears
        count("faults", 2)
        site.mount(site.kit(jwks_refetch_cooldown_seconds=0.0))  # a restarted app: nothing verified yet
        response, body = whoami(client)
        assert body["email"] == ALICE and body["error"] is None  # refreshed with its refresh token
        assert SESSION in response.headers.get("set-cookie", "")


def test_random_kid_flood_costs_one_fetch_per_cooldown(site: Site) -> None:
    kit = site.mount(site.kit(jwks_refetch_cooldown_seconds=30.0))
    with site.client() as client:
        sign_in(client)
        assert whoami(client)[1]["email"] == ALICE
    before = jwks_fetches(site)
    issued = site.emulator.issue_session("user_alice")
    session = AuthenticationResponse.from_api(issued).to_session()
    flood = 150
    for _ in range(flood):
        token = site.emulator.mint_access_token("user_alice", organization_id="org_acme")
        header, payload, signature = token.split(".")
        forged = dataclasses.replace(
            session, access_token=_with_kid(header, uuid.uuid4().hex) + f".{payload}.{signature}"
        )
        with site.client() as attacker:
            attacker.cookies.set(SESSION, seal_session(forged, kit.config.cookie_passwords))
            response = attacker.get("/")
            assert response.status_code == 200
    count("attacks", flood)
    assert jwks_fetches(site) - before <= 1


def _with_kid(header_segment: str, kid: str) -> str:
    padded = header_segment + "=" * (-len(header_segment) % 4)
    header = json.loads(base64.urlsafe_b64decode(padded))
    header["kid"] = kid
    return base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()


def skewed(offset: float) -> Callable[[], float]:
    """The app's clock, ``offset`` seconds away from the provider's."""
    return lambda: time.time() + offset


def mount_with_clock(site: Site, offset: float, **overrides: Any) -> AuthKit:
    """Serve an engine whose clock is ``offset`` seconds away from the provider's."""
    return site.mount(site.kit(clock=skewed(offset), **overrides))


def test_app_clock_behind_the_provider_within_the_leeway(site: Site) -> None:
    """Fresh tokens look issued up to 25 s in the future to an app whose clock is 25 s behind (leeway 30 s)."""
    mount_with_clock(site, -25.0)
    with site.client() as client:
        sign_in(client)
        count("faults")
        _, body = whoami(client)
        assert body["email"] == ALICE and body["reason"] is None


def test_app_clock_ahead_of_the_provider_within_the_leeway(site: Site) -> None:
    """An app 25 s ahead sees tokens 25 s closer to expiry: it refreshes a little earlier, nothing else."""
    site.emulator.access_token_ttl = 60
    mount_with_clock(site, 25.0, refresh_buffer_seconds=10)
    with site.client() as client:
        sign_in(client)
        count("faults")
        for _ in range(3):
            _, body = whoami(client)
            assert body["email"] == ALICE and body["error"] is None


def test_token_issued_slightly_in_the_future(site: Site) -> None:
    site.mount()
    issued = site.emulator.issue_session("user_alice")
    now = int(time.time())
    for ahead in (5, 20, 29):
        issued["access_token"] = site.emulator.mint_access_token(
            "user_alice", organization_id="org_acme", issued_at=now + ahead, nbf=now + ahead
        )
        with site.client() as client:
            count("faults")
            saved = client.post("/save", json=issued)
            assert saved.status_code == 200
            _, body = whoami(client)
            assert body["email"] == ALICE and body["reason"] is None, (ahead, body)
