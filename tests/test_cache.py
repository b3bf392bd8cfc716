"""The bounded cache every cache of the library is built on (``authkit_core/cache.py``): bounds, expiry, the
admission policy that keeps partial hits when the working set is larger than the cache, and the memory budget."""

from __future__ import annotations

import threading

import pytest

from authkit_core.cache import SESSION_CACHE_BYTES, BoundedCache, CacheBudget
from authkit_core.errors import ConfigurationError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_least_recently_used_is_evicted_first() -> None:
    cache: BoundedCache[str, int] = BoundedCache("t", 3)
    for key in "abc":
        assert cache.put(key, ord(key))
    assert cache.get("a") == ord("a")  # a is now the most recently used
    cache.discard("c")
    assert cache.put("d", 4)  # room again: admitted at once
    assert len(cache) == 3 and cache.get("b") == ord("b")
    cache.resize(2)  # shrinking drops the least recently used (a, then b was touched: a goes)
    assert len(cache) == 2 and cache.get("a") is None and cache.get("b") is not None


def test_entries_expire_on_the_clock() -> None:
    clock = Clock()
    cache: BoundedCache[str, str] = BoundedCache("t", 10, clock=clock)
    cache.put("token", "claims", expires_at=clock.now + 60)
    cache.put("forever", "value")
    clock.now += 59.9
    assert cache.get("token") == "claims"
    clock.now += 0.1
    assert cache.get("token") is None and len(cache) == 1  # dropped, not only hidden
    clock.now += 10**9
    assert cache.get("forever") == "value"


def test_capacity_zero_keeps_nothing() -> None:
    cache: BoundedCache[str, int] = BoundedCache("off", 0)
    assert not cache.put("a", 1)
    assert cache.get("a") is None and len(cache) == 0


def test_a_full_cache_admits_a_key_on_its_second_miss() -> None:
    cache: BoundedCache[int, int] = BoundedCache("t", 4)
    for key in range(4):
        cache.put(key, key)
    assert [cache.put(100 + i, i) for i in range(50)] == [False] * 50  # each missed once: none admitted
    assert cache.put(149, 0)  # missed again lately: a busy key gets in on its second request
    assert len(cache) == 4 and cache.get(149) == 0 and cache.get(0) is None  # the least recently used made room
    assert not cache.put(100, 0)  # missed too long ago (the doorkeeper keeps the last 16 here): first miss again


@pytest.mark.parametrize("working_set", [2_000, 5_000, 20_000])
def test_a_cyclic_working_set_larger_than_the_cache_keeps_partial_hits(working_set: int) -> None:
    # Every key in turn, the worst case of plain LRU (which would never hit): the cache keeps a stable part of it.
    capacity = 1_000
    cache: BoundedCache[int, int] = BoundedCache("t", capacity)
    hits = 0
    rounds = 5
    for _ in range(rounds):
        for key in range(working_set):
            if cache.get(key) is None:
                cache.put(key, key)
            else:
                hits += 1
    rate = hits / (rounds * working_set)
    assert len(cache) == capacity
    # close to what a cache of this size can hold of this working set (plain LRU: 0)
    assert rate >= 0.6 * capacity / working_set, rate


def test_concurrent_use_keeps_the_bound_and_raises_nothing() -> None:
    cache: BoundedCache[int, int] = BoundedCache("t", 64)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(20_000):
                key = (i * 7 + offset) % 500
                if cache.get(key) is None:
                    cache.put(key, key)
                if i % 97 == 0:
                    cache.discard(key)
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(cache) <= 64


def test_the_budget_is_megabytes_and_says_how_many_sessions_it_holds() -> None:
    budget = CacheBudget(256)
    assert budget.sessions("cookie") == 256 * 1024 * 1024 // SESSION_CACHE_BYTES["cookie"]
    assert budget.sessions("server") > budget.sessions("cookie") > 20_000
    assert CacheBudget(0).sessions() == 0
    for bad in (-1.0, float("nan")):
        with pytest.raises(ConfigurationError, match="cache_memory_mb"):
            CacheBudget(bad)
