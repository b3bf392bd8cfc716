"""Attacks on the session layer, end to end: hostile cookies, forged tokens, callback abuse, open redirects and
cross-site sign-out, each sent by a client to a real server (ASGI under uvicorn, WSGI under ``wsgiref``).

Every attack must end in a signed-out request (or the attacker's request refused) with a 2xx/3xx/4xx answer:
never a 500, never the attacker signed in as someone, and never a live session of the victim ended by a request
the victim did not make (except where ``docs/security.md`` says a backend cannot prevent it).

The unit-level versions of many of these live next to the code they test (``tests/test_iron.py`` for seals,
``tests/test_tokens.py`` for token verification, ``tests/adapters/test_signin.py`` for the callback and
``safe_return_path``); here they go through the middleware.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
import sqlalchemy
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from joserfc.jwk import RSAKey

from authkit_core.iron import seal_session
from authkit_core.models import AuthenticationResponse
from authkit_core.storage.base import SessionStore
from authkit_core.storage.memory import MemorySessionStore
from authkit_core.storage.sql import SQLSessionStore
from authkit_core.tokens import get_token_claims
from conftest import require_mariadb, require_postgres

from .conftest import (
    ALICE,
    SESSION,
    Site,
    authorize,
    count,
    expires_session,
    fresh_table,
    query_of,
    set_cookies,
    sign_in,
    whoami,
)

OLD_PASSWORD = "an-old-cookie-password-that-was-retired-0123456789"
NEW_PASSWORD = "the-new-cookie-password-in-use-now-0123456789abcdef"


def b64url(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jws(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """A compact JWS with ``sign(signing_input)`` as its signature."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def assert_signed_out(response: httpx.Response, *, ended: bool = True) -> dict[str, Any]:
    """A 200, signed out; ``ended``: the session cookie is expired too."""
    assert response.status_code == 200, f"{response.status_code}: {response.text[:300]}"
    body = response.json()
    assert body["email"] is None, body
    assert expires_session(response) is ended, set_cookies(response)
    return dict(body)


# --- cookies ---------------------------------------------------------------------------------------------------


def tamperings(value: str) -> dict[str, str]:
    """Ways to break a sealed cookie value."""
    parts = value.split("*")
    mid = len(value) // 2
    flipped = value[:mid] + ("A" if value[mid] != "A" else "B") + value[mid + 1 :]
    return {
        "flipped ciphertext byte": flipped,
        "flipped mac": "*".join([*parts[:-1], parts[-1][::-1]]),
        "swapped salts": "*".join([parts[0], parts[1], parts[6], *parts[3:6], parts[2], parts[7]]),
        "extended expiry": "*".join([*parts[:5], "9999999999999", *parts[6:]]),
        "truncated half": value[:mid],
        "truncated mac": value[:-3] + "~2",
        "truncated to the mac": value[: value.rindex("*") + 1],
        "prefix only": "Fe26.2*",
        "empty fields": "Fe26.2*******~2",
        "version 1": value.replace("~2", "~1"),
        "another password id": "*".join([parts[0], "9", *parts[2:]]),
        "base64 junk": "Fe26.2*1*" + "*".join(["!!!!"] * 6),
        "not a seal": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    }


def test_tampered_and_truncated_cookies_sign_out(site: Site) -> None:
    site.mount()
    with site.client() as client:
        sign_in(client)
        genuine = client.cookies[SESSION]
    for name, value in tamperings(genuine).items():
        with site.client() as attacker:
            attacker.cookies.set(SESSION, value)
            count("attacks")
            body = assert_signed_out(attacker.get("/"))
            assert body["reason"] in ("invalid_seal", "bad_mac", "unknown_password", "expired_seal"), name
    # iron's version suffix is outside the MAC (as in iron-session): dropping it opens the same genuine session,
    # which gains an attacker nothing
    with site.client() as client:
        client.cookies.set(SESSION, genuine[:-2])
        assert whoami(client)[1]["email"] == ALICE


def big_permissions(site: Site) -> None:
    """Enough permissions that the sealed session needs two cookies."""
    site.emulator.set_role_permissions("admin", [f"resource-{i:03d}:read-write-admin" for i in range(60)])


