"""``MemorySessionStore``: handles in the cookie, LRU bound, time-to-live, revocation on delete.

Sessions are built directly with fake tokens; time is a fake clock.
"""

from __future__ import annotations

import contextlib
import random
import secrets
import threading
from collections.abc import Sequence

import pytest

from authkit_core import AuthKitConfig, ConfigurationError, SessionError
from authkit_core.cookies import SetCookie
from authkit_core.models import Session, User
from authkit_core.storage.base import LoadedSession
from authkit_core.storage.handles import open_handle
from authkit_core.storage.memory import MemorySessionStore

CONFIG = AuthKitConfig(
    client_id="client_test",
    api_key="sk_test_key",
    redirect_uri="http://localhost:8000/callback",
    cookie_password="correct-horse-battery-staple-0123456789",
)
NAME = CONFIG.cookie_name


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_session(user_id: str = "user_01") -> Session:
    """A session with unique fake tokens."""
    return Session(
        access_token=f"at_{secrets.token_urlsafe(16)}",
        refresh_token=f"rt_{secrets.token_urlsafe(16)}",
        user=User(id=user_id, email=f"{user_id}@example.com"),
    )


def bound(**kwargs: object) -> MemorySessionStore:
    """A store bound to the test configuration."""
    store = MemorySessionStore(**kwargs)  # type: ignore[arg-type]
    store.bind(CONFIG)
    return store


def jar(cookies: Sequence[SetCookie]) -> dict[str, str]:
    """The request cookies after ``cookies``."""
    return {c.name: c.value for c in cookies if not c.is_deletion}


def assert_not_found(store: MemorySessionStore, cookies: dict[str, str]) -> None:
    """Signed out as ``not_found``, with the cookie expired."""
    result = store.load(cookies)
    assert result.loaded is None and result.reason == "not_found"
    assert [(c.name, c.is_deletion) for c in result.cookies] == [(NAME, True)]


def test_round_trip_and_cookie_holds_only_a_handle() -> None:
    store = bound()
    session = make_session()
    loaded, cookies = store.create(session)
    assert [c.name for c in cookies] == [NAME]
    assert session.refresh_token not in cookies[0].value
    assert open_handle(cookies[0].value, CONFIG.cookie_passwords) == loaded.ref
    result = store.load(jar(cookies))
    assert result.loaded is not None and result.loaded.session == session and result.loaded.key == loaded.key


def test_every_create_gets_a_new_handle() -> None:
    store = bound()
    session = make_session()
    first, first_cookies = store.create(session)
    second, second_cookies = store.create(session)
    assert first.key != second.key and first.ref != second.ref
    assert first_cookies[0].value != second_cookies[0].value
    assert len(store) == 2


def test_copied_cookie_stops_working_after_delete() -> None:
    store = bound()
    loaded, cookies = store.create(make_session())
    copied = jar(cookies)
    cleared = store.delete(loaded, copied)
    assert [(c.name, c.is_deletion) for c in cleared] == [(NAME, True)]
    assert_not_found(store, copied)
    assert store.reload(loaded) is None


def test_update_keeps_the_cookie_and_replaces_the_session() -> None:
    store = bound()
    loaded, cookies = store.create(make_session())
    newer = make_session()
    updated, written = store.update(loaded, newer)
    assert written == [] and updated.key == loaded.key
    result = store.load(jar(cookies))
    assert result.loaded is not None and result.loaded.session == newer
    reloaded = store.reload(loaded)
    assert reloaded is not None and reloaded.session == newer


def test_least_recently_used_entry_is_evicted(caplog: pytest.LogCaptureFixture) -> None:
    store = bound(max_entries=3)
    a, b, c = (store.create(make_session(f"user_{i}")) for i in range(3))
    assert store.load(jar(a[1])).loaded is not None  # a is now the most recently used
    assert store.evictions == 0
    with caplog.at_level("WARNING", logger="authkit_session"):
        d = store.create(make_session("user_3"))
    assert len(store) == 3 and store.evictions == 1
    assert_not_found(store, jar(b[1]))
    for kept in (a, c, d):
        assert store.load(jar(kept[1])).loaded is not None
    # the eviction is logged (a sign-out), once and then every 1,000th: the log does not grow with the load
    [record] = [r for r in caplog.records if "evicted" in r.getMessage()]
    assert "max_entries=3" in record.getMessage() and "signed out" in record.getMessage()
    caplog.clear()
    with caplog.at_level("WARNING", logger="authkit_session"):
        for i in range(1000):
            store.create(make_session(f"user_more_{i}"))
    assert store.evictions == 1001
    assert len([r for r in caplog.records if "evicted" in r.getMessage()]) == 1  # the 1,001st


def test_entries_expire_after_their_ttl_and_update_extends_it() -> None:
    clock = Clock()
    store = bound(ttl_seconds=10, clock=clock)
    loaded, cookies = store.create(make_session())
    _other, other_cookies = store.create(make_session("user_02"))
    clock.now += 6
    store.update(loaded, make_session())  # saved again: 10 more seconds
    clock.now += 6
    assert store.load(jar(cookies)).loaded is not None
    assert_not_found(store, jar(other_cookies))  # 12 s after its last save
    assert len(store) == 1  # the expired entry was dropped when read
    clock.now += 10
    assert_not_found(store, jar(cookies))


