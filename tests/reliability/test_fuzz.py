"""Property-based tests (hypothesis) over everything a request's cookies and callback query reach.

Any ``Cookie`` header (arbitrary bytes), any mutation of a genuine sealed cookie, any callback query: the answer
is a signed-out request (or, for a mutation that left the authenticated part of the seal intact, the very same
user), or a typed :class:`~authkit_core.errors.AuthKitError` at the unit level, and never an unhandled exception
or a 5xx. The middleware is driven in-process (ASGI through one event loop in a portal thread, WSGI directly) with
every store (cookie, memory, SQLite) and the real emulator behind it, so thousands of examples run in seconds.

Each example is counted into the suite's figures (``fuzz_examples``).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio.from_thread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authkit_adapters import asgi as authkit_asgi
from authkit_adapters import wsgi as authkit_wsgi
from authkit_core.cookies import parse_cookie_header
from authkit_core.engine import AuthKit
from authkit_core.errors import AuthKitError
from authkit_core.iron import seal, unseal, unseal_session
from authkit_core.models import AuthenticationResponse
from authkit_core.signin import verifier_cookie_name
from authkit_core.storage.base import SessionStore
from authkit_core.storage.cookie import CookieSessionStore
from authkit_core.storage.handles import open_handle
from authkit_core.storage.memory import MemorySessionStore
from authkit_core.storage.sql import SQLSessionStore

from .conftest import SESSION, asgi_app, count, wsgi_app

PASSWORDS = {"1": "fuzzing-cookie-password-0123456789-abcdefghij"}
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class App:
    """The test app behind both middleware, on one engine, called in-process."""

    def __init__(self, kit: AuthKit, portal: Any) -> None:
        self.kit = kit
        self.portal = portal
        self.asgi = authkit_asgi.AuthKitMiddleware(asgi_app, authkit=kit)
        self.wsgi = authkit_wsgi.AuthKitWSGIMiddleware(wsgi_app, authkit=kit)

    def via_asgi(self, headers: list[tuple[bytes, bytes]], path: str = "/", query: bytes = b"") -> tuple[int, Any]:
        """Call the ASGI middleware: ``(status, [(name, value)...] and body)``."""

        async def call() -> tuple[int, Any]:
            sent: list[dict[str, Any]] = []
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": path,
                "raw_path": path.encode(),
                "query_string": query,
                "root_path": "",
                "headers": headers,
                "client": ("127.0.0.1", 40000),
                "server": ("127.0.0.1", 8000),
            }

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            await self.asgi(scope, receive, send)
            start = next(m for m in sent if m["type"] == "http.response.start")
            body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
            names = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in start["headers"]]
            return int(start["status"]), (names, body)

        return self.portal.call(call)  # type: ignore[no-any-return]

    def via_wsgi(self, cookie: str | None, path: str = "/", query: str = "") -> tuple[int, Any]:
        """Call the WSGI middleware with ``HTTP_COOKIE`` = ``cookie`` (a latin-1 string, as PEP 3333 has it)."""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": None,
        }
        if cookie is not None:
            environ["HTTP_COOKIE"] = cookie
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started.append((status, headers))
            return lambda data: None

        result = self.wsgi(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started[-1]
        return int(status.split(" ", 1)[0]), ([(k.lower(), v) for k, v in headers], body)


def check_signed_out(status: int, answer: Any) -> None:
    """A 200 whose body says signed out and whose session cookies are only ever expired."""
    headers, body = answer
    assert status == 200, body[:300]
    assert json.loads(body)["email"] is None
    for name, value in headers:
        if name == "set-cookie" and value.startswith(SESSION):
            assert "Max-Age=0" in value, value


@pytest.fixture(scope="module")
def portal() -> Iterator[Any]:
    """One event loop, in a thread, for every ASGI call of the module."""
    with anyio.from_thread.start_blocking_portal() as portal:
        yield portal


def _store(kind: str, tmp: Path) -> SessionStore:
    if kind == "cookie":
        return CookieSessionStore()
    if kind == "memory":
        return MemorySessionStore()
    return SQLSessionStore(f"sqlite:///{tmp}/fuzz.sqlite3", create_tables=True)


@pytest.fixture(scope="module", params=["cookie", "memory", "sqlite"])
def app(
    request: pytest.FixtureRequest, workos_emulator_server: Any, portal: Any, tmp_path_factory: Any
) -> Iterator[App]:
    """The test app on an engine with the given store, against the session's emulator."""
    store = _store(str(request.param), tmp_path_factory.mktemp("fuzz"))
    config = workos_emulator_server.config(cookie_password=PASSWORDS, redirect_uri="http://127.0.0.1:8000/callback")
    kit = AuthKit(config, store=store)
    yield App(kit, portal)
    kit.close()
    if isinstance(store, SQLSessionStore):
        store.dispose()