def signed_out_answers(site: Site, jars: dict[str, dict[str, str]]) -> dict[str, httpx.Response]:
    """Each cookie jar sent by its own attacker to ``/``: every answer must be a signed-out 200 (by jar name)."""
    answers = {}
    for name, jar in jars.items():
        with site.client() as attacker:
            for cookie, value in jar.items():
                attacker.cookies.set(cookie, value)
            count("attacks")
            response = attacker.get("/")
            assert response.status_code == 200 and response.json()["email"] is None, name
        answers[name] = response
    return answers


def test_reordered_dropped_and_duplicated_chunks_sign_out(site: Site) -> None:
    site.mount()
    big_permissions(site)
    with site.client() as client:
        sign_in(client)
        chunks = {n: v for n, v in client.cookies.items() if n.startswith(SESSION + ".")}
        assert sorted(chunks) == [SESSION + ".0", SESSION + ".1"], "the session must be chunked"
        assert whoami(client)[1]["email"] == ALICE
    first, second = chunks[SESSION + ".0"], chunks[SESSION + ".1"]
    variants = {
        "swapped": {SESSION + ".0": second, SESSION + ".1": first},
        "second only": {SESSION + ".1": second},
        "first only": {SESSION + ".0": first},
        "first twice": {SESSION + ".0": first, SESSION + ".1": first},
        "gap": {SESSION + ".0": first, SESSION + ".2": second},
        "spliced into the plain cookie": {SESSION: second + first},
    }
    for name, response in signed_out_answers(site, variants).items():
        if name != "second only":  # a lone ``.1`` is not read at all: nothing to expire
            assert expires_session(response), name


def sql_store(kind: str, tmp_path: Path) -> tuple[SessionStore, Callable[[], None]]:
    """A SQL store of ``kind`` on a fresh table, and its clean-up."""
    url = {
        "sqlite": f"sqlite:///{tmp_path}/attacks.sqlite3",
        "postgres": require_postgres() if kind == "postgres" else "",
        "mariadb": require_mariadb() if kind == "mariadb" else "",
    }[kind]
    store = SQLSessionStore(url, table_name=fresh_table(), create_tables=True)

    def cleanup() -> None:
        store.dispose()
        engine = sqlalchemy.create_engine(url)
        store.table.drop(engine, checkfirst=True)
        engine.dispose()

    return store, cleanup


@pytest.fixture(params=["memory", "sqlite", "postgres", "mariadb"])
def revoking_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    """A store that keeps sessions server-side (sign-out revokes a copied cookie)."""
    if request.param == "memory":
        yield MemorySessionStore()
        return
    store, cleanup = sql_store(str(request.param), tmp_path)
    yield store
    cleanup()


def test_cookie_replayed_after_sign_out_is_refused(site: Site, revoking_store: SessionStore) -> None:
    site.mount(site.kit(store=revoking_store))
    with site.client() as client:
        sign_in(client)
        stolen = client.cookies[SESSION]
        assert whoami(client)[1]["email"] == ALICE
        assert client.get("/sign-out").status_code == 307
    with site.client() as attacker:
        attacker.cookies.set(SESSION, stolen)
        count("attacks")
        body = assert_signed_out(attacker.get("/"))
        assert body["reason"] == "not_found"
        assert attacker.get("/protected").status_code == 307


def test_cookie_store_replay_after_sign_out_lasts_until_the_next_refresh(site: Site) -> None:
    """The documented limit of the cookie store: a copied cookie still opens after sign-out (nothing is stored
    server-side). Once the browser followed the logout redirect, WorkOS refuses its refresh token, so the copy
    dies at its next refresh (at the latest when its access token expires)."""
    site.mount()
    with site.client() as client:
        sign_in(client)
        stolen = client.cookies[SESSION]
        logout = client.get("/sign-out").headers["location"]
        assert httpx.get(logout, follow_redirects=False).status_code < 400
    with site.client() as attacker:
        attacker.cookies.set(SESSION, stolen)
        count("attacks")
        assert whoami(attacker)[1]["email"] == ALICE  # until its access token expires
        refreshed = attacker.get("/refresh")
        assert refreshed.status_code == 409 and refreshed.json()["error"] == "invalid_grant"
        assert expires_session(refreshed)


