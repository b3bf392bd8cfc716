"""A worker process for ``test_multiprocess.py``: one "application process" sharing a SQL or Redis session store.

Run as ``python refresh_worker.py``. It reads one JSON line (the spec) from stdin, talks back on stdout one line at
a time (``ready``, ``leased``, ``result <json>``) and, in ``storm`` mode, waits for a ``go`` line before firing.

Modes:

* ``storm``: ``threads`` threads released together by a barrier each call ``AuthKit.authenticate`` with the same
  cookie jar; reports every outcome and how many times the store refused this process the refresh lease;
* ``hold``: takes the refresh lease of the jar's session through the store and then sleeps, to be SIGKILLed while
  holding it;
* ``refresh``: one ``authenticate`` (which refreshes), to be SIGKILLed while its refresh grant is in flight.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from typing import Any

from authkit_core import AuthKitConfig, UserInfo
from authkit_core.engine import AuthKit, AuthResult
from authkit_core.storage.base import LoadedSession
from authkit_core.storage.redis import RedisSessionStore
from authkit_core.storage.sql import SQLSessionStore


class _Counting:
    """Counts refused lease requests (proof that processes really contended); otherwise the store's own lease."""

    denied = 0
    _count_lock = threading.Lock()

    def acquire_lease(self, loaded: LoadedSession, owner: str, ttl: float) -> bool:
        """Count refusals; otherwise the store's own lease."""
        granted: bool = super().acquire_lease(loaded, owner, ttl)  # type: ignore[misc]
        if not granted:
            with self._count_lock:
                self.denied += 1
        return granted


class CountingStore(_Counting, SQLSessionStore):
    """A ``SQLSessionStore`` that counts refused lease requests."""


class CountingRedisStore(_Counting, RedisSessionStore):
    """A ``RedisSessionStore`` that counts refused lease requests."""

    def dispose(self) -> None:
        """Close the client's connections."""
        self.close()


def token_digest(token: str) -> str:
    """A short digest of a token, so results can be compared without printing secrets."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def outcome(result: AuthResult) -> dict[str, Any]:
    """What the parent needs to know about one request's result."""
    info = result.user_info
    signed_in = isinstance(info, UserInfo)
    return {
        "signed_in": signed_in,
        "access_token": token_digest(info.access_token) if isinstance(info, UserInfo) else None,
        "refreshed": result.refreshed,
        "error": None if result.error is None else result.error.code,
        "reason": result.reason,
        "expired_cookie": any(c.is_deletion for c in result.cookies),
    }


def say(line: str) -> None:
    """One line to the parent."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def storm(spec: dict[str, Any], kit: AuthKit, store: CountingStore | CountingRedisStore) -> None:
    """Many threads, one session, all at once."""
    warm = kit.authenticate(spec["warm_jar"])  # fetches the JWKS and opens connections, as a running app would
    if not isinstance(warm.user_info, UserInfo):
        raise SystemExit(f"warm-up request was signed out: {warm.reason}")
    count = int(spec["threads"])
    barrier = threading.Barrier(count)
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def request() -> None:
        barrier.wait()
        try:
            item = outcome(kit.authenticate(spec["jar"]))
        except BaseException as exc:  # reported to the parent, which fails the test
            with lock:
                failures.append(repr(exc))
            return
        with lock:
            results.append(item)

    threads = [threading.Thread(target=request) for _ in range(count)]
    say("ready")
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("expected go")
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    say("result " + json.dumps({"results": results, "failures": failures, "lease_denied": store.denied}))


def main() -> None:
    """Read the spec and run the mode it names."""
    spec = json.loads(sys.stdin.readline())
    config = AuthKitConfig(**spec["config"])
    store: CountingStore | CountingRedisStore
    if "key_prefix" in spec:
        store = CountingRedisStore(spec["url"], key_prefix=spec["key_prefix"])
    else:
        store = CountingStore(spec["url"], table_name=spec["table"])
    mode = spec["mode"]
    if mode == "hold":
        store.bind(config)
        loaded = store.load(spec["jar"]).loaded
        if loaded is None or not store.acquire_lease(loaded, "crashed-worker", float(spec["ttl"])):
            raise SystemExit("could not take the lease")
        say("leased")
        time.sleep(600)  # killed long before this ends
        return
    kit = AuthKit(config, store=store, lease_seconds=float(spec.get("lease_seconds", 30.0)))
    if mode == "storm":
        storm(spec, kit, store)
    elif mode == "refresh":
        say("ready")
        say("result " + json.dumps(outcome(kit.authenticate(spec["jar"]))))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    kit.close()
    store.dispose()


if __name__ == "__main__":
    main()
