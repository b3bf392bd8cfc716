"""``RedisSessionStore``: sessions in Redis (6, 7, Valkey; standalone, Sentinel or Cluster) through redis-py.

The security model is the SQL store's: the browser's cookie holds only a sealed random *handle*; Redis keeps the
handle's SHA-256 (in the key) and the session encrypted with AES-256-GCM under a key derived from the handle
(``sealed_payload.py``), so a Redis dump alone opens no session.

Key layout (``P`` is ``key_prefix``, ``H`` the handle's SHA-256 in hex; the braces are a Cluster hash tag, so a
session's keys share a slot and every script touches one slot only):

- ``{P:H}:s``: a hash with ``d`` (the encrypted session, base64), ``v`` (its version) and ``u`` (the user's index
  key); its TTL is the session's lifetime, so Redis expires sessions itself (no cleanup job).
- ``{P:H}:l``: the refresh lease, the owner's name with a TTL of the lease's ``ttl``: a crashed holder's lease
  simply expires.
- ``P:u:U`` (``U`` the user id's SHA-256): the user's sessions, a sorted set of ``H`` scored by expiry in
  milliseconds, trimmed of expired members on every write and expiring with its newest session, so it never grows
  without bound. ``revoke_user_sessions`` reads it and deletes each session.

Every lease and save is one Lua script (EVALSHA, loaded again after a restart), so a lease is granted only on the
version that was read and a save never re-creates a session that is gone. See ``docs/storage-redis.md``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import inspect
import time
import weakref
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread

from ..config import AuthKitConfig
from ..cookies import SetCookie, expired_cookie, session_cookie
from ..errors import ConfigurationError, SealError, SessionError, SessionUnavailableError
from ..models import Session
from .base import LoadedSession, LoadResult, running_on_asyncio
from .handles import forget_handle, handle_id, new_handle, open_handle, seal_handle
from .redis_scripts import ACQUIRE, CREATE, DELETE, RELEASE, UPDATE
from .sealed_payload import decrypt_session, encrypt_session, lease_owner

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["DEFAULT_KEY_PREFIX", "RedisSessionStore"]

#: The key prefix used unless ``key_prefix=`` says otherwise.
DEFAULT_KEY_PREFIX = "authkit"

T = TypeVar("T")


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def _unavailable(exc: BaseException) -> SessionUnavailableError:
    """A transient :class:`SessionError` naming only the error's type (server messages may quote data)."""
    return SessionUnavailableError(f"the session Redis failed ({type(exc).__name__}); check that it is reachable")


def _errors() -> tuple[type[BaseException], ...]:
    """What is a storage outage: every redis-py error (unreachable, timeout, READONLY after a failover, OOM,
    LOADING, CLUSTERDOWN, no Sentinel master ...) and socket errors."""
    import redis.exceptions

    return (redis.exceptions.RedisError, OSError, asyncio.TimeoutError)