def test_cookie_sealed_with_a_retired_password_is_refused(site: Site) -> None:
    site.mount(site.kit(cookie_password={"1": OLD_PASSWORD}))
    with site.client() as client:
        sign_in(client)
        old_cookie = client.cookies[SESSION]
    assert old_cookie.startswith("Fe26.2*1*")
    # rotation: both passwords listed, the old cookie still opens and is re-sealed with the new one at refresh
    site.mount(site.kit(cookie_password={"1": OLD_PASSWORD, "2": NEW_PASSWORD}))
    with site.client() as client:
        client.cookies.set(SESSION, old_cookie)
        assert whoami(client)[1]["email"] == ALICE
        refreshed = client.get("/refresh")
        assert refreshed.status_code == 200
        assert set_cookies(refreshed)[SESSION]["value"].startswith("Fe26.2*2*")
    # the old password retired: the old cookie no longer opens
    site.mount(site.kit(cookie_password={"2": NEW_PASSWORD}))
    with site.client() as attacker:
        attacker.cookies.set(SESSION, old_cookie)
        count("attacks")
        assert assert_signed_out(attacker.get("/"))["reason"] == "unknown_password"


def test_oversized_cookies_are_signed_out_not_errors(site: Site) -> None:
    site.mount()
    cases: dict[str, dict[str, str]] = {
        "12 KB value": {SESSION: "Fe26.2*1*" + "A" * 12_000},
        "chunks beyond the limit": {f"{SESSION}.{i}": "A" * 500 for i in range(40)},
        "many other cookies": {f"c{i}": "x" * 100 for i in range(60)},
    }
    signed_out_answers(site, cases)
    with site.client() as attacker:  # past the server's header limit: the server refuses it, not the middleware
        count("attacks")
        response = attacker.get("/", headers={"Cookie": f"{SESSION}=" + "A" * 200_000})
        assert response.status_code < 500 or response.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        b"wos-session=\xff\xfe\x80abc",
        b"wos-session=Fe26.2*1*\xc3(*\xa0\xa1",
        b"\xff\xff=\xff; wos-session=\x80\x81\x82",
        b"wos-session=\xe2\x82; wos-session.0=\xf0\x28\x8c\x28",
        b";;;=;=\xff;wos-session",
    ],
)
def test_non_utf8_cookie_bytes_are_signed_out(site: Site, header: bytes) -> None:
    site.mount()
    with site.client() as attacker:
        count("attacks")
        response = attacker.get("/", headers={"Cookie": header})
        assert response.status_code == 200 and response.json()["email"] is None


def test_duplicate_cookie_names_are_ambiguous(site: Site) -> None:
    """A session cookie sent twice with two values (cookie tossing from a sibling subdomain, or a stale copy) is
    never resolved by picking one: signed out, every copy expired, whichever comes first (``docs/security.md``)."""
    site.mount()
    with site.client() as client:
        sign_in(client)
        genuine = client.cookies[SESSION]
    with site.client() as browser:
        count("attacks", 2)
        for header in (f"{SESSION}={genuine}; {SESSION}=garbage", f"{SESSION}=garbage; {SESSION}={genuine}"):
            response = browser.get("/", headers={"Cookie": header})
            assert response.status_code == 200 and response.json()["email"] is None
            assert response.json()["reason"] == "ambiguous_session_cookie"
        # the same value twice is no ambiguity
        assert browser.get("/", headers={"Cookie": f"{SESSION}={genuine}; {SESSION}={genuine}"}).json()["email"]


# --- tokens -----------------------------------------------------------------------------------------------------


@pytest.fixture
def forge(site: Site) -> Iterator[Callable[..., httpx.Response]]:
    """``forge(access_token, refresh_token=None)``: a request whose cookie is a genuine seal (the app's password)
    around a session of Alice with that access token; the refresh token is a live one unless given."""
    kit = site.mount(site.kit(jwt_issuer=site.emulator.issuer))
    clients: list[httpx.Client] = []

    def request(access_token: str, refresh_token: str | None = None) -> httpx.Response:
        issued = site.emulator.issue_session("user_alice")
        session = AuthenticationResponse.from_api(issued).to_session()
        session = dataclasses.replace(
            session, access_token=access_token, refresh_token=refresh_token or session.refresh_token
        )
        client = site.client()
        clients.append(client)
        client.cookies.set(SESSION, seal_session(session, kit.config.cookie_passwords))
        count("attacks")
        return client.get("/")

    yield request
    for client in clients:
        client.close()


