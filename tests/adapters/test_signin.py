"""The sign-in state, callback validation and response rules of ``authkit_core.signin`` (pure: no I/O)."""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authkit_core import AuthKitConfig
from authkit_core.iron import seal, unseal
from authkit_core.pkce import code_challenge
from authkit_core.signin import (
    NO_STORE_CACHE_CONTROL,
    VERIFIER_COOKIE_PREFIX,
    SignInCallbackError,
    add_session_cache_headers,
    callback_cookies_to_expire,
    fnv1a32,
    redirect_status,
    safe_return_path,
    start_sign_in,
    validate_callback,
    verifier_cookie_name,
)

PASSWORD = "signin-test-cookie-password-0123456789abcdef"


def make_config(redirect_uri: str = "http://127.0.0.1:8000/callback", **kw: object) -> AuthKitConfig:
    return AuthKitConfig(
        client_id="client_test",
        api_key="sk_test",
        redirect_uri=redirect_uri,
        cookie_password=PASSWORD,
        **kw,  # type: ignore[arg-type]
    )


def attributes(header: str) -> tuple[str, str, dict[str, str]]:
    cookie = SimpleCookie()
    cookie.load(header)
    ((name, morsel),) = cookie.items()
    attrs = {k: str(v) for k, v in morsel.items() if v}
    return name, morsel.value, attrs


def test_fnv1a32_known_vectors() -> None:
    assert fnv1a32("") == "811c9dc5"
    assert fnv1a32("a") == "e40c292c"
    assert fnv1a32("foobar") == "bf9cf968"


def test_start_sign_in_seals_state_into_url_and_cookie() -> None:
    config = make_config()
    req = start_sign_in(config, return_pathname="/dash?tab=1", custom_state="mine", login_hint="a@b.c")
    query = parse_qs(urlsplit(req.url).query)
    assert query["state"] == [req.state]
    assert query["login_hint"] == ["a@b.c"]
    assert query["redirect_uri"] == [config.redirect_uri]
    payload = unseal(req.state, PASSWORD)
    assert set(payload) == {"nonce", "codeVerifier", "returnPathname", "customState"}
    assert payload["returnPathname"] == "/dash?tab=1"
    assert payload["customState"] == "mine"
    assert query["code_challenge"] == [code_challenge(payload["codeVerifier"])]
    assert req.cookie.name == VERIFIER_COOKIE_PREFIX + fnv1a32(req.state) == verifier_cookie_name(req.state)
    name, value, attrs = attributes(req.cookie.header_value())
    assert (name, value) == (req.cookie.name, req.state)
    assert attrs["max-age"] == "600"
    assert attrs["path"] == "/"
    assert attrs["samesite"] == "Lax"
    assert "httponly" in attrs
    assert "secure" not in attrs


def test_state_cookie_is_secure_on_https_and_keeps_lax_even_with_samesite_none() -> None:
    _, _, attrs = attributes(start_sign_in(make_config("https://app.example/callback")).cookie.header_value())
    assert "secure" in attrs
    _, _, attrs = attributes(start_sign_in(make_config(cookie_samesite="none")).cookie.header_value())
    assert attrs["samesite"] == "Lax"
    assert "secure" in attrs


def test_optional_state_keys_are_left_out_and_each_sign_in_is_fresh() -> None:
    config = make_config()
    a, b = start_sign_in(config), start_sign_in(config)
    payload = unseal(a.state, PASSWORD)
    assert set(payload) == {"nonce", "codeVerifier"}
    assert a.state != b.state
    assert a.cookie.name != b.cookie.name
    assert payload["nonce"] != unseal(b.state, PASSWORD)["nonce"]


def test_start_sign_in_options_reach_the_url() -> None:
    req = start_sign_in(make_config(), screen_hint="sign-up", organization_id="org_1", redirect_uri="http://h/other/cb")
    query = parse_qs(urlsplit(req.url).query)
    assert query["screen_hint"] == ["sign-up"]
    assert query["organization_id"] == ["org_1"]
    assert query["redirect_uri"] == ["http://h/other/cb"]


def test_start_sign_in_neutralises_a_hostile_return_path() -> None:
    req = start_sign_in(make_config(), return_pathname="//evil.example/x")
    assert unseal(req.state, PASSWORD)["returnPathname"] == "/"


def callback(config: AuthKitConfig, **kw: str) -> tuple[dict[str, str], dict[str, str]]:
    req = start_sign_in(config, **kw)  # type: ignore[arg-type]
    return {"code": "the-code", "state": req.state}, {req.cookie.name: req.cookie.value}


def test_validate_callback_returns_code_verifier_and_return_path() -> None:
    config = make_config()
    query, cookies = callback(config, return_pathname="/after?x=1", custom_state="cs")
    params = validate_callback(config, query, cookies)
    assert params.code == "the-code"
    assert params.code_verifier == unseal(query["state"], PASSWORD)["codeVerifier"]
    assert params.return_pathname == "/after?x=1"
    assert params.custom_state == "cs"


