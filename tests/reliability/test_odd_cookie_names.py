"""Odd cookie names and values on refresh, sign-out and the sign-in callback, over real HTTP (ASGI under uvicorn,
WSGI under ``wsgiref``).

``str.isdigit()`` accepts ``¹``: a request carrying ``wos-session.¹`` (the byte ``0xB9``, read as latin-1) made the
cookie store take it for a chunk of ours and expire it, and ``Set-Cookie: wos-session.¹=...`` cannot be written:
refresh, sign-out and the callback answered 500 (and a refresh that crashed after WorkOS rotated the token lost
the session). 500 junk ``wos-session.N`` cookies made 500 ``Set-Cookie`` headers. Now only ``wos-session.<ASCII
index below MAX_CHUNKS, no leading zero>`` is ours (``storage/cookie.py``).

The deterministic tests below fail on the code before the fix; the hypothesis properties then throw arbitrary
cookie jars (unicode and junk names, 500 ``wos-session.N``-like names, empty, quoted, long and duplicated values,
raw latin-1 and UTF-8 bytes) at the three paths on both faces and the cookie and memory stores: never a 5xx,
never more than ``MAX_CHUNKS + 2`` ``Set-Cookie`` headers, and only cookie names we could have written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authkit_core.cookies import MAX_SCOPE_DOMAINS, MAX_SCOPE_PATHS
from authkit_core.storage.cookie import MAX_CHUNKS
from authkit_core.storage.memory import MemorySessionStore

from .conftest import ALICE, SESSION, Site, authorize, count, expires_session, set_cookies, sign_in, whoami

#: The most cookie names one answer may write: the session cookie, its chunks, the sign-in state cookie.
NAMES_BOUND = MAX_CHUNKS + 2
#: The most ``Set-Cookie`` headers one answer may carry: each name in every scope an ambiguous (duplicated) session
#: cookie is expired in (``expiries_for_every_scope``: host-only, parent domains and the cookie domain, by paths).
SET_COOKIE_BOUND = NAMES_BOUND * (MAX_SCOPE_DOMAINS + 1) * MAX_SCOPE_PATHS
#: Names we may write: the session cookie, a chunk of it, a sign-in state cookie.
OURS = re.compile(rf"^(?:{re.escape(SESSION)}(?:\.(?:0|[1-9][0-9]*))?|wos-auth-verifier-[0-9a-f]+)$")

SUPERSCRIPT_ONE = SESSION.encode() + b".\xb9"  # ``wos-session.¹`` as a browser sends it (latin-1)


@pytest.fixture(params=["cookie", "memory"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """The store behind the app."""
    return str(request.param)


@pytest.fixture
def mounted(site: Site, store_kind: str) -> Site:
    """``site`` serving the test app on an engine with the chosen store."""
    site.mount(site.kit(store=MemorySessionStore() if store_kind == "memory" else None))
    return site


@pytest.fixture
def raw(mounted: Site) -> Iterator[httpx.Client]:
    """A client with no cookie jar: every test sends its own ``Cookie`` header, bytes as they are."""
    with httpx.Client(base_url=mounted.base_url, follow_redirects=False, timeout=30) as client:
        yield client


def header(*pairs: tuple[bytes, bytes]) -> bytes:
    """A ``Cookie`` header value (between two plain cookies, so that HTTP/1.1 can carry a name or value that
    starts or ends with white space: a header value cannot)."""
    return b"; ".join([b"first=1", *(name + b"=" + value for name, value in pairs), b"last=1"])


def jar_pairs(client: httpx.Client) -> list[tuple[bytes, bytes]]:
    """The cookies a signed-in browser holds, as header pairs."""
    return [(name.encode(), value.encode()) for name, value in client.cookies.items()]


def check_answer(response: httpx.Response) -> dict[str, dict[str, str]]:
    """No 5xx; a bounded number of ``Set-Cookie`` headers, each naming a cookie of ours."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    raw_headers = response.headers.get_list("set-cookie")
    assert len(raw_headers) <= SET_COOKIE_BOUND, f"{len(raw_headers)} Set-Cookie headers"
    names = {value.split("=", 1)[0] for value in raw_headers}
    assert len(names) <= NAMES_BOUND, f"{len(names)} cookie names written"
    for name in names:
        assert OURS.match(name), f"wrote a cookie that is not ours: {name!r}"
    return set_cookies(response)


def signed_in_cookies(site: Site) -> list[tuple[bytes, bytes]]:
    """The cookies of a browser signed in as Alice through the real sign-in flow."""
    with site.client() as browser:
        sign_in(browser)
        return jar_pairs(browser)


# --- the defect, deterministically (fails on the code before the fix) ------------------------------------------