def genuine_claims(site: Site, **changes: Any) -> dict[str, Any]:
    """The claims of a genuine token of Alice, with ``changes``."""
    claims = get_token_claims(site.emulator.mint_access_token("user_alice", organization_id="org_acme"))
    claims.update(changes)
    return claims


def rsa_signer(key: rsa.RSAPrivateKey) -> Callable[[bytes], bytes]:
    """RS256 with ``key``."""
    return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def test_alg_none_is_refused(site: Site, forge: Callable[..., httpx.Response]) -> None:
    kid = site.emulator.current_kid
    for alg in ("none", "None", "NONE"):
        token = jws({"alg": alg, "kid": kid, "typ": "JWT"}, genuine_claims(site), lambda _: b"")
        assert assert_signed_out(forge(token))["reason"] == "unsupported_algorithm"


def test_hs256_signed_with_the_public_key_is_refused(site: Site, forge: Callable[..., httpx.Response]) -> None:
    kid = site.emulator.current_kid
    jwk = next(k for k in site.emulator.jwks()["keys"] if k["kid"] == kid)
    public = RSAKey.import_key(jwk)
    secrets = [public.as_pem(private=False), json.dumps(jwk).encode(), public.as_der(private=False)]
    for secret in secrets:
        token = jws(
            {"alg": "HS256", "kid": kid, "typ": "JWT"},
            genuine_claims(site),
            lambda data, s=secret: hmac.new(s, data, hashlib.sha256).digest(),
        )
        assert assert_signed_out(forge(token))["reason"] == "unsupported_algorithm"


def test_valid_signature_from_another_key_is_refused(site: Site, forge: Callable[..., httpx.Response]) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = site.emulator.current_kid
    token = jws({"alg": "RS256", "kid": kid, "typ": "JWT"}, genuine_claims(site), rsa_signer(other))
    assert assert_signed_out(forge(token))["reason"] == "invalid_signature"
    # under an unknown kid the token is never trusted: the session is refreshed from its stored refresh token, so
    # the identity is the stored user's, whatever the forged token claims
    forged = genuine_claims(site, sub="user_bob", org_id="org_acme")
    token = jws({"alg": "RS256", "kid": "attacker-key", "typ": "JWT"}, forged, rsa_signer(other))
    body = forge(token).json()
    assert body["user"] == "user_alice" and body["error"] is None
    assert all(k["kid"] != "attacker-key" for k in site.emulator.jwks()["keys"])


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": "https://evil.example/user_management/client_emulator"}, "invalid_issuer"),
        ({"iss": None}, "invalid_issuer"),
        ({"sub": "user_bob"}, "subject_mismatch"),
        ({"iat": int(time.time()) + 3600}, "token_not_yet_valid"),
        ({"nbf": int(time.time()) + 3600}, "token_not_yet_valid"),
        ({"exp": "tomorrow"}, "invalid_token"),
        ({"exp": None}, "invalid_token"),
        ({"sid": None}, "invalid_token"),
    ],
    ids=[
        "wrong issuer",
        "no issuer",
        "sub of another user",
        "iat in the future",
        "nbf in the future",
        "exp not a number",
        "no exp",
        "no sid",
    ],
)
def test_genuinely_signed_bad_claims_are_refused(
    site: Site, forge: Callable[..., httpx.Response], claims: dict[str, Any], reason: str
) -> None:
    token = site.emulator.mint_access_token("user_alice", organization_id="org_acme", **claims)
    assert assert_signed_out(forge(token))["reason"] == reason


def test_another_clients_token_is_refused(site: Site, forge: Callable[..., httpx.Response]) -> None:
    """WorkOS signs each client's tokens with its own keys (so such a token fails the signature); with a key in
    common, as the emulators of one test process share, the issuer check refuses it."""
    issuer = site.emulator.issuer.replace(site.emulator.client_id, "client_someone_else")
    token = site.emulator.mint_access_token("user_alice", organization_id="org_acme", iss=issuer)
    assert assert_signed_out(forge(token))["reason"] == "invalid_issuer"


