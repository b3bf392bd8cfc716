"""The engine's caches as a user sees them: one memory budget sizes all of them, ``cache_results=False`` turns all
of them off, nothing they hold outlives what it came from, and the per-session figures the budget is computed from
match what ``tracemalloc`` measures."""

from __future__ import annotations

import dataclasses
import gc
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from authkit_core import UserInfo
from authkit_core.cache import SESSION_CACHE_BYTES, CacheBudget
from authkit_core.cookies import parse_cookie_header
from authkit_core.engine import AuthKit
from authkit_core.models import AuthenticationResponse, NoUserInfo, Session
from authkit_core.results import AuthResult
from authkit_core.storage import handles, sealed_payload
from authkit_core.storage.cookie import CookieSessionStore
from authkit_core.storage.memory import ENTRY_BYTES, MemorySessionStore
from authkit_core.storage.sql import SQLSessionStore

from .conftest import sign_in


def _store_session(kit: AuthKit, emulator: Any, user: str = "user_alice") -> dict[str, str]:
    """A fresh session for ``user`` saved through ``kit`` (no browser round trip); the cookies that carry it."""
    result = AuthResult(NoUserInfo())
    kit.save_session(result, AuthenticationResponse.from_api(emulator.issue_session(user)), {})
    return {c.name: c.value for c in result.cookies if not c.is_deletion}


def test_one_budget_sizes_every_cache(workos_emulator: Any) -> None:
    store = CookieSessionStore()
    kit = AuthKit(workos_emulator.config(), store=store, cache_memory_mb=1)
    sessions = CacheBudget(1).sessions("cookie")
    assert sessions == 1024 * 1024 // SESSION_CACHE_BYTES["cookie"]
    assert kit._warm.capacity == kit._warm_headers.capacity == kit._infos.capacity == kit._bearers.capacity == sessions
    assert kit._sio().jwks.verified_cache_size == sessions
    assert store._opened.capacity == sessions
    # an explicit store size is the app's choice, kept
    fixed = CookieSessionStore(cache_size=7)
    AuthKit(workos_emulator.config(), store=fixed, cache_memory_mb=1)
    assert fixed._opened.capacity == 7


def test_cache_results_false_turns_every_cache_off(workos_emulator: Any) -> None:
    store = CookieSessionStore()
    kit = AuthKit(workos_emulator.config(), store=store, cache_results=False)
    _, jar = sign_in(kit)
    for _ in range(3):
        assert isinstance(kit.authenticate(jar).user_info, UserInfo)
    assert kit.peek(jar) is None
    assert [len(c) for c in (kit._warm, kit._warm_headers, kit._infos, kit._bearers, store._opened)] == [0] * 5
    assert kit._sio().jwks.verified_cache_size == 0 and len(kit._sio().jwks._verified) == 0


def test_a_signed_out_cookie_is_not_answered_from_memory(workos_emulator: Any) -> None:
    store = CookieSessionStore()
    kit = AuthKit(workos_emulator.config(), store=store)
    _, jar = sign_in(kit)
    result = kit.authenticate(jar)
    value = jar[kit.config.cookie_name]
    assert kit.peek(jar) is not None and store._opened.get(value) is not None
    kit.sign_out(result, jar)
    assert kit.peek(jar) is None and store._opened.get(value) is None


def test_a_removed_cookie_password_is_not_recalled(workos_emulator: Any) -> None:
    store = CookieSessionStore()
    old = workos_emulator.config()
    kit = AuthKit(old, store=store)
    _, jar = sign_in(kit)
    assert isinstance(kit.authenticate(jar).user_info, UserInfo)  # now remembered by the store
    rotated = dataclasses.replace(old, cookie_password="n" * 40)
    result = AuthKit(rotated, store=store).authenticate(jar)  # the old password is gone from the configuration
    assert not isinstance(result.user_info, UserInfo) and result.reason == "bad_mac"