@pytest.mark.parametrize("where", ["after", "before"])
def test_superscript_chunk_name_on_refresh_keeps_the_session(
    mounted: Site, raw: httpx.Client, workos_emulator: Any, where: str
) -> None:
    genuine = signed_in_cookies(mounted)
    odd = [(SUPERSCRIPT_ONE, b"x")]
    count("attacks")
    response = raw.get("/refresh", headers={b"Cookie": header(*(genuine + odd if where == "after" else odd + genuine))})
    written = check_answer(response)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["email"] == ALICE
    assert workos_emulator.grant_count("refresh_token") == 1
    # the rotated session reached the browser: the next request is signed in with it, no second grant
    jar = dict(genuine)
    for name, attrs in written.items():
        if attrs.get("max-age") == "0":
            jar.pop(name.encode(), None)
        else:
            jar[name.encode()] = attrs["value"].encode()
    again = raw.get("/", headers={b"Cookie": header(*jar.items(), *odd)})
    check_answer(again)
    assert again.json()["email"] == ALICE
    assert workos_emulator.grant_count("refresh_token") == 1


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "signed-out"])
def test_superscript_chunk_name_on_sign_out(mounted: Site, raw: httpx.Client, signed_in: bool) -> None:
    genuine: list[tuple[bytes, bytes]] = []
    if signed_in:
        genuine = signed_in_cookies(mounted)
    count("attacks")
    response = raw.get("/sign-out", headers={b"Cookie": header(*genuine, (SUPERSCRIPT_ONE, b"x"))})
    check_answer(response)
    assert response.status_code == 307, response.text[:300]
    assert expires_session(response)


def test_superscript_chunk_name_on_the_callback(mounted: Site, raw: httpx.Client) -> None:
    with mounted.client() as browser:
        first = browser.get("/protected")
        assert first.status_code == 307
        callback = authorize(first.headers["location"])
        state_cookies = jar_pairs(browser)
    count("attacks")
    path = callback[len(mounted.base_url) :] if callback.startswith(mounted.base_url) else callback
    response = raw.get(path, headers={b"Cookie": header(*state_cookies, (SUPERSCRIPT_ONE, b"x"))})
    written = check_answer(response)
    assert response.status_code == 307, response.text[:300]
    session = written[SESSION]["value"]
    with mounted.client() as after:
        after.cookies.set(SESSION, session)
        assert whoami(after)[1]["email"] == ALICE


@pytest.mark.parametrize("path", ["/sign-out", "/refresh", "/"])
def test_five_hundred_junk_chunk_names_expire_at_most_the_chunk_limit(
    mounted: Site, raw: httpx.Client, path: str
) -> None:
    genuine = signed_in_cookies(mounted)
    junk = [(f"{SESSION}.{i}".encode(), b"") for i in range(500)]
    junk += [(f"{SESSION}.0{i}".encode(), b"j") for i in range(100)]
    count("attacks")
    response = raw.get(path, headers={b"Cookie": header(*genuine, *junk)})
    check_answer(response)


@pytest.mark.parametrize("path", ["/", "/refresh", "/sign-out", "/callback"])
def test_odd_names_sent_twice_with_two_values_are_not_echoed(mounted: Site, raw: httpx.Client, path: str) -> None:
    """A duplicated session cookie is ambiguous and expired in every scope; a duplicated odd name or junk chunk is
    not ours and must not be echoed (``wos-session.¹`` cannot be written: it was a 500)."""
    genuine = signed_in_cookies(mounted)
    odd = [(SUPERSCRIPT_ONE, b"a"), (SUPERSCRIPT_ONE, b"b")]
    odd += [(f"{SESSION}.{i}".encode(), v) for i in range(300) for v in (b"a", b"b")]
    count("attacks")
    response = raw.get(path, headers={b"Cookie": header(*genuine, *odd)})
    written = check_answer(response)
    assert f"{SESSION}.{MAX_CHUNKS}" not in written


# --- properties -----------------------------------------------------------------------------------------------

_HEADER_BYTES = [0x09, *range(0x20, 0x7F), *range(0x80, 0x100)]  # what HTTP/1.1 lets a header value carry
_LATIN1_TEXT = st.text(alphabet=st.sampled_from([chr(b) for b in _HEADER_BYTES if chr(b) not in ";="]), max_size=24)
_DIGITS = "0123456789¹²³\u0663\u0661\uff10\uff11\uff12"  # ASCII and not (superscripts, Arabic-Indic, fullwidth)
_ODD_NAME = st.one_of(
    st.sampled_from(
        [
            SESSION,
            f"{SESSION}.¹",
            f"{SESSION}.²",
            f"{SESSION}.01",
            f"{SESSION}.00",
            f"{SESSION}.0",
            f"{SESSION}.9",
            f"{SESSION}.{MAX_CHUNKS}",
            f"{SESSION}.-1",
            f"{SESSION}.+1",
            f"{SESSION}.",
            f"{SESSION}..1",
            f"{SESSION}.1 ",
            f" {SESSION}.1",
            f'"{SESSION}.1"',
            "wos-auth-verifier-00000000",
            "",
        ]
    ),
    st.builds(lambda digits: f"{SESSION}.{digits}", st.text(alphabet=_DIGITS, min_size=1, max_size=4)),
    st.builds(lambda tail: SESSION + tail, _LATIN1_TEXT),
    _LATIN1_TEXT,
)
_ODD_VALUE = st.one_of(
    st.sampled_from(["", '"', '""', '"quoted"', "Fe26.2**", "x"]),
    _LATIN1_TEXT,
    st.builds(lambda n: "A" * n, st.integers(min_value=100, max_value=1000)),
)


