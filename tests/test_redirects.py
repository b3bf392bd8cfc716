"""The one checked path of redirect targets and the builders of ``Location`` and ``Set-Cookie`` headers.

Unit tests and hypothesis properties: whatever text reaches :mod:`authkit_core.redirects`, the sign-in state, the
cookie builders or the middleware's redirect, the header that comes out is printable ASCII with no way to start
another header, a redirect never leaves the site (or the allowed origins), and nothing raises but the typed errors
the functions document.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authkit_adapters._core import MiddlewareCore, RequestContext, RequestInfo
from authkit_core import AuthKit
from authkit_core.config import AuthKitConfig
from authkit_core.cookies import SetCookie, expiries_for_every_scope, parse_cookie_header, session_cookie
from authkit_core.errors import ConfigurationError
from authkit_core.redirects import (
    absolute_return_url,
    location_header,
    normalize_origin,
    safe_redirect_target,
    safe_return_path,
)
from authkit_core.signin import (
    MAX_STATE_COOKIE_BYTES,
    MAX_STATE_COOKIES,
    SignInStateTooLargeError,
    is_navigation,
    start_sign_in,
    state_cookies_to_expire,
    validate_callback,
    verifier_cookie_name,
)
from authkit_core.workos_api import logout_url

PASSWORD = "p" * 32
HEADER_SAFE = re.compile(r"[\x21-\x7e]*")
# what a Set-Cookie value may hold: printable ASCII and spaces between attributes, never CR, LF or other controls
SET_COOKIE_SAFE = re.compile(r"[\x20-\x7e]*")


def make_config(**overrides: Any) -> AuthKitConfig:
    settings_: dict[str, Any] = {
        "client_id": "client_123",
        "api_key": "sk_test",
        "redirect_uri": "https://app.example.com/callback",
        "cookie_password": PASSWORD,
    }
    settings_.update(overrides)
    return AuthKitConfig(**settings_)


CONFIG = make_config(allowed_redirect_origins=("https://docs.example.com",))

HOSTILE = [
    "https://evil.example/x",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "https:evil.example",
    "/%2F%2Fevil.example",
    "/%252F%252Fevil.example",
    "/x%0d%0aSet-Cookie:%20evil=1",
    "/x\r\nSet-Cookie: evil=1",
    "/x%250d%250aSet-Cookie:%20evil=1",
    "https://app.example.com@evil.example/",
    "https://evil.example\\@app.example.com/",
    "http://app.example.com/",  # another scheme than the redirect URI's: another origin
    "https://app.example.com:8443/",  # another port
    "https://app.example.com.evil.example/",
    "\t/path",
    " //evil.example",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_targets_become_the_default(value: str) -> None:
    assert safe_redirect_target(CONFIG, value) == "/"
    assert absolute_return_url(CONFIG, value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/dashboard?tab=2#x", "/dashboard?tab=2#x"),
        ("/ünïcode/路径", "/%C3%BCn%C3%AFcode/%E8%B7%AF%E5%BE%84"),
        ("/a b", "/a%20b"),
        ("https://app.example.com/after", "https://app.example.com/after"),
        ("https://APP.example.com:443/after", "https://APP.example.com:443/after"),
        ("https://docs.example.com/guide", "https://docs.example.com/guide"),
        ("https://docs.example.com/ü", "https://docs.example.com/%C3%BC"),
    ],
)
def test_same_origin_paths_and_allowed_origins_pass(value: str, expected: str) -> None:
    assert safe_redirect_target(CONFIG, value) == expected


def test_the_logout_return_url_is_absolute_on_the_apps_origin() -> None:
    assert absolute_return_url(CONFIG, "/bye?x=1") == "https://app.example.com/bye?x=1"
    assert absolute_return_url(CONFIG, "https://docs.example.com/bye") == "https://docs.example.com/bye"
    assert absolute_return_url(CONFIG, None) is None
    assert absolute_return_url(CONFIG, "") is None


def test_allowed_origins_are_normalised_and_checked() -> None:
    config = make_config(allowed_redirect_origins=("HTTPS://Docs.Example.com:443", "http://localhost:3000"))
    assert config.allowed_redirect_origins == ("https://docs.example.com", "http://localhost:3000")
    for bad in ("https://docs.example.com/path", "docs.example.com", "ftp://x.example", "https://u@x.example"):
        with pytest.raises(ConfigurationError):
            make_config(allowed_redirect_origins=(bad,))


def test_origins() -> None:
    assert normalize_origin("https://A.example:443/x") == "https://a.example"
    assert normalize_origin("http://a.example:8080") == "http://a.example:8080"
    assert normalize_origin("http://[::1]:8000/") == "http://[::1]:8000"
    for bad in ("null", "https://", "https://u:p@a.example", "https://a.example:99999", "https://é.example"):
        assert normalize_origin(bad) is None


@given(st.text())
def test_location_header_is_always_header_safe(value: str) -> None:
    out = location_header(value)
    assert HEADER_SAFE.fullmatch(out) and out


@given(st.text())
def test_any_text_as_a_target_stays_on_the_site(value: str) -> None:
    for out in (safe_redirect_target(CONFIG, value), safe_return_path(value)):
        assert HEADER_SAFE.fullmatch(out)
        if out.startswith("/"):
            assert not out.startswith("//")
            assert "\\" not in out
            assert not urlsplit(out).netloc
        else:
            assert normalize_origin(out) in ("https://app.example.com", "https://docs.example.com")


@given(st.text(), st.text(alphabet=st.characters(codec="ascii"), min_size=1))
def test_logout_urls_are_header_safe_and_on_allowed_origins(return_to: str, sid: str) -> None:
    url = logout_url(CONFIG, sid, absolute_return_url(CONFIG, return_to))
    assert HEADER_SAFE.fullmatch(location_header(url))
    given_back = parse_qs(urlsplit(url).query).get("return_to")
    if given_back:
        assert normalize_origin(given_back[0]) in ("https://app.example.com", "https://docs.example.com")


@given(st.text(), st.text(), st.one_of(st.none(), st.text()), st.text())
def test_set_cookie_headers_never_carry_a_control_character(name: str, value: str, domain: Any, path: str) -> None:
    cookie = SetCookie(name=name or "x", value=value, max_age=0, domain=domain or None, path=path or "/")
    try:
        header = cookie.header_value()
    except ValueError:
        return  # refused whole, never half-written
    assert SET_COOKIE_SAFE.fullmatch(header)


@given(st.text(max_size=300), st.text(max_size=300))
def test_scope_expiries_for_any_host_and_path_are_safe(host: str, path: str) -> None:
    cookies = expiries_for_every_scope(CONFIG, ["wos-session", "wos-session.0"], host, path)
    assert 1 <= len(cookies) <= 2 * 16
    for cookie in cookies:
        assert cookie.is_deletion
        assert SET_COOKIE_SAFE.fullmatch(cookie.header_value())


def test_scope_expiries_cover_parent_domains_and_path_prefixes() -> None:
    cookies = expiries_for_every_scope(CONFIG, ["wos-session"], "app.example.com:8443", "/a/b/c/d/e")
    scopes = {(c.domain, c.path) for c in cookies}
    assert (None, "/") in scopes
    assert ("app.example.com", "/") in scopes
    assert ("example.com", "/a/b") in scopes
    assert ("com", "/") not in scopes  # never a bare top-level domain
    assert all(c.secure for c in cookies)
    # an IP address has no parent domain; a __Host- cookie only ever lives host-only on Path=/
    assert {c.domain for c in expiries_for_every_scope(CONFIG, ["x"], "127.0.0.1:80", "/")} == {None}
    hosted = expiries_for_every_scope(CONFIG, ["__Host-s"], "app.example.com", "/a/b")
    assert [(c.domain, c.path) for c in hosted] == [(None, "/")]


@given(st.text(max_size=6000), st.one_of(st.none(), st.text(max_size=200)))
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_sign_in_state_cookies_fit_in_4096_bytes(return_to: str, custom: str | None) -> None:
    request = start_sign_in(CONFIG, return_pathname=return_to, custom_state=custom)
    header = request.cookie.header_value()
    assert len(header.encode()) <= MAX_STATE_COOKIE_BYTES
    assert SET_COOKIE_SAFE.fullmatch(header)
    assert HEADER_SAFE.fullmatch(location_header(request.url)) and request.url.isascii()


def test_a_long_return_path_is_cut_to_its_path_then_to_the_root(caplog: pytest.LogCaptureFixture) -> None:
    request = start_sign_in(CONFIG, return_pathname="/report?" + "q=1&" * 1500)
    params = validate_callback(CONFIG, {"code": "c", "state": request.state}, {request.cookie.name: request.state})
    assert params.return_pathname == "/report"
    assert "too long for the state cookie" in caplog.text
    request = start_sign_in(CONFIG, return_pathname="/" + "a" * 5000)
    params = validate_callback(CONFIG, {"code": "c", "state": request.state}, {request.cookie.name: request.state})
    assert params.return_pathname == "/"


def test_a_custom_state_too_large_is_a_typed_error() -> None:
    with pytest.raises(SignInStateTooLargeError) as info:
        start_sign_in(CONFIG, custom_state="x" * 4000)
    assert info.value.code == "sign_in_state_too_large"


def test_state_cookies_take_the_session_cookies_prefix() -> None:
    for name, prefix in (("__Host-wos-session", "__Host-"), ("__Secure-wos-session", "__Secure-"), ("s", "")):
        config = make_config(cookie_name=name, redirect_uri="http://localhost:8000/callback")
        request = start_sign_in(config)
        assert request.cookie.name == verifier_cookie_name(request.state, prefix)
        assert request.cookie.name.startswith(prefix + "wos-auth-verifier-")
        assert request.cookie.secure is bool(prefix)  # browsers refuse a prefixed cookie without Secure
        assert request.cookie.domain is None and request.cookie.path == "/"
        # the callback reads the prefixed name only: an unprefixed copy planted by a sibling does not count
        planted = {verifier_cookie_name(request.state): request.state}
        if prefix:
            with pytest.raises(Exception, match="missing"):
                validate_callback(config, {"code": "c", "state": request.state}, planted)
        assert validate_callback(config, {"code": "c", "state": request.state}, {request.cookie.name: request.state})


def test_cookie_names_are_checked() -> None:
    with pytest.raises(ConfigurationError):
        make_config(cookie_name="__Host-s", cookie_domain="example.com")
    for bad in ("a b", "a;b", "ses\u00e9", "a=b", ""):
        with pytest.raises(ConfigurationError):
            make_config(cookie_name=bad)
    for domain in ("example.com; HttpOnly", "exa mple.com", "ex\r\nample.com", "-x.com"):
        with pytest.raises(ConfigurationError):
            make_config(cookie_domain=domain)
    assert make_config(cookie_domain=".example.com").cookie_domain == ".example.com"


def _sealed_state(expiry_order: int) -> str:
    request = start_sign_in(CONFIG)
    fields = request.state.split("*")
    fields[5] = str(1_000 + expiry_order)
    return "*".join(fields)


def test_state_cookies_are_capped_oldest_first() -> None:
    held = {verifier_cookie_name(str(i)): _sealed_state(i) for i in range(7)}
    new = start_sign_in(CONFIG).cookie
    expired = state_cookies_to_expire(CONFIG, held, [new])
    # 7 held + 1 new, at most 5 kept: the 3 oldest go
    assert [c.name for c in expired] == [verifier_cookie_name(str(i)) for i in range(3)]
    assert all(c.is_deletion for c in expired)
    assert state_cookies_to_expire(CONFIG, dict(list(held.items())[:4]), [new]) == []
    # one response starting more sign-ins than the cap keeps its last ones
    many = [start_sign_in(CONFIG).cookie for _ in range(MAX_STATE_COOKIES + 2)]
    assert [c.name for c in state_cookies_to_expire(CONFIG, {}, many)] == [c.name for c in many[:2]]


@pytest.mark.parametrize(
    ("headers", "navigation"),
    [
        ({"sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}, True),
        ({"sec-fetch-mode": "cors", "accept": "text/html"}, False),
        ({"sec-fetch-mode": "no-cors", "sec-fetch-dest": "image"}, False),
        ({"sec-fetch-mode": "navigate", "sec-purpose": "prefetch"}, False),
        ({"sec-fetch-dest": "document"}, True),
        ({"sec-fetch-dest": "script"}, False),
        ({"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, True),
        ({"accept": "*/*"}, False),
        ({"accept": "application/json"}, False),
        ({"accept": "image/avif,image/webp,*/*;q=0.8"}, False),
        ({"accept": "text/html", "x-requested-with": "XMLHttpRequest"}, False),
        ({}, True),  # neither header: an old client or a script following redirects
    ],
)
def test_navigation(headers: dict[str, str], navigation: bool) -> None:
    assert is_navigation(headers) is navigation


def _context(config: AuthKitConfig, **headers: str) -> RequestContext:
    core = MiddlewareCore(authkit=AuthKit(config))
    info = RequestInfo(
        method="GET",
        path="/page",
        raw_path="/page",
        query_string="",
        headers={"host": "app.example.com", **headers},
        cookies=parse_cookie_header(""),
        scheme="https",
    )
    return RequestContext(core, info)


def test_one_request_asking_twice_for_a_sign_in_gets_one_state_cookie() -> None:
    ctx = _context(CONFIG)
    first = ctx.sign_in_url(return_pathname="/a")
    assert ctx.sign_in_url(return_pathname="/a") == first
    assert ctx.sign_in_url(return_pathname="/b") != first
    assert len(ctx.cookies_to_write()) == 2


@given(st.text())
@settings(max_examples=80)
def test_any_recorded_redirect_is_header_safe(value: str) -> None:
    ctx = _context(CONFIG)
    ctx.redirect_to(value)
    response = ctx.pending_response()
    assert response is not None and response.status == 307
    location = dict(response.headers)["Location"]
    assert HEADER_SAFE.fullmatch(location)
    assert location.startswith("/") or normalize_origin(location) in (
        "https://app.example.com",
        "https://docs.example.com",
    )
    ctx.redirect_to(value, provider=True)
    assert HEADER_SAFE.fullmatch(dict(ctx.pending_response().headers)["Location"])  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("origin", "cross_site"),
    [
        ("https://app.example.com", False),
        ("https://app.example.com:443", False),
        ("http://app.example.com", True),  # same host, another scheme
        ("https://app.example.com:8443", True),  # same host, another port
        ("https://evil.example", True),
        ("null", True),
    ],
)
def test_sign_out_csrf_compares_whole_origins(origin: str, cross_site: bool) -> None:
    ctx = _context(CONFIG, origin=origin)
    info = RequestInfo(
        method="POST",
        path="/sign-out",
        raw_path="/sign-out",
        query_string="",
        headers={"host": "app.example.com", "origin": origin},
        cookies={},
        scheme="https",
    )
    assert ctx.core.is_cross_site(info) is cross_site


def test_session_cookies_keep_their_attributes() -> None:
    config = make_config(cookie_name="__Host-wos-session")
    cookie = session_cookie(config, config.cookie_name, "v")
    assert cookie.header_value() == "__Host-wos-session=v; HttpOnly; Max-Age=34560000; Path=/; SameSite=Lax; Secure"
