"""The engine's warm path (``AuthKit.peek``): a repeated cookie is answered from memory, and only while that is
exactly as strong as recomputing it."""

from __future__ import annotations

import time
from typing import Any

from authkit_core import UserInfo
from authkit_core.cookies import header_key, parse_cookie_header
from authkit_core.engine import AuthKit
from authkit_core.storage.cookie import CookieSessionStore
from authkit_core.storage.memory import MemorySessionStore

from .conftest import sign_in


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def test_repeated_cookie_is_answered_without_work(workos_emulator: Any) -> None:
    kit = AuthKit(workos_emulator.config(), store=CookieSessionStore())
    _, jar = sign_in(kit)
    assert kit.peek(jar) is None  # never authenticated yet: nothing to answer from
    first = kit.authenticate(jar)
    warm = kit.peek(jar)
    assert warm is not None and warm is not first  # a fresh result object per request
    assert isinstance(warm.user_info, UserInfo) and warm.user_info == first.user_info
    assert warm.cookies == [] and warm.error is None
    warm.cookies.append(object())  # type: ignore[arg-type]  # mutating one result leaks into no other
    assert kit.peek(jar).cookies == []  # type: ignore[union-attr]
    assert kit.peek({**jar, kit.config.cookie_name: jar[kit.config.cookie_name] + "x"}) is None


def test_warm_answer_ends_when_the_token_is_due_for_refresh(workos_emulator: Any) -> None:
    clock = Clock()
    kit = AuthKit(workos_emulator.config(), store=CookieSessionStore(), clock=clock)
    _, jar = sign_in(kit)  # a 300 s token: refresh due 30 s before expiry
    kit.authenticate(jar)
    clock.offset = 260
    assert kit.peek(jar) is not None
    clock.offset = 275  # inside the refresh buffer: authenticate must run (and refresh)
    assert kit.peek(jar) is None
    result = kit.authenticate(jar)
    assert result.refreshed and workos_emulator.grant_count("refresh_token") == 1


def test_cache_results_false_never_answers_from_memory(workos_emulator: Any) -> None:
    kit = AuthKit(workos_emulator.config(), store=CookieSessionStore(cache_size=0), cache_results=False)
    _, jar = sign_in(kit)
    kit.authenticate(jar)
    assert kit.peek(jar) is None
    assert isinstance(kit.authenticate(jar).user_info, UserInfo)


def test_the_memory_store_answers_from_memory_only_for_its_live_entry(workos_emulator: Any) -> None:
    """A memory session can be revoked, deleted or refreshed at any time: the warm path reads the live entry and
    reuses an answer only for that very session object."""
    store = MemorySessionStore()
    kit = AuthKit(workos_emulator.config(), store=store)
    signed_in, jar = sign_in(kit)
    assert kit.peek(jar) is None  # nothing authenticated yet
    result = kit.authenticate(jar)
    warm = kit.peek(jar)
    assert warm is not None and warm.user_info == result.user_info and warm.session is result.session
    # revoked server-side: the very next request is signed out, not answered from memory
    assert store.revoke_user_sessions(signed_in.user_info.user.id) == 1
    assert kit.peek(jar) is None and not isinstance(kit.authenticate(jar).user_info, UserInfo)
    # signed out: the same
    _, jar = sign_in(kit)
    result = kit.authenticate(jar)
    assert kit.peek(jar) is not None
    kit.sign_out(result, jar)
    assert kit.peek(jar) is None and not isinstance(kit.authenticate(jar).user_info, UserInfo)


def test_the_memory_stores_warm_answer_ends_with_a_refresh(workos_emulator: Any) -> None:
    clock = Clock()
    kit = AuthKit(workos_emulator.config(), store=MemorySessionStore(clock=clock), clock=clock)
    _, jar = sign_in(kit)
    first = kit.authenticate(jar)
    assert kit.peek(jar) is not None
    clock.offset = 275  # inside the refresh buffer: no warm answer, the next request refreshes
    assert kit.peek(jar) is None
    refreshed = kit.authenticate(jar)
    assert refreshed.refreshed and refreshed.session is not first.session
    clock.offset = 0  # the emulator minted the new token on its own clock: back to it
    assert kit.authenticate(jar).session is refreshed.session  # verified once more, then remembered
    warm = kit.peek(jar)  # the refreshed entry is answered from memory, never the old one
    assert warm is not None and warm.session is refreshed.session


