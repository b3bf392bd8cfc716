"""``RedisSessionStore`` beyond the shared contract (``test_store_contract.py`` runs that on Redis): the key
layout, what a Redis dump holds, the per-user index staying bounded, TTLs, construction errors and the demo's
``--database redis://...`` flag. On the test Redis (127.0.0.1:6379, ``require_redis``) under a key prefix per test.
"""

from __future__ import annotations

import base64
import multiprocessing
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from authkit_core import ConfigurationError
from conftest import require_redis

from .test_store_contract import CONFIG, jar, make_session

redis = pytest.importorskip("redis")

from authkit_core.storage.redis import RedisSessionStore  # noqa: E402


@pytest.fixture
def raw() -> Iterator[redis.Redis]:
    """A plain client of the test Redis."""
    client = redis.Redis.from_url(require_redis())
    yield client
    client.close()


@pytest.fixture
def store(raw: redis.Redis) -> Iterator[RedisSessionStore]:
    """A store under a key prefix of its own; its keys are deleted afterwards."""
    prefix = f"authkit-test-{uuid.uuid4().hex[:10]}"
    made = RedisSessionStore(require_redis(), key_prefix=prefix)
    made.bind(CONFIG)
    yield made
    made.close()
    for pattern in (f"{{{prefix}:*", f"{prefix}:*"):
        for key in raw.scan_iter(match=pattern, count=1000):
            raw.delete(key)


def _keys(raw: redis.Redis, prefix: str) -> set[bytes]:
    return set(raw.scan_iter(match=f"{{{prefix}:*", count=1000)) | set(raw.scan_iter(match=f"{prefix}:*"))


def test_key_layout_and_ttls(store: RedisSessionStore, raw: redis.Redis) -> None:
    session = make_session("user_layout")
    loaded, _ = store.create(session)
    key = store.session_key(loaded.key)
    assert key == f"{{{store.key_prefix}:{loaded.key}}}:s"
    assert raw.hgetall(key).keys() == {b"d", b"v", b"u"}
    assert 0 < raw.pttl(key) <= CONFIG.cookie_max_age * 1000
    index = store.user_index_key("user_layout")
    assert raw.hget(key, "u") == index.encode()
    assert raw.zrange(index, 0, -1) == [loaded.key.encode()]
    assert 0 < raw.pttl(index) <= CONFIG.cookie_max_age * 1000
    assert store.acquire_lease(loaded, "owner", 5)
    lease = f"{{{store.key_prefix}:{loaded.key}}}:l"
    assert raw.get(lease) == b"owner" and 0 < raw.pttl(lease) <= 5000
    # the session and its lease share a Cluster slot (the hash tag)
    assert redis.crc.key_slot(key.encode()) == redis.crc.key_slot(lease.encode())
    store.update(loaded, make_session("user_layout"), "owner")
    assert raw.exists(lease) == 0
    assert raw.hget(key, "v") == b"2"


def test_a_redis_dump_opens_no_session(store: RedisSessionStore, raw: redis.Redis) -> None:
    """Nothing Redis holds names the handle or shows a token: without the cookie, the payload does not open."""
    session = make_session("user_dump")
    loaded, cookies = store.create(session)
    handle = loaded.ref
    assert isinstance(handle, str)
    dump = b""
    for key in _keys(raw, store.key_prefix):
        dump += key
        kind = raw.type(key)
        if kind == b"hash":
            dump += b"".join(k + v for k, v in raw.hgetall(key).items())
        elif kind == b"zset":
            dump += b"".join(raw.zrange(key, 0, -1))
    payload = base64.b64decode(raw.hget(store.session_key(loaded.key), "d") or b"")
    for secret in (handle, session.refresh_token, session.access_token, "user_dump", jar(cookies)[CONFIG.cookie_name]):
        assert secret.encode() not in dump
        assert secret.encode() not in payload


def test_the_user_index_stays_bounded(store: RedisSessionStore, raw: redis.Redis) -> None:
    """Expired members are trimmed on every write; deleted sessions leave the index; revocation empties it."""
    index = store.user_index_key("user_index")
    made = [store.create(make_session("user_index")) for _ in range(5)]
    assert raw.zcard(index) == 5
    store.delete(made[0][0], {})
    assert raw.zcard(index) == 4
    raw.zadd(index, {"stale-expired-member": int(time.time() * 1000) - 1})
    store.create(make_session("user_index"))
    assert raw.zcard(index) == 5  # the stale member was trimmed by the write
    assert store.revoke_user_sessions("user_index") == 5
    assert raw.exists(index) == 0


def test_construction_errors() -> None:
    with pytest.raises(ConfigurationError):
        RedisSessionStore("redis://127.0.0.1:1/0", key_prefix="a{b}")
    with pytest.raises(ConfigurationError):
        RedisSessionStore(object())
    with pytest.raises(ConfigurationError):
        RedisSessionStore("redis://127.0.0.1:1/0", max_connections=0)
    store = RedisSessionStore(redis.asyncio.Redis(port=1))
    store.bind(CONFIG)
    with pytest.raises(ConfigurationError):
        store.load({})


def test_the_demo_runs_on_redis_with_one_flag() -> None:
    from examples.demo.__main__ import _store

    url = require_redis()
    made, footer, terminal = _store(url)
    assert isinstance(made, RedisSessionStore) and made.key_prefix == "authkit-demo"
    assert footer == "Redis" and "RedisSessionStore" in terminal
    _, _, hidden = _store("rediss://app:s3cret@redis.example:6380/2")
    assert "s3cret" not in hidden and "rediss://app:***@redis.example:6380/2" in hidden


def _acquire_in_process(url: str, prefix: str, cookies: dict[str, str], barrier: Any, results: Any) -> None:
    store = RedisSessionStore(url, key_prefix=prefix)
    store.bind(CONFIG)
    loaded = store.load(cookies).loaded  # each process reads the session, then leases the version it read
    assert loaded is not None and loaded.version is not None
    barrier.wait(30)
    results.put(store.acquire_lease(loaded, f"process-{multiprocessing.current_process().name}", 30))
    store.close()


def test_concurrent_acquire_from_4_processes_has_one_winner(store: RedisSessionStore) -> None:
    _, cookies = store.create(make_session())
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    results = ctx.Queue()
    args = (require_redis(), store.key_prefix, jar(cookies), barrier, results)
    procs = [ctx.Process(target=_acquire_in_process, args=args, name=f"p{i}") for i in range(4)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert sorted(outcomes) == [False, False, False, True]


@pytest.mark.parametrize("face", ["sync", "asyncio"])
def test_a_refresh_save_after_the_server_lost_its_scripts(
    store: RedisSessionStore, raw: redis.Redis, face: str
) -> None:
    """The save of a refresh pipelines EVALSHA with the index upkeep, without asking first whether Redis knows the
    script: after a restart or failover (here SCRIPT FLUSH) it answers NOSCRIPT, and the save runs again on its
    own, loading the script. The session is saved once (version 2) and stays in its user's index."""
    import anyio

    loaded, cookies = store.create(make_session("user_noscript"))
    raw.script_flush()
    newer = make_session("user_noscript")
    if face == "sync":
        saved, _ = store.update(loaded, newer)
    else:

        async def save() -> Any:
            result = await store.aupdate(loaded, newer)
            await store.aclose()
            return result

        saved, _ = anyio.run(save)
    assert saved.version == 2
    assert raw.hget(store.session_key(loaded.key), "v") == b"2"
    assert raw.zscore(store.user_index_key("user_noscript"), loaded.key) is not None
    again = store.load(jar(cookies)).loaded
    assert again is not None and again.version == 2