def test_default_ttl_is_the_cookie_max_age() -> None:
    clock = Clock()
    store = bound(clock=clock)
    _, cookies = store.create(make_session())
    clock.now += CONFIG.cookie_max_age - 1
    assert store.load(jar(cookies)).loaded is not None
    clock.now += 2
    assert_not_found(store, jar(cookies))


def test_bad_cookies_are_signed_out() -> None:
    store = bound()
    result = store.load({NAME: "garbage"})
    assert result.loaded is None and result.reason == "invalid_seal"
    assert [(c.name, c.is_deletion) for c in result.cookies] == [(NAME, True)]
    assert store.load({}).loaded is None and store.load({}).cookies == ()
    other = MemorySessionStore()
    other.bind(CONFIG)
    _, cookies = other.create(make_session())
    assert_not_found(store, jar(cookies))  # a valid handle this store never issued


def test_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        MemorySessionStore(max_entries=0)
    with pytest.raises(ConfigurationError):
        MemorySessionStore().load({NAME: "x"})  # not bound


def test_concurrent_creates_stay_within_the_bound() -> None:
    store = bound(max_entries=50)
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for i in range(100):
            _loaded, cookies = store.create(make_session(f"user_{i}"))
            store.load(jar(cookies))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 50


def test_update_never_re_creates_a_deleted_revoked_expired_or_evicted_entry() -> None:
    clock = Clock()
    store = bound(max_entries=2, ttl_seconds=10, clock=clock)
    deleted, deleted_cookies = store.create(make_session("user_a"))
    store.delete(deleted, jar(deleted_cookies))
    revoked, revoked_cookies = store.create(make_session("user_b"))
    assert store.revoke_user_sessions("user_b") == 1
    expired, expired_cookies = store.create(make_session("user_c"))
    clock.now += 11
    evicted, evicted_cookies = store.create(make_session("user_d"))
    store.create(make_session("user_e"))
    store.create(make_session("user_f"))  # the bound is 2: user_d's entry is evicted
    for loaded, cookies in (
        (deleted, deleted_cookies),
        (revoked, revoked_cookies),
        (expired, expired_cookies),
        (evicted, evicted_cookies),
    ):
        with pytest.raises(SessionError) as raised:
            store.update(loaded, make_session(loaded.session.user.id))
        assert raised.value.code == "session_not_found" and not raised.value.is_transient
        assert_not_found(store, jar(cookies))
    assert len(store) == 2


def indexed(store: MemorySessionStore) -> int:
    """How many keys the store's per-user index holds."""
    return sum(1 if isinstance(keys, str) else len(keys) for keys in store._by_user.values())


def test_the_per_user_index_follows_eviction_expiry_and_deletion() -> None:
    clock = Clock()
    store = bound(max_entries=5, ttl_seconds=10, clock=clock)
    for i in range(50):  # 50 users through a 5-entry store: the index never outgrows the entries
        store.create(make_session(f"user_{i}"))
        assert indexed(store) == len(store) <= 5
    assert store.revoke_user_sessions("user_0") == 0  # evicted long ago
    kept = [store.create(make_session("user_x")) for _ in range(3)]
    assert store.revoke_user_sessions("user_x") == 3
    assert all(store.reload(loaded) is None for loaded, _ in kept)
    loaded, _cookies = store.create(make_session("user_y"))
    store.update(loaded, make_session("user_z"))  # a refresh that changed the user moves the entry
    assert store.revoke_user_sessions("user_y") == 0
    assert store.revoke_user_sessions("user_z") == 1
    store.create(make_session("user_old"))
    clock.now += 11
    store.load({NAME: "x"})
    assert store.revoke_user_sessions("user_old") == 1  # expired but not yet swept: still removed
    assert indexed(store) == len(store)


def test_delete_by_the_cookie_alone_removes_the_entry() -> None:
    store = bound()
    _loaded, cookies = store.create(make_session())
    assert [(c.name, c.is_deletion) for c in store.delete(None, jar(cookies))] == [(NAME, True)]
    assert_not_found(store, jar(cookies))
    assert store.delete(None, {NAME: "garbage"})[0].is_deletion  # a cookie that does not open: nothing to drop


def test_the_per_user_index_under_churn_matches_the_entries() -> None:
    clock = Clock()
    store = bound(max_entries=20, ttl_seconds=50, clock=clock)
    rng = random.Random(7)
    live: list[tuple[LoadedSession, dict[str, str]]] = []
    for step in range(2000):
        action = rng.random()
        user = f"user_{rng.randrange(8)}"
        if action < 0.4 or not live:
            loaded, cookies = store.create(make_session(user))
            live.append((loaded, jar(cookies)))
        elif action < 0.6:
            _loaded, copied = live.pop(rng.randrange(len(live)))
            store.delete(None, copied)
        elif action < 0.8:
            loaded, _cookies = rng.choice(live)
            with contextlib.suppress(SessionError):  # gone meanwhile: that is what the store must say
                store.update(loaded, make_session(user))
        elif action < 0.85:
            store.revoke_user_sessions(user)
        else:
            clock.now += rng.choice([1, 10, 60])
        if step % 50 == 0:
            by_user: dict[str, set[str]] = {}
            for key, (_expires, session) in store._entries.items():
                by_user.setdefault(session.user.id, set()).add(key)
            index = {u: {k} if isinstance(k, str) else set(k) for u, k in store._by_user.items()}
            assert index == by_user
            assert len(store) <= 20