def test_stores_with_io_never_answer_from_memory(workos_emulator: Any, tmp_path: Any) -> None:
    from authkit_core.storage.sql import SQLSessionStore

    store = SQLSessionStore(f"sqlite:///{tmp_path / 's.db'}", create_tables=True)
    kit = AuthKit(workos_emulator.config(), store=store)
    _, jar = sign_in(kit)
    kit.authenticate(jar)
    assert kit.peek(jar) is None
    store.dispose()


# --- peek_header: the middleware's hot path, keyed on the whole Cookie header ------------------------------------


def _header(jar: dict[str, str], *extra: str) -> bytes:
    """The ``Cookie`` header a browser sends for ``jar`` (plus ``extra`` cookies), as an ASGI server hands it over."""
    return "; ".join([*(f"{name}={value}" for name, value in jar.items()), *extra]).encode("latin-1")


def test_a_repeated_header_is_answered_by_peek_header(workos_emulator: Any) -> None:
    kit = AuthKit(workos_emulator.config(), store=CookieSessionStore())
    _, jar = sign_in(kit)
    header = _header(jar)
    assert kit.peek_header(header) is None  # never authenticated yet
    first = kit.authenticate(parse_cookie_header(header))
    answer = kit.peek_header(bytes(bytearray(header)))  # a new, equal object: what a server hands over each time
    assert answer is not None
    cookies, info, loaded = answer
    assert cookies[kit.config.cookie_name] == jar[kit.config.cookie_name]
    assert info == first.user_info and loaded.session == first.session
    # A header that differs where its key does not look is confirmed against the whole value: a miss, not an answer.
    step = len(header) >> 5
    position = next(i for i in range(len(header) // 2, len(header)) if i % step and header[i : i + 1] != b"A")
    changed = header[:position] + b"A" + header[position + 1 :]
    assert header_key(changed) == header_key(header) and kit.peek_header(changed) is None
    # Another cookie beside the session's: another header, answered once a request with it went the usual way.
    other = _header(jar, "theme=dark")
    assert kit.peek_header(other) is None
    assert kit.peek(parse_cookie_header(other)) is not None
    answer = kit.peek_header(other)
    assert answer is not None and answer[0]["theme"] == "dark" and answer[1] == first.user_info


def test_peek_header_ends_when_the_token_is_due_and_at_sign_out(workos_emulator: Any) -> None:
    clock = Clock()
    kit = AuthKit(workos_emulator.config(), store=CookieSessionStore(), clock=clock)
    _, jar = sign_in(kit)  # a 300 s token: refresh due 30 s before expiry
    header = _header(jar)
    result = kit.authenticate(parse_cookie_header(header))
    clock.offset = 260
    assert kit.peek_header(header) is not None
    clock.offset = 275  # inside the refresh buffer: the request must go the usual way, and refresh
    assert kit.peek_header(header) is None
    clock.offset = 0
    result = kit.authenticate(parse_cookie_header(header))
    assert kit.peek_header(header) is not None
    kit.sign_out(result, parse_cookie_header(header))
    assert kit.peek_header(header) is None and kit.peek(parse_cookie_header(header)) is None


def test_peek_header_never_answers_an_ambiguous_header_or_without_caching(workos_emulator: Any) -> None:
    kit = AuthKit(workos_emulator.config(), store=CookieSessionStore())
    _, jar = sign_in(kit)
    name = kit.config.cookie_name
    ambiguous = _header(jar, f"{name}=planted")  # the session cookie twice, with two values
    kit.authenticate(parse_cookie_header(ambiguous))
    assert kit.peek_header(ambiguous) is None
    off = AuthKit(workos_emulator.config(), store=CookieSessionStore(cache_size=0), cache_results=False)
    header = _header(jar)
    off.authenticate(parse_cookie_header(header))
    assert off.peek_header(header) is None


def test_peek_header_is_for_cookie_only_stores(workos_emulator: Any) -> None:
    """A store that can revoke a session (memory, SQL, Redis) is never answered from a header: its warm path reads
    the live entry first (``peek``)."""
    kit = AuthKit(workos_emulator.config(), store=MemorySessionStore())
    _, jar = sign_in(kit)
    header = _header(jar)
    kit.authenticate(parse_cookie_header(header))
    assert kit.peek(parse_cookie_header(header)) is not None
    assert kit.peek_header(header) is None