def test_expired_token_with_a_dead_refresh_token_ends_the_session(
    site: Site, forge: Callable[..., httpx.Response]
) -> None:
    token = site.emulator.mint_access_token("user_alice", organization_id="org_acme", expires_in=-3600)
    assert assert_signed_out(forge(token, refresh_token="not-a-live-refresh-token-000000"))["reason"] == (
        "invalid_grant"
    )
    # with its live refresh token, an expired token is simply refreshed
    assert forge(token).json()["email"] == ALICE


def test_garbage_tokens_inside_a_genuine_seal(site: Site, forge: Callable[..., httpx.Response]) -> None:
    for token in ["", "a.b", "a.b.c.d", "eyJ.eyJ.", "!!!.???.***", "x" * 5_000, "\u00e9\u00e9.\u00e9.\u00e9"]:
        response = forge(token)
        assert response.status_code == 200 and response.json()["email"] is None


# --- the callback -------------------------------------------------------------------------------------------------


def start(client: httpx.Client, return_to: str | None = None) -> tuple[str, str]:
    """Start a sign-in: ``(authorize URL, state)``; the verifier cookie is in the client's jar."""
    params = {"return_to": return_to} if return_to is not None else {}
    url = str(client.get("/sign-in-url", params=params).json()["url"])
    return url, query_of(url)["state"]


def test_callback_without_or_with_a_mismatched_state(site: Site) -> None:
    site.mount()
    with site.client() as client:
        url, state = start(client)
        callback = authorize(url)
        code = query_of(callback)["code"]
        _, other_state = start(client)
        cases = {
            "no state": {"code": code},
            "no code": {"state": state},
            "mismatched state": {"code": code, "state": other_state + "x"},
            "another sign-in's state": {"code": code, "state": "Fe26.2*1*" + "a" * 40},
            "error from WorkOS": {"error": "access_denied<script>", "state": state},
        }
        for name, params in cases.items():
            count("attacks")
            response = client.get("/callback", params=params)
            assert response.status_code == 400, name
            assert "text/html" in response.headers["content-type"]
            assert "<script>" not in response.text
            assert SESSION not in set_cookies(response), name
        # a failed callback spends the state cookie too: the genuine code cannot be used after a tampered try
        genuine = client.get(urlsplit(callback).path + "?" + urlsplit(callback).query)
        assert genuine.status_code == 400 and "missing_verifier_cookie" in genuine.text


def test_callback_without_the_verifier_cookie(site: Site) -> None:
    site.mount()
    with site.client() as client:
        url, _ = start(client)
        callback = authorize(url)
    with site.client() as other_browser:  # the link is opened elsewhere (login CSRF, a leaked URL)
        count("attacks")
        response = other_browser.get(callback)
        assert response.status_code == 400 and "missing_verifier_cookie" in response.text
        assert SESSION not in set_cookies(response)


def test_replayed_code_is_refused_and_does_not_touch_the_session(site: Site) -> None:
    site.mount()
    with site.client() as client:
        url, _ = start(client)
        verifier = {n: v for n, v in client.cookies.items() if n.startswith("wos-auth-verifier-")}
        callback = authorize(url)
        assert client.get(callback).status_code == 307
        assert whoami(client)[1]["email"] == ALICE
    with site.client() as attacker:  # the same callback, verifier cookie and all, a second time
        for name, value in verifier.items():
            attacker.cookies.set(name, value)
        count("attacks")
        response = attacker.get(callback)
        assert response.status_code == 400 and "invalid_grant" in response.text
        assert SESSION not in set_cookies(response)


HOSTILE_RETURN_PATHS = [
    "//evil.example",
    "///evil.example",
    "////evil.example/x",
    "https:evil.example",
    "https://evil.example/x",
    "http:/\\evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%2f/evil.example",
    "/%5Cevil.example",
    "/%5C%5Cevil.example",
    "/%255C%255Cevil.example",
    "/%252F%252Fevil.example",
    "/\t/evil.example",
    "/%09/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "@evil.example",
    "/\u3002evil.example",
]