@pytest.fixture(scope="module")
def genuine(app: App, workos_emulator_server: Any) -> str:
    """A genuine signed-in cookie value of the app's store (for Alice)."""
    answer = workos_emulator_server.emulator.issue_session("user_alice")
    auth = app.kit.authenticate({})
    app.kit.save_session(auth, AuthenticationResponse.from_api(answer), {})
    cookie = next(c for c in auth.cookies if c.name == SESSION and not c.is_deletion)
    return cookie.value


# --- the parsing layer -------------------------------------------------------------------------------------------


@FUZZ
@given(st.one_of(st.text(), st.lists(st.text(), max_size=4), st.none()))
def test_parse_cookie_header_never_fails(header: Any) -> None:
    count("fuzz_examples")
    cookies = parse_cookie_header(header)
    assert all(isinstance(k, str) and k and k == k.strip() for k in cookies)
    assert all(isinstance(v, str) for v in cookies.values())


_NAME = st.text(st.characters(blacklist_characters=";= \t\r\n\x0b\x0c", blacklist_categories=("Cs",)), min_size=1)
_VALUE = st.text(st.characters(blacklist_characters=';"', blacklist_categories=("Cs", "Zs", "Cc")))


@FUZZ
@given(st.lists(st.tuples(_NAME, _VALUE), min_size=1, max_size=6))
def test_parse_cookie_header_first_of_a_name_wins(pairs: list[tuple[str, str]]) -> None:
    count("fuzz_examples")
    cookies = parse_cookie_header("; ".join(f"{n}={v}" for n, v in pairs))
    for name, _value in pairs:
        if name.strip():
            first = next(v for n, v in pairs if n.strip() == name.strip())
            assert cookies[name.strip()] == first.strip()


_SEAL_FIELD = st.one_of(
    st.text(alphabet="0123456789abcdef", max_size=70),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=90),
    st.text(max_size=20),
)


@FUZZ
@given(
    st.lists(_SEAL_FIELD, min_size=0, max_size=9),
    st.sampled_from(["", "~2", "~1", "~", "~x"]),
    st.sampled_from(["Fe26.2", "Fe26.1", "", "fe26.2"]),
)
def test_seal_shaped_garbage_raises_only_seal_errors(fields: list[str], suffix: str, prefix: str) -> None:
    count("fuzz_examples")
    text = "*".join([prefix, *fields]) + suffix
    for opener in (
        lambda: unseal(text, PASSWORDS),
        lambda: unseal_session(text, PASSWORDS),
        lambda: open_handle(text, PASSWORDS),
    ):
        with contextlib.suppress(AuthKitError):
            opener()


@FUZZ
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=3))
def test_mutated_seals_never_open_to_other_data(noise: bytes, position: int, how: int) -> None:
    count("fuzz_examples")
    original = {"h": "a-handle-of-thirty-two-characters-x"}
    sealed = seal(original, PASSWORDS)
    at = position % len(sealed)
    junk = noise.decode("latin-1")
    mutated = [
        sealed[:at] + junk + sealed[at:],
        sealed[:at] + sealed[at + 1 + len(noise) :],
        sealed[:at] + junk + sealed[at + len(noise) :],
        sealed[at:] + sealed[:at],
    ][how]
    try:
        opened = unseal(mutated, PASSWORDS)
    except AuthKitError:
        return
    assert opened in (original, {})  # only a change to the unauthenticated version suffix opens (see iron.py)


# --- through the middleware ------------------------------------------------------------------------------------


@FUZZ
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=3))
def test_any_cookie_bytes_through_asgi_sign_out(app: App, values: list[bytes]) -> None:
    count("fuzz_examples")
    headers = [(b"cookie", value) for value in values]
    check_signed_out(*app.via_asgi(headers))