def _encode(text: str, utf8: bool) -> bytes:
    """As a browser would send it: latin-1 when it fits (or asked), else UTF-8 (the server reads latin-1)."""
    if not utf8:
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            pass
    return text.encode("utf-8")


@st.composite
def cookie_jars(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    """Odd cookies: unicode and junk names, empty, quoted, long and duplicated values, sometimes 500 junk
    ``wos-session.N``-like names."""
    utf8 = draw(st.booleans())
    pairs = [
        (_encode(name, utf8), _encode(value, utf8))
        for name, value in draw(st.lists(st.tuples(_ODD_NAME, _ODD_VALUE), max_size=4))
    ]
    duplicate: bool = draw(st.booleans())
    if pairs and duplicate:
        name, value = draw(st.sampled_from(pairs))
        differs: bool = draw(st.booleans())
        pairs.append((name, value + b"2" if differs else value))  # a duplicate name, with the same or another value
    flood = draw(st.sampled_from(["none", "none", "chunks", "zero-padded", "ambiguous-chunks", "superscripts"]))
    if flood == "chunks":
        pairs += [(f"{SESSION}.{i}".encode(), b"") for i in range(500)]
    elif flood == "zero-padded":
        pairs += [(f"{SESSION}.{i:03d}".encode(), b"") for i in range(500)]
    elif flood == "ambiguous-chunks":  # each name twice with two values: an ambiguous session cookie
        pairs += [(f"{SESSION}.{i}".encode(), v) for i in range(250) for v in (b"a", b"b")]
    elif flood == "superscripts":
        supers = b"\xb9\xb2\xb3"  # latin-1 superscripts one, two, three
        pairs += [(SESSION.encode() + b"." + supers[i % 3 : i % 3 + 1] * (1 + i // 60), b"") for i in range(300)]
    return draw(st.permutations(pairs))


PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _fresh_session(raw: httpx.Client, emulator: Any) -> list[tuple[bytes, bytes]]:
    """A new genuine session (through ``POST /save``), as header pairs: each example refreshes its own."""
    answer = raw.post("/save", json=emulator.issue_session("user_alice"))
    assert answer.status_code == 200, answer.text[:300]
    return [(n.encode(), a["value"].encode()) for n, a in set_cookies(answer).items() if a.get("max-age") != "0"]


@PROPERTY
@given(odd=cookie_jars(), genuine_first=st.booleans())
def test_refresh_with_any_cookies_is_never_an_error(
    mounted: Site, raw: httpx.Client, workos_emulator: Any, odd: list[tuple[bytes, bytes]], genuine_first: bool
) -> None:
    count("fuzz_examples")
    genuine = _fresh_session(raw, workos_emulator)
    pairs = genuine + odd if genuine_first else odd + genuine
    check_answer(raw.get("/refresh", headers={b"Cookie": header(*pairs)}))


@PROPERTY
@given(odd=cookie_jars(), signed_in=st.booleans())
def test_sign_out_with_any_cookies_is_never_an_error(
    mounted: Site, raw: httpx.Client, workos_emulator: Any, odd: list[tuple[bytes, bytes]], signed_in: bool
) -> None:
    count("fuzz_examples")
    genuine = _fresh_session(raw, workos_emulator) if signed_in else []
    response = raw.get("/sign-out", headers={b"Cookie": header(*genuine, *odd)})
    check_answer(response)
    assert response.status_code == 307


@PROPERTY
@given(odd=cookie_jars(), signed_in=st.booleans())
def test_callback_with_any_cookies_is_never_an_error(
    mounted: Site, raw: httpx.Client, workos_emulator: Any, odd: list[tuple[bytes, bytes]], signed_in: bool
) -> None:
    count("fuzz_examples")
    genuine = _fresh_session(raw, workos_emulator) if signed_in else []
    start = raw.get("/sign-in-url")
    state_cookies = [(n.encode(), a["value"].encode()) for n, a in set_cookies(start).items()]
    callback = authorize(start.json()["url"])
    path = callback[len(mounted.base_url) :]
    response = raw.get(path, headers={b"Cookie": header(*state_cookies, *genuine, *odd)})
    check_answer(response)
    assert response.status_code in (307, 400)  # 400: an odd cookie of the same name hid the state cookie
