"""Scale: server-side store load latency against the number of stored sessions, memory per cached session, cookie size.

* SQL and Redis: a table (or a key prefix) grows through the configured sizes (default 10^3, 10^5, 10^6 sessions);
  filler sessions are bulk-inserted (PostgreSQL: ``COPY``; SQLite and MariaDB: the driver's ``executemany`` in large
  transactions; Redis: pipelined ``HSET`` + ``PEXPIRE`` of hashes laid out as the store's) with random payloads as
  large as a real one's, and at each size ``store.load(cookies)`` of real sessions (picked at random among 100) is
  timed. It should stay flat: a primary-key (or key) lookup, whatever the number of sessions.
* Memory (tracemalloc): bytes kept per signed-in session by the cookie backend's caches (unseal LRU, verified-token
  LRU and the engine's ``UserInfo`` memo, after one request each) and per ``MemorySessionStore`` entry.
* Cookie size: the ``Set-Cookie`` bytes (and chunk count) of a sealed session against the number of permissions
  in its access token.
"""

from __future__ import annotations

import gc
import json
import os
import random
import time
import tracemalloc
from typing import Any

from authkit_core.models import AuthenticationResponse, Session
from authkit_core.storage.cookie import CookieSessionStore

from .common import USER, Lab, interleaved, summarize

REAL_SESSIONS = 100
PERMISSION_COUNTS = (0, 10, 50, 100, 200)


# --- SQL load latency ----------------------------------------------------------------------------------------------


def _filler(n: int, data_size: int, now: float) -> list[dict[str, Any]]:
    return [
        {
            "id": os.urandom(32).hex(),
            "user_id": f"user_filler_{i % 5000}",
            "session_id": f"session_filler_{i}",
            "data": os.urandom(data_size),
            "created_at": now,
            "updated_at": now,
            "expires_at": now + 86400 * 400,
            "version": 1,
        }
        for i in range(n)
    ]