@FUZZ
@given(st.text(alphabet=st.characters(max_codepoint=255), max_size=400))
def test_any_cookie_text_through_wsgi_signs_out(app: App, cookie: str) -> None:
    count("fuzz_examples")
    check_signed_out(*app.via_wsgi(cookie))


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from([SESSION, SESSION + ".0", SESSION + ".1", SESSION + ".10", "other", SESSION + ".x"]),
            st.text(
                alphabet=st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=";"), max_size=200
            ),
        ),
        max_size=5,
    )
)
def test_our_cookie_names_with_any_values_sign_out(app: App, jar: list[tuple[str, str]]) -> None:
    count("fuzz_examples")
    header = "; ".join(f"{n}={v}" for n, v in jar)
    check_signed_out(*app.via_wsgi(header))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutations_of_a_genuine_cookie(app: App, genuine: str, data: st.DataObject) -> None:
    """Flip, cut, insert, splice: the result is signed out, or (when only the unauthenticated version suffix was
    touched) Alice herself; never anyone else, never an error."""
    count("fuzz_examples")
    at = data.draw(st.integers(min_value=0, max_value=len(genuine) - 1))
    op = data.draw(st.sampled_from(["flip", "cut", "insert", "truncate", "rotate", "double"]))
    junk = data.draw(st.text(alphabet="ABCDEFabcdef0123456789*~-_.", min_size=1, max_size=8))
    mutated = {
        "flip": genuine[:at] + ("A" if genuine[at] != "A" else "b") + genuine[at + 1 :],
        "cut": genuine[:at] + genuine[at + len(junk) :],
        "insert": genuine[:at] + junk + genuine[at:],
        "truncate": genuine[:at],
        "rotate": genuine[at:] + genuine[:at],
        "double": genuine + genuine,
    }[op]
    face = data.draw(st.sampled_from(["asgi", "wsgi"]))
    header = f"{SESSION}={mutated}"
    status, answer = app.via_asgi([(b"cookie", header.encode())]) if face == "asgi" else app.via_wsgi(header)
    assert status == 200
    email = json.loads(answer[1])["email"]
    if email is None:
        check_signed_out(status, answer)
        return
    assert email == "alice@example.com"
    base = genuine[: genuine.rindex("~")]  # what the MAC covers: an opened mutation left all of it intact
    assert mutated == base or mutated.startswith(base + "~"), op


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["code", "state", "error", "error_description", "x"]),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=120),
        max_size=5,
    ),
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=";"), max_size=200),
)
def test_any_callback_query_is_a_400_page(app: App, query: dict[str, str], cookie_value: str) -> None:
    count("fuzz_examples")
    state = query.get("state") or "s"
    cookie = f"{verifier_cookie_name(state)}={cookie_value}; {SESSION}={cookie_value}"
    status, (headers, body) = app.via_wsgi(cookie, path="/callback", query=urlencode(query))
    assert status == 400, body[:300]
    assert b"Sign-in failed" in body
    assert not any(n == "set-cookie" and v.startswith(SESSION + "=") and "Max-Age=0" not in v for n, v in headers)


# --- every value that reaches a Location or Set-Cookie header ------------------------------------------------------

_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")


def check_headers_safe(app: App, status: int, answer: Any) -> None:
    """Never a 5xx; every header value printable ASCII (no CR/LF: nothing injected); a ``Location`` on the site
    or at the provider (the sign-in and logout URLs)."""
    headers, body = answer
    assert status < 500, body[:300]
    for name, value in headers:
        assert _HEADER_VALUE.fullmatch(value), (name, value)
        if name == "location":
            on_site = value.startswith("/") and not value.startswith("//")
            assert on_site or value.startswith(app.kit.config.api_base_url + "/"), value


@FUZZ
@given(st.text(max_size=300), st.sampled_from(["/sign-out", "/sign-in-url", "/protected"]))
def test_any_return_to_gives_safe_headers(app: App, return_to: str, path: str) -> None:
    count("fuzz_examples")
    query = urlencode({"return_to": return_to}) if path != "/protected" else urlencode({"q": return_to})
    check_headers_safe(app, *app.via_asgi([(b"accept", b"text/html")], path=path, query=query.encode()))
    status, answer = app.via_wsgi(None, path=path, query=query)
    check_headers_safe(app, status, answer)
    if path == "/sign-in-url":
        assert status == 200
        url = json.loads(answer[1])["url"]
        assert url.isascii() and not _CONTROL_CHARACTER.search(url)