def test_validate_callback_defaults_the_return_path_to_root() -> None:
    config = make_config()
    query, cookies = callback(config)
    assert validate_callback(config, query, cookies).return_pathname == "/"


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda q, c: q.pop("state"), "missing_state"),
        (lambda q, c: q.pop("code"), "missing_code"),
        (lambda q, c: c.clear(), "missing_verifier_cookie"),
        (lambda q, c: c.update({k: v + "x" for k, v in c.items()}), "state_mismatch"),
        (lambda q, c: q.update(error="access_denied"), "authorization_failed"),
    ],
)
def test_validate_callback_errors(mutate: object, code: str) -> None:
    config = make_config()
    query, cookies = callback(config)
    mutate(query, cookies)  # type: ignore[operator]
    with pytest.raises(SignInCallbackError) as info:
        validate_callback(config, query, cookies)
    assert info.value.code == code
    assert info.value.status == 400
    assert query.get("code", "") not in str(info.value) or not query.get("code")


def test_validate_callback_refuses_a_state_sealed_with_another_password() -> None:
    config = make_config()
    forged = seal({"nonce": "n" * 22, "codeVerifier": "v" * 43}, "another-password-that-is-long-enough-123")
    with pytest.raises(SignInCallbackError) as info:
        validate_callback(config, {"code": "c", "state": forged}, {verifier_cookie_name(forged): forged})
    assert info.value.code == "invalid_state"


def test_validate_callback_refuses_a_well_sealed_but_malformed_state() -> None:
    config = make_config()
    state = seal({"nonce": "n"}, PASSWORD)
    with pytest.raises(SignInCallbackError) as info:
        validate_callback(config, {"code": "c", "state": state}, {verifier_cookie_name(state): state})
    assert info.value.code == "invalid_state"


def test_callback_cookies_to_expire() -> None:
    config = make_config()
    query, cookies = callback(config)
    (cookie,) = callback_cookies_to_expire(config, query)
    assert cookie.name in cookies
    assert cookie.is_deletion
    _, value, attrs = attributes(cookie.header_value())
    assert value == ""
    assert attrs["max-age"] == "0"
    assert attrs["path"] == "/"
    assert callback_cookies_to_expire(config, {}) == []


HOSTILE = [
    "//evil.example",
    "//evil.example/path",
    "https://evil.example",
    "https:evil",
    "javascript:alert(1)",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil",
    "%2F%2Fevil",
    "/%2F%2Fevil",
    "/%2f/evil",
    "/%5Cevil",
    "/%255C%255Cevil",
    "/\t/evil.example",
    "/\n/evil",
    "/\x00",
    "/ok\x7f",
    "evil.example",
    "",
    "///evil",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_safe_return_path_neutralises_hostile_values(value: str) -> None:
    assert safe_return_path(value) == "/"


@pytest.mark.parametrize("value", ["/", "/dashboard", "/a/b?c=d&e=%2F#frag", "/caf%C3%A9", "/p?next=//x"])
def test_safe_return_path_keeps_same_origin_paths(value: str) -> None:
    assert safe_return_path(value) == value


def test_safe_return_path_none_and_default() -> None:
    assert safe_return_path(None) == "/"
    assert safe_return_path("//x", default="/home") == "/home"


@given(st.text())
def test_safe_return_path_never_leaves_the_site(value: str) -> None:
    out = safe_return_path(value)
    for text in (out, unquote(out), unquote(unquote(out))):
        assert text.startswith("/")
        assert not text.startswith("//")
        assert "\\" not in text
        assert not urlsplit(text).netloc


@pytest.mark.parametrize(
    ("method", "status"),
    [("GET", 307), ("HEAD", 307), ("get", 307), ("POST", 303), ("PUT", 303), ("DELETE", 303), ("PATCH", 303)],
)
def test_redirect_status(method: str, status: int) -> None:
    assert redirect_status(method) == status


def test_cache_headers_added() -> None:
    out = add_session_cache_headers([("Content-Type", "text/html")])
    assert ("Vary", "Cookie") in out
    assert ("Cache-Control", NO_STORE_CACHE_CONTROL) in out
    assert ("Content-Type", "text/html") in out


def test_cache_headers_keep_an_existing_vary_and_replace_cache_control() -> None:
    out = add_session_cache_headers(
        [("vary", "Accept-Encoding"), ("Cache-Control", "public, max-age=3600"), ("Vary", "Origin")]
    )
    varies = [v for k, v in out if k.lower() == "vary"]
    assert varies == ["Accept-Encoding, Origin, Cookie"]
    assert [v for k, v in out if k.lower() == "cache-control"] == [NO_STORE_CACHE_CONTROL]


@pytest.mark.parametrize("existing", ["cookie", "Accept, Cookie", "*"])
def test_cache_headers_do_not_duplicate_vary(existing: str) -> None:
    out = add_session_cache_headers([("Vary", existing)])
    assert [v for k, v in out if k == "Vary"] == [existing]