def _insert(store: Any, kind: str, n: int, data_size: int) -> None:
    """Bulk-insert ``n`` filler rows in chunks, through the driver (COPY, or sqlite3's executemany)."""
    engine, table = store._engine, store.table
    columns = ("id", "user_id", "session_id", "data", "created_at", "updated_at", "expires_at", "version")
    chunk = 50_000
    now = time.time()
    raw = engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()
        if kind == "sqlite":
            cursor.execute("PRAGMA synchronous=OFF")  # filler only; the connection is closed afterwards
        for start in range(0, n, chunk):
            rows = [tuple(r[c] for c in columns) for r in _filler(min(chunk, n - start), data_size, now)]
            if kind == "postgres":
                with cursor.copy(f'COPY "{table.name}" ({", ".join(columns)}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)
            elif kind == "mariadb":  # PyMySQL rewrites executemany of an INSERT into multi-row statements
                placeholders = ", ".join("%s" for _ in columns)
                for part in range(0, len(rows), 2000):
                    cursor.executemany(
                        f"INSERT INTO `{table.name}` ({', '.join(columns)}) VALUES ({placeholders})",
                        rows[part : part + 2000],
                    )
                raw.driver_connection.commit()
            else:
                placeholders = ", ".join("?" for _ in columns)
                cursor.execute("BEGIN")
                cursor.executemany(f'INSERT INTO "{table.name}" ({", ".join(columns)}) VALUES ({placeholders})', rows)
                cursor.execute("COMMIT")
            if kind == "postgres":
                raw.driver_connection.commit()
        cursor.close()
    finally:
        raw.invalidate()  # do not hand the tuned connection back to the pool


def _fill_redis(store: Any, n: int, data_size: int) -> None:
    """``n`` filler sessions under the store's key prefix, laid out as the store lays out its own (a hash with the
    encrypted payload, its version and the user's index key, with a TTL), pipelined in chunks."""
    import redis

    from .common import REDIS_URL

    client = redis.Redis.from_url(REDIS_URL)
    ttl_ms = 400 * 86400 * 1000
    try:
        for start in range(0, n, 10_000):
            pipe = client.pipeline(transaction=False)
            for i in range(start, min(n, start + 10_000)):
                key = store.session_key(os.urandom(32).hex())
                index = store.user_index_key(f"user_filler_{i % 5000}")
                pipe.hset(key, mapping={"d": os.urandom(data_size), "v": 1, "u": index})
                pipe.pexpire(key, ttl_ms)
            pipe.execute()
    finally:
        client.close()


def _payload_size(store: Any, kind: str) -> int:
    """The size of one real stored session's payload (bytes of the row's ``data``, or of the Redis hash's ``d``)."""
    if kind == "redis":
        import redis

        from .common import REDIS_URL

        client = redis.Redis.from_url(REDIS_URL)
        try:
            key = next(client.scan_iter(match=f"{{{store.key_prefix}:*}}:s", count=1000))
            return len(client.hget(key, "d") or b"")
        finally:
            client.close()
    from sqlalchemy import select

    with store._engine.connect() as conn:
        return len(conn.execute(select(store.table.c.data).limit(1)).scalar_one())


def sql_load(lab: Lab, *, sizes: list[int], rounds: int, per_round: int) -> dict[str, Any]:
    """Per server-side backend (the SQL stores and Redis): one table (key prefix) per size, filled in bulk, then
    ``store.load`` timed on all of them interleaved (microseconds), with the time each fill took."""
    from sqlalchemy import text

    out: dict[str, Any] = {}
    for kind in lab.backends(("sqlite", "postgres", "mariadb", "redis")):
        cases = {}
        info: dict[int, dict[str, Any]] = {}
        backends = []
        for size in sorted(set(sizes)):
            backend = lab.backend(kind, tag=f"_scale{size}")
            backends.append(backend)
            kit, store = backend.kit, backend.kit.store
            real = min(REAL_SESSIONS, size)
            jars = [lab.sign_in(kit, lab.auth_response()) for _ in range(real)]
            data_size = _payload_size(store, kind)
            started = time.perf_counter()
            if kind == "redis":
                _fill_redis(store, size - real, data_size)
            else:
                _insert(store, kind, size - real, data_size)
                with store._engine.connect() as conn:
                    analyze = {"postgres": 'VACUUM ANALYZE "{}"', "mariadb": "ANALYZE TABLE `{}`"}.get(kind, "ANALYZE")
                    conn.execute(text(analyze.format(store.table.name)))
            info[size] = {"rows": size, "row_bytes": data_size, "fill_seconds": time.perf_counter() - started}
            rng = random.Random(size)

            def load(store: Any = store, jars: list[dict[str, str]] = jars, rng: random.Random = rng) -> None:
                if store.load(jars[rng.randrange(len(jars))]).loaded is None:
                    raise RuntimeError("a real session did not load")

            cases[size] = load
        samples = interleaved({str(k): v for k, v in cases.items()}, rounds=rounds, per_round=per_round)
        entries = [{**info[size], **summarize(samples[str(size)])} for size in sorted(info)]
        medians = [e["median"] for e in entries]
        out[kind] = {"sizes": entries, "spread": max(medians) / min(medians) if min(medians) > 0 else None}
        for backend in backends:
            backend.kit.close()
            backend.cleanup()
    return out


# --- memory per cached session -------------------------------------------------------------------------------------


def memory(lab: Lab, *, sessions: int) -> dict[str, Any]:
    """tracemalloc bytes per session: cookie backend caches after one request each, and a memory-store entry."""
    from authkit_core.storage.memory import MemorySessionStore

    responses = [lab.auth_response() for _ in range(sessions)]
    sessions_list = [AuthenticationResponse.from_api(r).to_session() for r in responses]
    out: dict[str, Any] = {"sessions": sessions}

    kit = lab.backend("cookie", tag="_mem").kit
    password = kit.config.cookie_passwords
    sealer = CookieSessionStore(cache_size=0)
    sealer.bind(kit.config)
    sealed = [sealer.cookies_for(s)[0].value for s in sessions_list]
    kit.authenticate({"wos-session": sealed[0]})  # JWKS fetched before measuring
    kit.store._opened.clear()  # type: ignore[attr-defined]
    kit._sio().jwks._verified.clear()
    kit._infos.clear()
    kit._warm.clear()
    del password
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for value in sealed:
        # a fresh copy, as a request would bring it (the cache keeps the cookie value as its key)
        kit.authenticate({"wos-session": "".join([value[:1], value[1:]])})
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    out["cookie_backend_caches_bytes_per_session"] = (after - before) / sessions

    store = MemorySessionStore()
    store.bind(kit.config)
    texts = [json.dumps(s.to_json()) for s in sessions_list]  # parsed inside: every string is the entry's own
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for text in texts:
        store.create(Session.from_json(json.loads(text)))
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    out["memory_store_bytes_per_session"] = (after - before) / sessions
    return out


# --- cookie size vs permissions -----------------------------------------------------------------------------------


def cookie_sizes(lab: Lab) -> list[dict[str, Any]]:
    """Sealed cookie bytes (all ``Set-Cookie`` values, attributes included) per permission count."""
    store = CookieSessionStore()
    store.bind(lab.config())
    rows = []
    emulator = lab.emulator
    try:
        for count in PERMISSION_COUNTS:
            emulator.set_role_permissions("admin", [f"resource-{i:03d}:read-write" for i in range(count)])
            response = emulator.issue_session(USER, organization_id="org_acme")
            cookies = store.cookies_for(AuthenticationResponse.from_api(response).to_session())
            rows.append(
                {
                    "permissions": count,
                    "access_token_bytes": len(response["access_token"]),
                    "cookie_bytes": sum(len(c.header_value().encode()) for c in cookies),
                    "cookies": len(cookies),
                }
            )
    finally:
        emulator.reset()
    return rows