@pytest.mark.parametrize("return_to", HOSTILE_RETURN_PATHS)
def test_open_redirects_land_on_the_site(site: Site, return_to: str) -> None:
    site.mount()
    with site.client() as client:
        url, _ = start(client, return_to)
        count("attacks")
        response = client.get(authorize(url))
        assert response.status_code == 307
        location = response.headers["location"]
        target = urlsplit(urljoin(site.base_url + "/page", location))
        assert target.netloc == urlsplit(site.base_url).netloc, location
        assert not location.startswith("//") and "\\" not in location
        assert location.startswith("/"), location


# --- cross-site sign-out ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", {"Sec-Fetch-Site": "cross-site"}),
        ("GET", {"Sec-Fetch-Site": "same-site"}),
        ("GET", {}),
        ("GET", {"Origin": "https://evil.example"}),
        ("POST", {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}),
        ("POST", {"Origin": "https://evil.example"}),
        ("POST", {"Origin": "null"}),
    ],
    ids=[
        "GET cross-site",
        "GET same-site",
        "GET without signals",
        "GET foreign origin",
        "POST cross-site",
        "POST foreign origin",
        "POST null origin",
    ],
)
def test_cross_site_sign_out_is_refused_when_protected(site: Site, method: str, headers: dict[str, str]) -> None:
    site.mount(csrf_protect_sign_out=True)
    with site.client() as client:
        sign_in(client)
        count("attacks")
        response = client.request(method, "/sign-out", headers=headers)
        assert response.status_code == 403
        assert "still" not in response.text
        assert not expires_session(response)
        assert whoami(client)[1]["email"] == ALICE  # the session is untouched


@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [
        ("GET", {"Sec-Fetch-Site": "same-origin"}, 307),
        ("GET", {"Sec-Fetch-Site": "none"}, 307),
        ("POST", {"Sec-Fetch-Site": "same-origin", "Origin": "SELF"}, 303),
        ("POST", {"Origin": "SELF"}, 303),
        ("POST", {}, 303),
    ],
    ids=["GET same-origin", "GET typed URL", "POST same-origin", "POST own origin", "POST without signals"],
)
def test_same_site_sign_out_still_works_when_protected(
    site: Site, method: str, headers: dict[str, str], status: int
) -> None:
    site.mount(csrf_protect_sign_out=True)
    with site.client() as client:
        sign_in(client)
        headers = {k: site.base_url if v == "SELF" else v for k, v in headers.items()}
        response = client.request(method, "/sign-out", headers=headers)
        assert response.status_code == status
        assert expires_session(response)
        assert whoami(client)[1]["email"] is None


def test_sign_out_is_not_protected_by_default(site: Site) -> None:
    """Without ``csrf_protect_sign_out`` the middleware keeps its old behaviour: any GET signs out."""
    site.mount()
    with site.client() as client:
        sign_in(client)
        response = client.get("/sign-out", headers={"Sec-Fetch-Site": "cross-site"})
        assert response.status_code == 307 and expires_session(response)


def test_log_scanner_catches_secrets() -> None:
    """The suite-wide log scan (``tests/conftest.py``) really catches what it looks for."""
    import logging

    from conftest import SecretLogScanner

    scanner = SecretLogScanner()
    log = logging.getLogger(f"authkit_session.scanner_check_{uuid.uuid4().hex[:6]}")
    log.propagate = False
    log.addHandler(scanner)
    log.setLevel(logging.DEBUG)
    refresh_token = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"
    scanner.begin("check")
    log.warning("token %s", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2ln")
    log.info("cookie Fe26.2*1*abc")
    log.debug("key sk_test_emulator")
    log.debug("refresh %s", refresh_token)
    scanner.end([{"refresh_token": refresh_token}])
    assert len(scanner.leaks) == 4


def test_non_ascii_return_path_is_encoded_not_an_error(site: Site) -> None:
    """A return path with spaces or non-ASCII characters used to reach the ``Location`` header as it was: not
    Latin-1, so the server failed (500 under ASGI, a dropped connection under WSGI)."""
    site.mount()
    with site.client() as client:
        url, _ = start(client, "/café menu/日本?q=ü")
        response = client.get(authorize(url))
        assert response.status_code == 307
        assert response.headers["location"] == "/caf%C3%A9%20menu/%E6%97%A5%E6%9C%AC?q=%C3%BC"