class _Client:
    """A redis-py client (sync or asyncio, standalone or cluster) and the store's scripts registered on it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.acquire = client.register_script(ACQUIRE)
        self.update = client.register_script(UPDATE)
        self.create = client.register_script(CREATE)
        self.release = client.register_script(RELEASE)
        self.delete = client.register_script(DELETE)
        #: A standalone (or Sentinel) client sends a script and other commands in one pipeline; a Cluster client
        #: runs them one by one (its keys may be on different nodes).
        self.pipelines_scripts = "cluster" not in type(client).__module__
        self.is_async = _is_async_client(client)


#: One step of an operation: a command run on a client; its result (awaited on an asyncio client) is sent back.
_Op = Callable[[_Client], Any]
#: An operation: a generator of steps whose return value is the answer.
_Plan = Generator[_Op, Any, T]


def _pipeline(calls: list[tuple[str, tuple[Any, ...]]]) -> _Op:
    """Several commands in one round trip (not a transaction: they may be in different Cluster slots)."""

    def run(c: _Client) -> Any:
        pipe = c.client.pipeline(transaction=False)
        for name, args in calls:
            getattr(pipe, name)(*args)
        return pipe.execute()

    return run


def _save_and_index(keys: list[str], args: list[Any], index_calls: list[tuple[str, tuple[Any, ...]]]) -> _Op:
    """The UPDATE script and the user index's upkeep in one round trip where the client can pipeline a script
    (answers ``[version, ...]``); on a Cluster client only the script (answers ``version``), the index comes next.

    The pipeline sends ``EVALSHA`` without asking first whether the server knows the script (redis-py's pipeline
    would spend a round trip on ``SCRIPT EXISTS``); a server that lost it (a restart, a failover) answers
    ``NOSCRIPT``, and the script then runs on its own (loading it), the index upkeep being idempotent."""

    def queued(c: _Client) -> Any:
        pipe = c.client.pipeline(transaction=False)
        pipe.evalsha(c.update.sha, len(keys), *keys, *args)
        for name, call_args in index_calls:
            getattr(pipe, name)(*call_args)
        return pipe

    def run(c: _Client) -> Any:
        if not c.pipelines_scripts:
            return c.update(keys, args)
        if c.is_async:
            return _arun_saved(c, queued(c), keys, args)
        try:
            return queued(c).execute()
        except _noscript():
            return [c.update(keys, args)]

    return run


async def _arun_saved(c: _Client, pipe: Any, keys: list[str], args: list[Any]) -> Any:
    try:
        return await pipe.execute()
    except _noscript():
        return [await c.update(keys, args)]


def _noscript() -> type[BaseException]:
    from redis.exceptions import NoScriptError

    return NoScriptError


def _is_async_client(value: object) -> bool:
    module = type(value).__module__
    return module.startswith("redis.asyncio")


class RedisSessionStore:
    """Sessions in Redis; the cookie holds only a sealed random handle.

    ``url_or_client`` is a Redis URL (``redis://``, ``rediss://`` for TLS, ``unix://``; a username, password and
    database number in it as redis-py reads them) or an existing redis-py client: ``redis.Redis``,
    ``redis.asyncio.Redis``, either ``RedisCluster``, or a Sentinel's ``master_for(...)``. ``async_client=`` adds
    an asyncio client to a sync one. From a URL the store builds a sync client and, per event loop, an asyncio one;
    ``timeout`` (seconds) is their connect and socket timeout, so a Redis that stops answering is an outage rather
    than a hung request.

    Async methods use the asyncio client under asyncio; otherwise (under trio, or with only a sync client) they run
    the sync methods in a worker thread. Sync methods need a sync client.

    ``key_prefix`` (default ``authkit``) starts every key the store writes: give each app sharing a Redis its own.
    Redis errors (unreachable, timeout, a read-only replica after a failover, ``maxmemory`` reached, loading) raise
    :class:`~authkit_core.errors.SessionUnavailableError` (transient: the session is kept).
    """

    #: Leases live in Redis, so several processes and machines coordinate refreshes through it.
    shared = True
    #: The ``authkit.store`` attribute of its metrics (see ``observe.py``).
    kind = "redis"
    #: The browser holds only a handle: refresh grants may use a replayable ``Idempotency-Key`` (see the engine).
    keeps_tokens_server_side = True
    #: ``load`` and ``reload`` give the session's version, and a lease on such a session is granted only while it
    #: is still that version: a granted lease proves the session current, so the engine does not re-read it.
    lease_checks_version = True

    def __init__(
        self,
        url_or_client: str | redis.Redis | redis.asyncio.Redis | Any,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        async_client: redis.asyncio.Redis | Any | None = None,
        timeout: float = 5.0,
        max_connections: int = 50,
    ) -> None:
        try:
            import redis as _redis
        except ImportError:  # pragma: no cover - depends on the environment
            raise ConfigurationError("RedisSessionStore needs redis-py: pip install 'authkit-session[redis]'") from None
        if not key_prefix or any(c in key_prefix for c in "{}"):
            raise ConfigurationError("key_prefix must be non-empty and hold no '{' or '}' (Cluster hash tags)")
        if max_connections < 1:
            raise ConfigurationError("max_connections must be at least 1")
        self.key_prefix = key_prefix
        self._url: str | None = None
        self._timeout = timeout
        self._max_connections = max_connections
        self._sync: _Client | None = None
        self._async: _Client | None = None
        # asyncio clients built from the URL, one per event loop (a connection belongs to the loop that opened it)
        self._loop_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Client] = weakref.WeakKeyDictionary()
        if isinstance(url_or_client, str):
            if async_client is not None:
                raise ConfigurationError("with a URL the store builds its own asyncio clients; pass a client instead")
            self._url = url_or_client
            pool = _redis.BlockingConnectionPool.from_url(url_or_client, **self._pool_options())
            self._sync = _Client(_redis.Redis(connection_pool=pool))
        elif _is_async_client(url_or_client):
            if async_client is not None:
                raise ConfigurationError("pass the asyncio client once: as the first argument or as async_client=")
            self._async = _Client(url_or_client)
        elif hasattr(url_or_client, "register_script"):
            self._sync = _Client(url_or_client)
            if async_client is not None:
                if not _is_async_client(async_client):
                    raise ConfigurationError("async_client= takes a redis.asyncio client")
                self._async = _Client(async_client)
        else:
            raise ConfigurationError("RedisSessionStore takes a Redis URL or a redis-py client")
        self._errors = _errors()
        self._config: AuthKitConfig | None = None

    def bind(self, config: AuthKitConfig) -> None:
        """Receive the configuration (cookie name and attributes, cookie passwords, max age)."""
        self._config = config

    def _pool_options(self) -> dict[str, Any]:
        """The options of the pools the store builds from a URL: a request beyond ``max_connections`` waits (up to
        ``timeout``) for a free connection instead of failing, so a storm of tasks queues rather than errs."""
        return {
            "max_connections": self._max_connections,
            "timeout": self._timeout,
            "socket_timeout": self._timeout,
            "socket_connect_timeout": self._timeout,
        }

    # --- keys ---

    def session_key(self, record_id: str) -> str:
        """The key of the session whose handle hashes to ``record_id``."""
        return f"{{{self.key_prefix}:{record_id}}}:s"

    def _lease_key(self, record_id: str) -> str:
        return f"{{{self.key_prefix}:{record_id}}}:l"

    def user_index_key(self, user_id: str) -> str:
        """The key of ``user_id``'s session index."""
        return f"{self.key_prefix}:u:{hashlib.sha256(user_id.encode()).hexdigest()}"

    # --- executors ---

    def _run(self, plan: _Plan[T]) -> T:
        if self._sync is None:
            plan.close()
            raise ConfigurationError(
                "this RedisSessionStore has only an asyncio client: sync calls (and async calls under trio) need a "
                "sync one, e.g. RedisSessionStore(redis.Redis(...), async_client=redis.asyncio.Redis(...))"
            )
        client = self._sync
        try:
            value: Any = None
            while True:
                value = plan.send(value)(client)
        except StopIteration as done:
            result: T = done.value
            return result
        except self._errors as exc:
            raise _unavailable(exc) from exc

    def _async_client(self) -> _Client | None:
        if self._async is not None:
            return self._async if running_on_asyncio() else None
        if self._url is None or not running_on_asyncio():
            return None
        loop = asyncio.get_running_loop()
        client = self._loop_clients.get(loop)
        if client is None:
            import redis.asyncio

            pool = redis.asyncio.BlockingConnectionPool.from_url(self._url, **self._pool_options())
            client = _Client(redis.asyncio.Redis(connection_pool=pool))
            self._loop_clients[loop] = client
        return client

    async def _arun(self, plan: _Plan[T]) -> T:
        client = self._async_client()
        if client is None:
            return await anyio.to_thread.run_sync(self._run, plan)
        try:
            value: Any = None
            while True:
                value = plan.send(value)(client)
                if inspect.isawaitable(value):
                    value = await value
        except StopIteration as done:
            result: T = done.value
            return result
        except self._errors as exc:
            raise _unavailable(exc) from exc

    # --- shared preparation ---

    def _bound(self) -> AuthKitConfig:
        if self._config is None:
            raise ConfigurationError("RedisSessionStore.bind(config) was not called (AuthKit does this)")
        return self._config

    def _handle_from_cookies(self, cookies: Mapping[str, str]) -> str | None:
        """The handle in the request's cookie; ``""`` when there is a cookie that does not open."""
        config = self._bound()
        raw = cookies.get(config.cookie_name)
        if not raw:
            return None
        try:
            handle = open_handle(raw, config.cookie_passwords)
        except SealError:
            return ""
        return handle if 16 <= len(handle) <= 256 else ""

    def _cookie(self, handle: str) -> SetCookie:
        config = self._bound()
        return session_cookie(config, config.cookie_name, seal_handle(handle, config.cookie_passwords))

    def _expired(self) -> SetCookie:
        config = self._bound()
        return expired_cookie(config, config.cookie_name)

    def _ttl_ms(self) -> int:
        return max(1, int(self._bound().cookie_max_age * 1000))

    def _payload(self, handle: str, record_id: str, session: Session) -> str:
        return base64.b64encode(encrypt_session(handle, record_id, session)).decode()

    def _index_calls(self, index: str, record_id: str) -> list[tuple[str, tuple[Any, ...]]]:
        """Add a session to its user's index, drop expired members, and keep the index as long as its newest."""
        now_ms = int(time.time() * 1000)
        ttl = self._ttl_ms()
        return [
            ("zadd", (index, {record_id: now_ms + ttl})),
            ("zremrangebyscore", (index, "-inf", now_ms)),
            ("pexpire", (index, ttl)),
        ]

    def _index(self, index: str, record_id: str) -> _Op:
        """:meth:`_index_calls` in one round trip."""
        return _pipeline(self._index_calls(index, record_id))

    def _read(self, record_id: str, handle: str) -> _Plan[LoadedSession | str]:
        """Read and decrypt a session: the session, or why not (``not_found``, ``undecryptable``)."""
        data, version = yield lambda c: c.client.hmget(self.session_key(record_id), ["d", "v"])
        text = _text(data)
        if text is None or version is None:
            return "not_found"
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError:
            return "undecryptable"
        session = decrypt_session(handle, record_id, raw)
        if session is None:
            return "undecryptable"
        return LoadedSession(session, key=record_id, ref=handle, version=int(_text(version) or 0))

    def _load(self, cookies: Mapping[str, str]) -> _Plan[LoadResult]:
        handle = self._handle_from_cookies(cookies)
        if handle is None:
            return LoadResult(None)
        if not handle:
            return LoadResult(None, (self._expired(),), reason="invalid_seal")
        found = yield from self._read(handle_id(handle), handle)
        if isinstance(found, str):
            return LoadResult(None, (self._expired(),), reason=found)
        return LoadResult(found)

    def _create(self, session: Session) -> _Plan[tuple[LoadedSession, list[SetCookie]]]:
        handle = new_handle()
        record_id = handle_id(handle)
        index = self.user_index_key(session.user.id)
        keys = [self.session_key(record_id)]
        args = [self._payload(handle, record_id, session), index, self._ttl_ms()]
        yield lambda c: c.create(keys, args)
        yield self._index(index, record_id)
        return LoadedSession(session, key=record_id, ref=handle, version=1), [self._cookie(handle)]

    def _update(self, loaded: LoadedSession, session: Session) -> _Plan[tuple[LoadedSession, list[SetCookie]]]:
        handle = loaded.ref
        if not isinstance(handle, str) or handle_id(handle) != loaded.key:
            raise SessionError("this LoadedSession does not come from a RedisSessionStore")
        record_id = loaded.key
        index = self.user_index_key(session.user.id)
        keys = [self.session_key(record_id), self._lease_key(record_id)]
        args = [self._payload(handle, record_id, session), index, self._ttl_ms()]
        index_calls = self._index_calls(index, record_id)
        answer = yield _save_and_index(keys, args, index_calls)
        version = answer[0] if isinstance(answer, list) else answer
        if not version:  # gone: signed out, revoked or expired meanwhile. Never resurrect it.
            if isinstance(answer, list):  # the index upkeep went with the script: take the gone session out
                yield lambda c: c.client.zrem(index, record_id)
            raise SessionError("the session ended while it was being refreshed", code="session_not_found")
        if not isinstance(answer, list):
            yield self._index(index, record_id)
        return LoadedSession(session, key=record_id, ref=handle, version=int(version)), [self._cookie(handle)]

    def _delete(self, loaded: LoadedSession | None, cookies: Mapping[str, str]) -> _Plan[list[SetCookie]]:
        answer = [self._expired()]
        record_id = loaded.key if loaded is not None else None
        handle = loaded.ref if loaded is not None else None
        if record_id is None:
            handle = self._handle_from_cookies(cookies)
            record_id = handle_id(handle) if handle else None
        forget_handle(handle, cookies.get(self._bound().cookie_name))
        if record_id is None:
            return answer
        keys = [self.session_key(record_id), self._lease_key(record_id)]
        index = _text((yield lambda c: c.delete(keys, [])))
        if index:
            yield lambda c: c.client.zrem(index, record_id)
        return answer

    def _reload(self, loaded: LoadedSession) -> _Plan[LoadedSession | None]:
        if not isinstance(loaded.ref, str):
            return None
        found = yield from self._read(loaded.key, loaded.ref)
        return None if isinstance(found, str) else found

    def _acquire(self, loaded: LoadedSession, owner: str, ttl: float) -> _Plan[bool]:
        keys = [self.session_key(loaded.key), self._lease_key(loaded.key)]
        version = "" if loaded.version is None else str(loaded.version)
        args = [lease_owner(owner), max(1, int(ttl * 1000)), version]
        granted = yield lambda c: c.acquire(keys, args)
        return bool(granted)

    def _release(self, loaded: LoadedSession, owner: str) -> _Plan[None]:
        keys = [self._lease_key(loaded.key)]
        yield lambda c: c.release(keys, [lease_owner(owner)])

    def _revoke(self, user_id: str) -> _Plan[int]:
        index = self.user_index_key(user_id)
        now_ms = int(time.time() * 1000)
        members = yield lambda c: c.client.zrangebyscore(index, now_ms, "+inf")
        ids = [m for m in (_text(m) for m in members) if m]
        if not ids:
            yield lambda c: c.client.delete(index)
            return 0
        # one single-key DEL per key: different sessions may be in different Cluster slots, and redis-py's
        # cluster pipeline takes no multi-key DEL
        calls: list[tuple[str, tuple[Any, ...]]] = []
        for i in ids:
            calls += [("delete", (self.session_key(i),)), ("delete", (self._lease_key(i),))]
        calls.append(("zrem", (index, *ids)))
        results = yield _pipeline(calls)
        return sum(1 for r in results[:-1:2] if int(r) > 0)

    # --- the SessionStore protocol, sync ---

    def load(self, cookies: Mapping[str, str]) -> LoadResult:
        """Find the request's session. Bad cookies, unknown or expired sessions are a signed-out result with the
        cookie expired; Redis failures raise a transient :class:`SessionError`."""
        return self._run(self._load(cookies))

    def create(self, session: Session) -> tuple[LoadedSession, list[SetCookie]]:
        """Store ``session`` under a fresh handle and return the cookie that carries it."""
        return self._run(self._create(session))

    def update(
        self, loaded: LoadedSession, session: Session, owner: str | None = None
    ) -> tuple[LoadedSession, list[SetCookie]]:
        """Re-encrypt ``session`` under the same handle, bump the version, renew the TTL and clear the lease, in
        one script. A session that is gone (signed out, revoked or expired since ``loaded`` was read) is not
        re-created: :class:`SessionError` (``session_not_found``, terminal) is raised instead."""
        return self._run(self._update(loaded, session))

    def delete(self, loaded: LoadedSession | None, cookies: Mapping[str, str]) -> list[SetCookie]:
        """Delete the session (found from ``loaded`` or the cookie) so a copied cookie stops working; expire the
        cookie."""
        return self._run(self._delete(loaded, cookies))

    def reload(self, loaded: LoadedSession) -> LoadedSession | None:
        """Read and decrypt the session again; ``None`` when it is gone or expired."""
        return self._run(self._reload(loaded))

    def acquire_lease(self, loaded: LoadedSession, owner: str, ttl: float) -> bool:
        """One script: granted when nobody or ``owner`` itself holds the lease (an expired lease is gone), the
        session exists and, when ``loaded.version`` is set, is still that version, so a grant proves ``loaded``
        current."""
        return self._run(self._acquire(loaded, owner, ttl))

    def release_lease(self, loaded: LoadedSession, owner: str) -> None:
        """Delete the lease if ``owner`` holds it; otherwise nothing happens."""
        self._run(self._release(loaded, owner))

    def revoke_user_sessions(self, user_id: str) -> int:
        """Delete every session of ``user_id`` (sign out everywhere) found in its index; returns how many."""
        return self._run(self._revoke(user_id))

    def close(self) -> None:
        """Close the sync client's connections if the store built it from a URL (yours is left alone)."""
        if self._url is not None and self._sync is not None:
            self._sync.client.close()
            self._sync.client.connection_pool.disconnect()

    # --- async twins ---

    async def aload(self, cookies: Mapping[str, str]) -> LoadResult:
        """Async :meth:`load`."""
        return await self._arun(self._load(cookies))

    async def acreate(self, session: Session) -> tuple[LoadedSession, list[SetCookie]]:
        """Async :meth:`create`."""
        return await self._arun(self._create(session))

    async def aupdate(
        self, loaded: LoadedSession, session: Session, owner: str | None = None
    ) -> tuple[LoadedSession, list[SetCookie]]:
        """Async :meth:`update`."""
        return await self._arun(self._update(loaded, session))

    async def adelete(self, loaded: LoadedSession | None, cookies: Mapping[str, str]) -> list[SetCookie]:
        """Async :meth:`delete`."""
        return await self._arun(self._delete(loaded, cookies))

    async def areload(self, loaded: LoadedSession) -> LoadedSession | None:
        """Async :meth:`reload`."""
        return await self._arun(self._reload(loaded))

    async def aacquire_lease(self, loaded: LoadedSession, owner: str, ttl: float) -> bool:
        """Async :meth:`acquire_lease`."""
        return await self._arun(self._acquire(loaded, owner, ttl))

    async def arelease_lease(self, loaded: LoadedSession, owner: str) -> None:
        """Async :meth:`release_lease`."""
        await self._arun(self._release(loaded, owner))

    async def arevoke_user_sessions(self, user_id: str) -> int:
        """Async :meth:`revoke_user_sessions`."""
        return await self._arun(self._revoke(user_id))

    async def aclose(self) -> None:
        """Close the asyncio client of the running event loop if the store built it from a URL."""
        if self._url is None or not running_on_asyncio():
            return
        client = self._loop_clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.client.aclose()
            await client.client.connection_pool.disconnect()
