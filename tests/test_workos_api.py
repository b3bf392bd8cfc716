"""The sans-I/O WorkOS API layer and PKCE helpers: URLs, exact request bodies and headers, error classification and
the retry flow, driven by hand (no network, no sleeping)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from authkit_core import pkce
from authkit_core import workos_api as api
from authkit_core.config import AuthKitConfig
from authkit_core.errors import (
    AUTHENTICATION_ERROR_CODES,
    AuthenticationError,
    InvalidResponseError,
    OAuthError,
    ProviderUnavailableError,
    RateLimitError,
    WorkOSAPIError,
)
from authkit_core.flow import Flow, Sleep
from authkit_core.http import HttpCall
from authkit_core.models import AuthenticationResponse

API_KEY = "sk_test_very_secret_key"
CODE = "01HCODESECRETVALUE"
VERIFIER = "v" * 50
REFRESH = "rt_SECRET_refresh_token"


@pytest.fixture
def config() -> AuthKitConfig:
    return AuthKitConfig(
        client_id="client_01ABC",
        api_key=API_KEY,
        redirect_uri="https://app.example/callback",
        cookie_password="p" * 32,
    )


def user_json(user_id: str = "user_1") -> dict[str, Any]:
    return {
        "object": "user",
        "id": user_id,
        "email": "alice@example.com",
        "email_verified": True,
        "first_name": "Alice",
        "last_name": "Liddell",
        "profile_picture_url": None,
        "last_sign_in_at": "2024-01-01T00:00:00.000Z",
        "external_id": None,
        "metadata": {},
        "locale": None,
        "created_at": "2024-01-01T00:00:00.000Z",
        "updated_at": "2024-01-01T00:00:00.000Z",
    }


def answer(
    status: int,
    body: Any = None,
    *,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    request: httpx.Request | None = None,
) -> httpx.Response:
    """A response as the shell would hand it to a flow (body read, request attached)."""
    req = request or httpx.Request("POST", "https://api.workos.com/user_management/authenticate")
    if content is not None:
        return httpx.Response(status, content=content, headers=headers, request=req)
    if body is None:
        return httpx.Response(status, headers=headers, request=req)
    return httpx.Response(status, json=body, headers=headers, request=req)


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


# ------------------------------------------------------------------------------------------------------- PKCE


def test_code_challenge_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce.code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_generated_verifier_is_valid_fresh_and_challengeable() -> None:
    verifiers = {pkce.generate_code_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    for verifier in verifiers:
        assert 43 <= len(verifier) <= 128
        assert re.fullmatch(r"[A-Za-z0-9\-._~]+", verifier)
        challenge = pkce.code_challenge(verifier)
        assert "=" not in challenge
        assert len(challenge) == 43
        expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        assert challenge == expected


@pytest.mark.parametrize(("nbytes", "length"), [(32, 43), (64, 86), (96, 128)])
def test_verifier_length_follows_nbytes(nbytes: int, length: int) -> None:
    assert len(pkce.generate_code_verifier(nbytes)) == length


@pytest.mark.parametrize("nbytes", [0, 31, 97])
def test_verifier_refuses_lengths_outside_rfc(nbytes: int) -> None:
    with pytest.raises(ValueError, match="32 to 96"):
        pkce.generate_code_verifier(nbytes)


@pytest.mark.parametrize("bad", ["short", "a" * 42, "a" * 129, "a" * 42 + "+", "a" * 42 + "=", "é" * 43])
def test_code_challenge_rejects_invalid_verifiers(bad: str) -> None:
    with pytest.raises(ValueError, match="43 to 128 characters"):
        pkce.code_challenge(bad)


def test_state_and_nonce_are_random_and_url_safe() -> None:
    states = {pkce.generate_state() for _ in range(20)} | {pkce.generate_nonce() for _ in range(20)}
    assert len(states) == 40
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22,}", s) for s in states)
    with pytest.raises(ValueError, match="at least 16"):
        pkce.generate_state(8)
    with pytest.raises(ValueError, match="at least 16"):
        pkce.generate_nonce(15)


# ------------------------------------------------------------------------------------------------------- URLs


def test_authorization_url_has_exactly_the_required_parameters(config: AuthKitConfig) -> None:
    url = api.authorization_url(config, state="st", code_challenge="ch")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "api.workos.com", "/user_management/authorize")
    assert query(url) == {
        "client_id": "client_01ABC",
        "redirect_uri": "https://app.example/callback",
        "response_type": "code",
        "provider": "authkit",
        "state": "st",
        "code_challenge": "ch",
        "code_challenge_method": "S256",
    }


def test_authorization_url_optional_parameters(config: AuthKitConfig) -> None:
    state = "Fe26.2**abc*def~2 &=+/?"
    url = api.authorization_url(
        config,
        state=state,
        code_challenge="ch",
        redirect_uri="http://localhost:3000/cb?x=1",
        screen_hint="sign-up",
        organization_id="org_1",
        login_hint="alice+test@example.com",
        prompt="consent",
        max_age=0,
        domain_hint="example.com",
    )
    params = query(url)
    assert params["state"] == state
    assert params["redirect_uri"] == "http://localhost:3000/cb?x=1"
    assert params["screen_hint"] == "sign-up"
    assert params["organization_id"] == "org_1"
    assert params["login_hint"] == "alice+test@example.com"
    assert params["prompt"] == "consent"
    assert params["max_age"] == "0"
    assert params["domain_hint"] == "example.com"


def test_authorization_url_uses_configured_host(config: AuthKitConfig) -> None:
    local = AuthKitConfig(
        client_id="c",
        api_key="k",
        redirect_uri="http://127.0.0.1/cb",
        cookie_password="p" * 32,
        api_hostname="127.0.0.1",
        api_https=False,
        api_port=8123,
    )
    assert api.authorization_url(local, state="s", code_challenge="c").startswith(
        "http://127.0.0.1:8123/user_management/authorize?"
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"screen_hint": "signup"},
        {"screen_hint": "Sign-In"},
        {"max_age": -1},
        {"max_age": 1.5},
        {"max_age": True},
        {"state": ""},
        {"code_challenge": ""},
    ],
)
def test_authorization_url_validates(config: AuthKitConfig, kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"state": "s", "code_challenge": "c", **kwargs}
    with pytest.raises(ValueError, match=r"screen_hint|max_age|is empty"):
        api.authorization_url(config, **args)


MISSPELT: dict[str, Any] = {"loginhint": "x"}


@pytest.mark.parametrize(
    "call",
    [
        lambda c: api.authorization_url(c, state="s", code_challenge="c", **MISSPELT),
        lambda c: api.authenticate_with_code_request(c, CODE, **{"verifier": "x"}),
        lambda c: api.authenticate_with_refresh_token_request(c, REFRESH, **{"code_verifier": "x"}),
    ],
)
def test_misspelt_options_are_refused(config: AuthKitConfig, call: Any) -> None:
    with pytest.raises(TypeError, match="unexpected keyword"):
        call(config)


def test_logout_url(config: AuthKitConfig) -> None:
    url = api.logout_url(config, "session_01", "https://app.example/bye?x=1&y=2")
    assert url.startswith("https://api.workos.com/user_management/sessions/logout?")
    assert query(url) == {"session_id": "session_01", "return_to": "https://app.example/bye?x=1&y=2"}
    assert query(api.logout_url(config, "session_01")) == {"session_id": "session_01"}
    with pytest.raises(ValueError, match="session_id is empty"):
        api.logout_url(config, "")


def test_jwks_url(config: AuthKitConfig) -> None:
    assert api.jwks_url(config) == "https://api.workos.com/sso/jwks/client_01ABC"


# --------------------------------------------------------------------------------------------------- requests


def assert_authenticated_json_post(request: httpx.Request, path: str, config: AuthKitConfig) -> dict[str, Any]:
    assert request.method == "POST"
    assert str(request.url) == f"https://api.workos.com{path}"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("authkit-session/")
    assert "httpx/" in request.headers["user-agent"]
    timeout = request.extensions["timeout"]
    assert timeout["connect"] == timeout["read"] == config.http_timeout_seconds
    body: dict[str, Any] = json.loads(request.content)
    return body


def test_code_request_body_is_exactly_the_sdks(config: AuthKitConfig) -> None:
    request = api.authenticate_with_code_request(config, CODE, code_verifier=VERIFIER)
    body = assert_authenticated_json_post(request, "/user_management/authenticate", config)
    assert list(body.items()) == [
        ("grant_type", "authorization_code"),
        ("client_id", "client_01ABC"),
        ("client_secret", API_KEY),
        ("code", CODE),
        ("code_verifier", VERIFIER),
    ]


def test_code_request_optional_fields(config: AuthKitConfig) -> None:
    bare = json.loads(api.authenticate_with_code_request(config, CODE).content)
    assert "code_verifier" not in bare
    assert "ip_address" not in bare
    assert "user_agent" not in bare
    full = json.loads(
        api.authenticate_with_code_request(
            config, CODE, code_verifier=VERIFIER, ip_address="203.0.113.9", user_agent="Firefox"
        ).content
    )
    assert full["ip_address"] == "203.0.113.9"
    assert full["user_agent"] == "Firefox"
    with pytest.raises(ValueError, match="code is empty"):
        api.authenticate_with_code_request(config, "")


def test_refresh_request_body(config: AuthKitConfig) -> None:
    request = api.authenticate_with_refresh_token_request(config, REFRESH)
    body = assert_authenticated_json_post(request, "/user_management/authenticate", config)
    assert body == {
        "grant_type": "refresh_token",
        "client_id": "client_01ABC",
        "client_secret": API_KEY,
        "refresh_token": REFRESH,
    }
    switched = json.loads(api.authenticate_with_refresh_token_request(config, REFRESH, organization_id="org_2").content)
    assert switched["organization_id"] == "org_2"
    with pytest.raises(ValueError, match="refresh token is empty"):
        api.authenticate_with_refresh_token_request(config, "")


def test_validate_api_key_request(config: AuthKitConfig) -> None:
    request = api.validate_api_key_request(config, "sk_candidate")
    assert assert_authenticated_json_post(request, "/api_keys/validations", config) == {"value": "sk_candidate"}


def test_jwks_request_is_an_unauthenticated_get(config: AuthKitConfig) -> None:
    request = api.jwks_request(config)
    assert request.method == "GET"
    assert str(request.url) == "https://api.workos.com/sso/jwks/client_01ABC"
    assert "authorization" not in request.headers
    assert request.headers["user-agent"] == api.USER_AGENT
    assert request.content == b""


# ------------------------------------------------------------------------------------------------ retry-after


def test_parse_retry_after_seconds_and_garbage() -> None:
    assert api.parse_retry_after("5") == 5.0
    assert api.parse_retry_after(" 1.5 ") == 1.5
    assert api.parse_retry_after("0") == 0.0
    for bad in (None, "", "-1", "soon", "inf", "nan"):
        assert api.parse_retry_after(bad) is None


def test_parse_retry_after_http_date() -> None:
    now = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert api.parse_retry_after(later, now=now.timestamp()) == pytest.approx(42.0)
    earlier = format_datetime(now - timedelta(seconds=42), usegmt=True)
    assert api.parse_retry_after(earlier, now=now.timestamp()) == 0.0
    real = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (api.parse_retry_after(real) or 0) <= 31


# ------------------------------------------------------------------------------------------------- classify


@pytest.mark.parametrize("code", [*sorted(AUTHENTICATION_ERROR_CODES), "radar_challenge"])
def test_authentication_error_codes(code: str) -> None:
    body = {
        "code": code,
        "message": f"The user must do {code}.",
        "pending_authentication_token": "pat_1",
        "organizations": [{"id": "org_1", "name": "Acme"}],
        "user": user_json(),
    }
    err = api.classify_error(answer(403, body, headers={"X-Request-ID": "req_9"}))
    assert type(err) is AuthenticationError
    assert err.code == code
    assert err.status == 403
    assert err.request_id == "req_9"
    assert err.pending_authentication_token == "pat_1"
    assert err.organizations == [{"id": "org_1", "name": "Acme"}]
    assert str(err).startswith(f"{code}: ")
    assert f"The user must do {code}." in str(err)
    assert not err.is_transient


def test_sso_required_in_oauth_shape_is_an_authentication_error() -> None:
    body = {
        "error": "sso_required",
        "error_description": "User must authenticate using one of the matching connections.",
        "email": "alice@acme.example",
        "connection_ids": ["conn_1", "conn_2"],
    }
    err = api.classify_error(answer(400, body))
    assert type(err) is AuthenticationError
    assert err.code == "sso_required"
    assert "sso_required" in str(err)
    assert "matching connections" in str(err)
    assert err.email == "alice@acme.example"
    assert err.connection_ids == ["conn_1", "conn_2"]


def test_invalid_grant_is_an_oauth_error() -> None:
    err = api.classify_error(answer(400, {"error": "invalid_grant", "error_description": "Session has already ended."}))
    assert type(err) is OAuthError
    assert err.code == "invalid_grant"
    assert err.error_description == "Session has already ended."
    assert str(err) == "invalid_grant: POST /user_management/authenticate answered 400: Session has already ended."
    assert not err.is_transient


def test_other_json_code_keeps_it() -> None:
    body = {"code": "invalid_request_parameters", "message": "Validation failed", "errors": []}
    err = api.classify_error(answer(422, body))
    assert type(err) is WorkOSAPIError
    assert err.code == "invalid_request_parameters"
    assert err.status == 422
    assert err.body == body


@pytest.mark.parametrize("retry_after", ["7", None])
def test_429_is_a_rate_limit_error(retry_after: str | None) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    err = api.classify_error(answer(429, {"message": "Too many requests"}, headers=headers))
    assert type(err) is RateLimitError
    assert err.code == "rate_limit_exceeded"
    assert err.is_transient
    assert err.retry_after == (7.0 if retry_after else None)


def test_429_with_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    err = api.classify_error(answer(429, content=b"slow down", headers={"Retry-After": when}))
    assert isinstance(err, RateLimitError)
    assert err.retry_after is not None
    assert 15 <= err.retry_after <= 21


@pytest.mark.parametrize("status", [500, 502, 503, 504, 501, 599])
def test_5xx_json_or_html_is_provider_unavailable(status: int) -> None:
    html = b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"
    for response in (
        answer(status, {"message": "Internal error"}),
        answer(status, content=html, headers={"Content-Type": "text/html; charset=utf-8"}),
        answer(status),
    ):
        err = api.classify_error(response)
        assert type(err) is ProviderUnavailableError
        assert err.code == "server_error"
        assert err.is_transient
        assert err.status == status
        assert "<html>" not in str(err)


def test_html_page_message_names_the_content_type() -> None:
    html = b"<html><body>Bad Gateway</body></html>"
    err = api.classify_error(answer(502, content=html, headers={"Content-Type": "text/html; charset=utf-8"}))
    assert "text/html" in str(err)
    assert err.body == {}


def test_408_is_a_timeout() -> None:
    err = api.classify_error(answer(408, content=b""))
    assert type(err) is ProviderUnavailableError
    assert err.code == "timeout"
    assert err.is_transient
    assert "empty body" in str(err)


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_4xx_with_unreadable_body_is_http_status_and_transient(status: int) -> None:
    """WorkOS always answers JSON: an HTML 4xx comes from a proxy or firewall and must not end sessions."""
    err = api.classify_error(answer(status, content=b"<html>Forbidden</html>", headers={"Content-Type": "text/html"}))
    assert type(err) is InvalidResponseError
    assert err.code == f"http_{status}"
    assert err.is_transient
    assert err.status == status


def test_4xx_with_json_list_or_malformed_json() -> None:
    for content in (b"[1, 2]", b'{"error": "invalid_grant"', b"\xff\xfe\x00"):
        err = api.classify_error(answer(400, content=content, headers={"Content-Type": "application/json"}))
        assert type(err) is InvalidResponseError
        assert err.code == "http_400"
        assert err.is_transient


def test_error_messages_never_carry_request_secrets(config: AuthKitConfig) -> None:
    request = api.authenticate_with_code_request(config, CODE, code_verifier=VERIFIER)
    leaky_get = httpx.Request("GET", f"https://api.workos.com/sso/jwks/x?code={CODE}&token={REFRESH}")
    cases = [
        answer(400, {"error": "invalid_grant", "error_description": "The code is invalid."}, request=request),
        answer(403, {"code": "mfa_enrollment", "message": "Enroll"}, request=request),
        answer(500, content=b"<html>oops</html>", request=request),
        answer(429, {}, request=request),
        answer(404, content=b"nope", request=leaky_get),
    ]
    for response in cases:
        err = api.classify_error(response)
        for secret in (API_KEY, CODE, VERIFIER, REFRESH):
            assert secret not in str(err)
            assert secret not in repr(err)


def test_long_descriptions_are_truncated() -> None:
    err = api.classify_error(answer(400, {"error": "invalid_request", "error_description": "x" * 5000}))
    assert len(str(err)) < 400
    assert str(err).endswith("...")


def test_classify_without_request_attached() -> None:
    err = api.classify_error(httpx.Response(400, json={"error": "invalid_grant"}))
    assert isinstance(err, OAuthError)
    assert "WorkOS answered 400" in str(err)


# ------------------------------------------------------------------------------------------- driving by hand


Outcome = httpx.Response | Exception


def drive(flow: Flow[Any], outcomes: Iterable[Outcome]) -> tuple[Any, list[Any]]:
    """Run ``flow``, answering each HttpCall with the next outcome (a response, or an exception thrown in) and
    each Sleep with None. Returns (value or raised WorkOSAPIError, effects yielded)."""
    pending = iter(outcomes)
    effects: list[Any] = []
    try:
        effect = next(flow)
        while True:
            effects.append(effect)
            if isinstance(effect, Sleep):
                effect = flow.send(None)
                continue
            assert isinstance(effect, HttpCall)
            outcome = next(pending, None)
            assert outcome is not None, "the flow asked for more HTTP calls than the test expected"
            effect = flow.throw(outcome) if isinstance(outcome, Exception) else flow.send(outcome)
    except StopIteration as stop:
        return stop.value, effects
    except WorkOSAPIError as exc:
        return exc, effects


def calls(effects: list[Any]) -> list[httpx.Request]:
    return [e.request for e in effects if isinstance(e, HttpCall)]


def sleeps(effects: list[Any]) -> list[float]:
    return [e.seconds for e in effects if isinstance(e, Sleep)]


def post() -> httpx.Request:
    return httpx.Request("POST", "https://api.workos.com/user_management/authenticate", json={"a": 1})


def test_success_at_once() -> None:
    ok = answer(200, {"ok": True})
    result, effects = drive(api.call_flow(post(), max_retries=3), [ok])
    assert result is ok
    assert len(effects) == 1
    assert isinstance(effects[0], HttpCall)


def test_retries_503_with_growing_jittered_backoff_and_one_idempotency_key() -> None:
    ok = answer(200, {"ok": True})
    outcomes = [answer(503, content=b"busy"), answer(503, content=b"busy"), answer(502), ok]
    result, effects = drive(api.call_flow(post(), max_retries=3), outcomes)
    assert result is ok
    assert [type(e) for e in effects] == [HttpCall, Sleep, HttpCall, Sleep, HttpCall, Sleep, HttpCall]
    delays = sleeps(effects)
    for attempt, delay in enumerate(delays):
        full = 0.5 * 2**attempt
        assert full / 2 <= delay <= full
    keys = {r.headers["idempotency-key"] for r in calls(effects)}
    assert len(keys) == 1
    assert uuid.UUID(keys.pop()).version == 4


def test_backoff_bounds_are_exact_at_jitter_extremes() -> None:
    for rand, expected in ((lambda: 0.0, [0.25, 0.5, 1.0]), (lambda: 1.0, [0.5, 1.0, 2.0])):
        outcomes = [answer(500)] * 3 + [answer(200, {})]
        _, effects = drive(api.call_flow(post(), max_retries=3, rand=rand), outcomes)
        assert sleeps(effects) == expected
    assert api.backoff_delay(20, rand=lambda: 1.0) == api.BACKOFF_CAP_SECONDS
    assert api.backoff_delay(20, rand=lambda: 0.0) == api.BACKOFF_CAP_SECONDS / 2


def test_each_logical_post_gets_its_own_key_and_existing_keys_are_kept() -> None:
    first, second = post(), post()
    drive(api.call_flow(first, max_retries=0), [answer(200, {})])
    drive(api.call_flow(second, max_retries=0), [answer(200, {})])
    assert first.headers["idempotency-key"] != second.headers["idempotency-key"]
    mine = post()
    mine.headers["Idempotency-Key"] = "caller-chosen"
    _, effects = drive(api.call_flow(mine, max_retries=2), [answer(503), answer(200, {})])
    assert {r.headers["idempotency-key"] for r in calls(effects)} == {"caller-chosen"}


def test_get_has_no_idempotency_key() -> None:
    request = httpx.Request("GET", "https://api.workos.com/sso/jwks/c")
    _, effects = drive(api.call_flow(request, max_retries=1), [answer(503), answer(200, {"keys": []})])
    assert all("idempotency-key" not in r.headers for r in calls(effects))
    assert len(calls(effects)) == 2


@pytest.mark.parametrize("max_retries", [0, 1, 2, 3])
def test_gives_up_after_max_retries(max_retries: int) -> None:
    outcomes = [answer(503, {"message": "down"}, headers={"X-Request-ID": f"req_{i}"}) for i in range(10)]
    error, effects = drive(api.call_flow(post(), max_retries=max_retries), outcomes)
    assert type(error) is ProviderUnavailableError
    assert error.status == 503
    assert error.request_id == f"req_{max_retries}"
    assert len(calls(effects)) == max_retries + 1
    assert len(sleeps(effects)) == max_retries


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_every_retryable_status_is_retried(status: int) -> None:
    ok = answer(200, {})
    result, effects = drive(api.call_flow(post(), max_retries=1), [answer(status), ok])
    assert result is ok
    assert len(calls(effects)) == 2


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, {"error": "invalid_grant", "error_description": "gone"}, OAuthError),
        (403, {"code": "sso_required", "message": "sso"}, AuthenticationError),
        (401, {"message": "Unauthorized"}, WorkOSAPIError),
        (404, None, InvalidResponseError),  # not JSON: kept as transient, but a 404 is not retried
        (501, None, ProviderUnavailableError),
    ],
)
def test_terminal_answers_are_not_retried(status: int, body: Any, kind: type[WorkOSAPIError]) -> None:
    error, effects = drive(api.call_flow(post(), max_retries=3), [answer(status, body)])
    assert type(error) is kind
    assert len(effects) == 1


def test_retry_after_seconds_is_honoured_exactly() -> None:
    ok = answer(200, {})
    outcomes = [answer(429, {}, headers={"Retry-After": "3"}), answer(503, headers={"Retry-After": "0"}), ok]
    result, effects = drive(api.call_flow(post(), max_retries=3), outcomes)
    assert result is ok
    assert sleeps(effects) == [3.0, 0.0]


def test_retry_after_http_date_is_honoured() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    _, effects = drive(
        api.call_flow(post(), max_retries=1), [answer(429, headers={"Retry-After": when}), answer(200, {})]
    )
    (delay,) = sleeps(effects)
    assert 3 <= delay <= 5


def test_retry_after_beyond_cap_raises_at_once() -> None:
    error, effects = drive(
        api.call_flow(post(), max_retries=3), [answer(429, {"message": "slow"}, headers={"Retry-After": "60"})]
    )
    assert type(error) is RateLimitError
    assert error.retry_after == 60.0
    assert len(effects) == 1
    error, effects = drive(
        api.call_flow(post(), max_retries=1, retry_after_cap=100), [answer(429, headers={"Retry-After": "60"})] * 2
    )
    assert sleeps(effects) == [60.0]


def test_rate_limit_exhausted_raises_rate_limit_error() -> None:
    error, effects = drive(api.call_flow(post(), max_retries=2), [answer(429, headers={"Retry-After": "1"})] * 5)
    assert type(error) is RateLimitError
    assert error.retry_after == 1.0
    assert sleeps(effects) == [1.0, 1.0]


def test_transport_failures_are_retried_then_surface_typed() -> None:
    timeout = ProviderUnavailableError("POST /user_management/authenticate timed out", code="timeout")
    ok = answer(200, {})
    result, effects = drive(api.call_flow(post(), max_retries=2), [timeout, ok])
    assert result is ok
    assert len(sleeps(effects)) == 1
    lost = ProviderUnavailableError("failed", code="network_error")
    error, effects = drive(api.call_flow(post(), max_retries=2), [lost, lost, lost])
    assert error is lost
    assert len(calls(effects)) == 3
    assert len({r.headers["idempotency-key"] for r in calls(effects)}) == 1


def test_other_exceptions_are_not_swallowed() -> None:
    flow = api.call_flow(post(), max_retries=3)
    next(flow)
    with pytest.raises(KeyError):
        flow.throw(KeyError("boom"))


# ---------------------------------------------------------------------------------------------- operations


def auth_body(**extra: Any) -> dict[str, Any]:
    return {"user": user_json(), "access_token": "at", "refresh_token": "rt", **extra}


def test_code_flow_returns_authentication_response(config: AuthKitConfig) -> None:
    body = auth_body(organization_id="org_1", impersonator={"email": "admin@x", "reason": "support"})
    result, effects = drive(api.authenticate_with_code_flow(config, CODE, code_verifier=VERIFIER), [answer(200, body)])
    assert isinstance(result, AuthenticationResponse)
    assert result.user.id == "user_1"
    assert result.organization_id == "org_1"
    assert result.access_token == "at"
    assert result.refresh_token == "rt"
    assert result.impersonator is not None
    assert result.impersonator.email == "admin@x"
    sent = json.loads(calls(effects)[0].content)
    assert sent["code"] == CODE
    assert sent["code_verifier"] == VERIFIER


def test_refresh_flow_sends_organization(config: AuthKitConfig) -> None:
    result, effects = drive(
        api.authenticate_with_refresh_token_flow(config, REFRESH, organization_id="org_2"),
        [answer(503), answer(200, auth_body(organization_id="org_2"))],
    )
    assert isinstance(result, AuthenticationResponse)
    assert result.organization_id == "org_2"
    bodies = [json.loads(r.content) for r in calls(effects)]
    assert bodies[0] == bodies[1]
    assert bodies[0]["organization_id"] == "org_2"
    assert bodies[0]["refresh_token"] == REFRESH


@pytest.mark.parametrize(
    "content",
    [
        b'{"access_token": "at", "refresh_token": ',
        b"<html>ok</html>",
        b"[]",
        b"",
        json.dumps({"user": user_json(), "access_token": "at"}).encode(),
        json.dumps({"access_token": "at", "refresh_token": "rt"}).encode(),
        json.dumps({"user": {"id": 5}, "access_token": "at", "refresh_token": "rt"}).encode(),
    ],
)
def test_malformed_success_is_invalid_response(config: AuthKitConfig, content: bytes) -> None:
    response = answer(200, content=content, headers={"X-Request-ID": "req_bad"})
    error, effects = drive(api.authenticate_with_code_flow(config, CODE), [response])
    assert type(error) is InvalidResponseError
    assert error.code == "invalid_response"
    assert error.is_transient
    assert error.status == 200
    assert error.request_id == "req_bad"
    assert error.body == {}  # a success body holds tokens: never attached
    assert len(effects) == 1  # a 200 is not retried


def test_invalid_response_never_shows_tokens(config: AuthKitConfig) -> None:
    body = {"user": "nope", "access_token": "at_SECRET", "refresh_token": "rt_SECRET"}
    error, _ = drive(api.authenticate_with_refresh_token_flow(config, REFRESH), [answer(200, body)])
    assert isinstance(error, InvalidResponseError)
    assert "SECRET" not in str(error)
    assert "SECRET" not in repr(error)


def test_jwks_flow(config: AuthKitConfig) -> None:
    jwks = {"keys": [{"kty": "RSA", "kid": "k1", "n": "x", "e": "AQAB"}]}
    result, effects = drive(api.fetch_jwks_flow(config), [answer(200, jwks)])
    assert result == jwks
    assert calls(effects)[0].method == "GET"
    bad_bodies: list[dict[str, Any]] = [{}, {"keys": {}}, {"keys": ["k"]}]
    for bad in bad_bodies:
        error, _ = drive(api.fetch_jwks_flow(config), [answer(200, bad)])
        assert type(error) is InvalidResponseError


def test_validate_api_key_flow(config: AuthKitConfig) -> None:
    key = {"object": "api_key", "id": "api_key_1", "name": "CI"}
    assert drive(api.validate_api_key_flow(config, "sk_x"), [answer(200, {"api_key": key})])[0] == key
    assert drive(api.validate_api_key_flow(config, "sk_x"), [answer(200, {"api_key": None})])[0] is None
    for bad in ({}, {"api_key": "yes"}):
        error, _ = drive(api.validate_api_key_flow(config, "sk_x"), [answer(200, bad)])
        assert type(error) is InvalidResponseError


def test_flows_take_max_retries_from_config(config: AuthKitConfig) -> None:
    strict = AuthKitConfig(
        client_id="c", api_key="k", redirect_uri="https://a.example/cb", cookie_password="p" * 32, max_retries=1
    )
    error, effects = drive(api.fetch_jwks_flow(strict), [answer(503)] * 5)
    assert isinstance(error, ProviderUnavailableError)
    assert len(calls(effects)) == 2
    _, effects = drive(api.fetch_jwks_flow(config), [answer(503)] * 5)
    assert len(calls(effects)) == config.max_retries + 1


def test_retry_budget_is_bounded_in_time() -> None:
    start = time.monotonic()
    _, effects = drive(api.call_flow(post(), max_retries=3), [answer(503)] * 4)
    assert sum(sleeps(effects)) <= 0.5 + 1 + 2
    assert time.monotonic() - start < 1  # driving by hand never really sleeps