def test_a_deleted_server_side_session_leaves_nothing_cached(workos_emulator: Any, tmp_path: Path) -> None:
    store = SQLSessionStore(f"sqlite:///{tmp_path / 's.db'}", create_tables=True)
    kit = AuthKit(workos_emulator.config(), store=store)
    jar = _store_session(kit, workos_emulator)
    result = kit.authenticate(jar)
    handle = result.loaded.ref  # type: ignore[union-attr]
    value = jar[kit.config.cookie_name]
    assert handles._opened.get(value) is not None and sealed_payload._ciphers.get(handle) is not None
    kit.sign_out(result, jar)
    assert handles._opened.get(value) is None and handles._sealed.get(handle) is None
    assert sealed_payload._ciphers.get(handle) is None
    assert not isinstance(kit.authenticate(jar).user_info, UserInfo)


def test_more_sessions_than_the_budget_are_all_served(workos_emulator: Any) -> None:
    # Beyond the budget a request pays the uncached path; nobody is signed out and the caches stay bounded.
    store = CookieSessionStore()
    kit = AuthKit(workos_emulator.config(), store=store, cache_memory_mb=0.2)
    capacity = kit._warm.capacity
    jars = [_store_session(kit, workos_emulator) for _ in range(capacity * 3)]
    warm = 0
    for _ in range(3):
        for jar in jars:
            warm += kit.peek(jar) is not None
            assert isinstance(kit.authenticate(jar).user_info, UserInfo)
    assert len(kit._warm) == capacity and len(store._opened) <= capacity
    assert warm >= capacity  # partial hits on later passes, where plain LRU would have none


def _grown(work: Any) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        work()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


N = 300


def test_the_cookie_stores_bytes_per_cached_session_are_what_the_budget_assumes(workos_emulator: Any) -> None:
    store = CookieSessionStore()
    kit = AuthKit(workos_emulator.config(), store=store)
    values = [_store_session(kit, workos_emulator)[kit.config.cookie_name] for _ in range(N)]
    kit.authenticate({kit.config.cookie_name: values[0]})  # one-time costs (JWKS, keys) outside the measure
    store._opened.clear()

    def one_pass() -> None:
        for value in values:  # a browser's Cookie header, as a server hands it over (a new object per request)
            header = f"_ga=GA1.2.345678.901234; theme=dark; {kit.config.cookie_name}={value}".encode()
            assert isinstance(kit.authenticate(parse_cookie_header(header)).user_info, UserInfo)

    per_session = _grown(one_pass) / N
    print(f"cookie store: {per_session:.0f} bytes per cached session")
    assert 0.6 * SESSION_CACHE_BYTES["cookie"] <= per_session <= 1.3 * SESSION_CACHE_BYTES["cookie"], per_session


def test_a_server_side_stores_bytes_per_cached_session_are_what_the_budget_assumes(
    workos_emulator: Any, tmp_path: Path
) -> None:
    store = SQLSessionStore(f"sqlite:///{tmp_path / 's.db'}", create_tables=True)
    kit = AuthKit(workos_emulator.config(), store=store)
    values = [_store_session(kit, workos_emulator)[kit.config.cookie_name] for _ in range(N)]
    kit.authenticate({kit.config.cookie_name: values[0]})
    for value in values:  # what sign-in itself remembered is not the per-request cost
        handles._opened.discard(value)

    def one_pass() -> None:
        for value in values:
            header = f"_ga=GA1.2.345678.901234; {kit.config.cookie_name}={value}".encode()
            assert isinstance(kit.authenticate(parse_cookie_header(header)).user_info, UserInfo)

    per_session = _grown(one_pass) / N
    assert 0.6 * SESSION_CACHE_BYTES["server"] <= per_session <= 1.3 * SESSION_CACHE_BYTES["server"], per_session


@pytest.mark.parametrize("count", [500])
def test_the_memory_stores_entry_bytes_are_what_its_bound_assumes(workos_emulator: Any, count: int) -> None:
    store = MemorySessionStore(max_memory_mb=1)
    assert store.max_entries == 1024 * 1024 // ENTRY_BYTES
    store.bind(workos_emulator.config())
    sealed = [
        json.dumps(AuthenticationResponse.from_api(workos_emulator.issue_session("user_alice")).to_session().to_json())
        for _ in range(count)
    ]

    def fill() -> None:  # each session decoded anew, as a sign-in or a refresh answer is
        for text in sealed:
            store.create(Session.from_json(json.loads(text)))

    per_entry = _grown(fill) / count
    assert 0.6 * ENTRY_BYTES <= per_entry <= 1.3 * ENTRY_BYTES, per_entry
