"""Many signed-in users: ``AuthKit.authenticate`` over N distinct valid sessions (issue 16's measurement).

Every other part replays one session, so every cache is warm. Here N sessions, each with its own access token
(minted once and shared by the stores), are authenticated in process, round-robin (every session in turn: the
worst case for bounded caches) and skewed (80% of requests to the hottest 2% of sessions, the rest spread over all:
a few busy users and a long tail), on the cookie, memory and SQLite stores. Per point: the median and mean
microseconds per request, how many requests came back signed out (a memory store bounded below N evicts), and the
bytes tracemalloc saw the process keep per session after one pass. Compare a point with the N = 1 point of the same
store and run: the target is within 2x up to the caches' bound, degrading gradually beyond it.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
import tracemalloc
from typing import Any

from authkit_core.engine import AuthKit
from authkit_core.models import AuthenticationResponse, UserInfo

from .common import USER, Lab

STORES = ("cookie", "memory", "sqlite")


def _responses(lab: Lab, n: int) -> list[dict[str, Any]]:
    """``n`` sign-in answers with distinct sessions and access tokens (RS256 signing: about a millisecond each)."""
    return [lab.emulator.issue_session(USER) for _ in range(n)]


def _sign_in_all(lab: Lab, kit: AuthKit, responses: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [lab.sign_in(kit, r) for r in responses]


def _jar_bytes(jars: list[dict[str, str]]) -> int:
    return sum(sys.getsizeof(j) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in j.items()) for j in jars)


def _timed(kit: AuthKit, jars: list[dict[str, str]], order: list[int]) -> tuple[list[float], int]:
    samples: list[float] = []
    signed_out = 0
    clock = time.perf_counter_ns
    for i in order:
        start = clock()
        result = kit.authenticate(jars[i])
        samples.append((clock() - start) / 1000)
        if not isinstance(result.user_info, UserInfo):
            signed_out += 1
    return samples, signed_out


def _skewed(n: int, count: int, rng: random.Random) -> list[int]:
    hot = max(1, n // 50)
    return [rng.randrange(hot) if rng.random() < 0.8 else rng.randrange(n) for _ in range(count)]


def run(lab: Lab, *, sizes: list[int], requests: int) -> dict[str, Any]:
    """Per store and N: round-robin and skewed figures (see the module docstring)."""
    biggest = max(sizes)
    responses = _responses(lab, biggest)
    AuthenticationResponse.from_api(responses[0])  # a well-formed answer, or fail early
    rng = random.Random(16)
    out: dict[str, Any] = {}
    for store in STORES:
        rows = []
        for n in sorted(set(sizes)):
            backend = lab.backend(store, tag=f"_users{n}")
            kit = backend.kit
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            jars = _sign_in_all(lab, kit, responses[:n])
            _timed(kit, jars, list(range(n)))  # one pass: what a server holds once every user came once
            held = tracemalloc.get_traced_memory()[0] - before - _jar_bytes(jars)  # not the benchmark's own jars
            tracemalloc.stop()
            count = max(requests, n)
            round_robin = [i % n for i in range(count)]
            rr, rr_out = _timed(kit, jars, round_robin)
            sk, sk_out = _timed(kit, jars, _skewed(n, count, rng))
            rows.append(
                {
                    "sessions": n,
                    "requests": count,
                    "round_robin_median_us": statistics.median(rr),
                    "round_robin_mean_us": statistics.fmean(rr),
                    "round_robin_signed_out": rr_out,
                    "skewed_median_us": statistics.median(sk),
                    "skewed_mean_us": statistics.fmean(sk),
                    "skewed_signed_out": sk_out,
                    "bytes_per_session": held / n,
                }
            )
            kit.close()
            backend.cleanup()
        out[store] = rows
    return out
