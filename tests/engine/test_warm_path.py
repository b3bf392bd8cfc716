"""The engine's warm path (``AuthKit.peek``): a repeated cookie is answered from memory, and only while that is
exactly as strong as recomputing it."""

from __future__ import annotations

import time
from typing import Any

from authkit_core import UserInfo
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
