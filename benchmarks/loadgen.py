"""A small HTTP/1.1 load generator, run as its own process: ``python -m benchmarks.loadgen --port P ...``.

Keep-alive connections on 127.0.0.1 only, each sending ``GET /`` with the given cookie back to back (reconnecting
when the server closes), for a bounded time and a bounded number of requests. It speaks raw asyncio streams
(uvloop when installed) rather than httpx: an httpx client needs several times the CPU per request, and on a
2-core machine the generator, not the server, would then set the pace and hide the middleware's cost. Prints one
JSON object: requests, errors, seconds, rps, p50/p99 latency in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from typing import Any

MAX_REQUESTS = 2_000_000


async def _connection(
    port: int, request: bytes, stop_at: list[float], measure_from: float, out: dict[str, list[float] | int]
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    latencies = out["latencies"]
    assert isinstance(latencies, list)
    while time.perf_counter() < stop_at[0] and len(latencies) < MAX_REQUESTS:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length, close = 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length:
                await reader.readexactly(length)
            done = time.perf_counter()
            if not head.startswith(b"HTTP/1.1 200"):
                out["errors"] = int(out["errors"]) + 1  # type: ignore[call-overload]
            elif start >= measure_from:
                latencies.append(done - start)
            if close:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            out["errors"] = int(out["errors"]) + 1  # type: ignore[call-overload]
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def _first_answer(port: int, request: bytes) -> None:
    """Wait (bounded) until the server answers one request: a server still starting up on a busy machine must not
    count as a server that serves nothing in the measured window."""
    deadline = time.perf_counter() + 30.0
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(request)
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), max(0.1, deadline - time.perf_counter()))
                return
            finally:
                writer.close()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            if time.perf_counter() >= deadline:
                return  # the measured run reports the errors
            await asyncio.sleep(0.05)


async def run(port: int, cookie: str, seconds: float, warmup: float, connections: int) -> dict[str, object]:
    """Load ``127.0.0.1:port`` for ``warmup + seconds``; statistics of the last ``seconds``."""
    request = (
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: authkit-bench\r\nCookie: {cookie}\r\n\r\n"
    ).encode("latin-1")
    await _first_answer(port, request)
    now = time.perf_counter()
    measure_from = now + warmup
    stop_at = [measure_from + seconds]
    out: dict[str, list[float] | int] = {"latencies": [], "errors": 0}
    await asyncio.gather(*(_connection(port, request, stop_at, measure_from, out) for _ in range(connections)))
    elapsed = time.perf_counter() - measure_from
    latencies = sorted(out["latencies"])  # type: ignore[type-var]
    n = len(latencies)

    def pct(p: float) -> float | None:
        return latencies[min(n - 1, round(p / 100 * (n - 1)))] * 1000 if n else None

    return {
        "requests": n,
        "errors": out["errors"],
        "seconds": elapsed,
        "rps": n / elapsed,
        "p50_ms": pct(50),
        "p99_ms": pct(99),
    }


def _request(port: int, cookie: str) -> bytes:
    return f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: authkit-bench\r\nCookie: {cookie}\r\n\r\n".encode(
        "latin-1"
    )


async def _many_connection(port: int, pick: Any, state: dict[str, Any]) -> None:
    """One keep-alive connection sending the cookie headers ``pick()`` hands out, counting answers ``0`` (the
    users app's "signed out") once the warm-up requests are done."""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < state["stop_at"] and state["sent"] < MAX_REQUESTS:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            cookie = pick()
            state["sent"] += 1
            measured = state["measuring"]
            start = time.perf_counter()
            writer.write(_request(port, cookie))
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            done = time.perf_counter()
            if not state["measuring"] and state["sent"] >= state["warmup_requests"]:
                state["measuring"] = True
                state["measure_from"] = done
                state["stop_at"] = done + state["seconds"]
            if not measured:
                continue
            if not head.startswith(b"HTTP/1.1 200"):
                state["errors"] += 1
            else:
                state["latencies"].append(done - start)
                if body == b"0":
                    state["signed_out"] += 1
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            state["errors"] += 1
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def run_many(
    port: int, cookies: list[str], order: list[int], seconds: float, warmup_requests: int, connections: int
) -> dict[str, object]:
    """Load ``127.0.0.1:port`` with one cookie header per request, taken from ``cookies`` in ``order`` (cycled):
    ``warmup_requests`` first, then ``seconds`` measured (bounded: at most 10 minutes of warm-up)."""
    position = 0

    def pick() -> str:
        nonlocal position
        cookie = cookies[order[position % len(order)]]
        position += 1
        return cookie

    await _first_answer(port, _request(port, cookies[0]))
    state: dict[str, Any] = {
        "sent": 0,
        "warmup_requests": warmup_requests,
        "measuring": warmup_requests <= 0,
        "measure_from": time.perf_counter(),
        "seconds": seconds,
        "stop_at": time.perf_counter() + (seconds if warmup_requests <= 0 else 600.0),
        "latencies": [],
        "errors": 0,
        "signed_out": 0,
    }
    await asyncio.gather(*(_many_connection(port, pick, state) for _ in range(connections)))
    elapsed = max(1e-9, time.perf_counter() - state["measure_from"]) if state["measuring"] else 0.0
    latencies = sorted(state["latencies"])
    n = len(latencies)
    return {
        "requests": n,
        "errors": state["errors"],
        "signed_out": state["signed_out"],
        "seconds": elapsed,
        "rps": n / elapsed if elapsed else 0.0,
        "p50_ms": latencies[n // 2] * 1000 if n else None,
        "p99_ms": latencies[min(n - 1, round(0.99 * (n - 1)))] * 1000 if n else None,
    }


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cookie", default="")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--cookies-file", help="one Cookie header per line, sent in --order (instead of --cookie)")
    parser.add_argument("--order", choices=("round_robin", "skewed"), default="round_robin")
    parser.add_argument("--warmup-requests", type=int, default=0, help="with --cookies-file: requests before measuring")
    args = parser.parse_args()
    if not 0 < args.seconds <= 60 or not 0 < args.connections <= 256:
        parser.error("--seconds must be in (0, 60] and --connections in (0, 256]")
    runner = asyncio.run
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        pass
    if args.cookies_file:
        with open(args.cookies_file, encoding="latin-1") as handle:
            cookies = [line.rstrip("\n") for line in handle if line.strip()]
        order = skewed_order(len(cookies)) if args.order == "skewed" else list(range(len(cookies)))
        result = runner(run_many(args.port, cookies, order, args.seconds, args.warmup_requests, args.connections))
    else:
        result = runner(run(args.port, args.cookie, args.seconds, args.warmup, args.connections))
    print(json.dumps(result))


def skewed_order(n: int, length: int = 200_000, seed: int = 16) -> list[int]:
    """A realistic skew: 80% of requests to the hottest 2% of ``n`` sessions, the rest spread over all of them."""
    rng = random.Random(seed)
    hot = max(1, n // 50)
    return [rng.randrange(hot) if rng.random() < 0.8 else rng.randrange(n) for _ in range(length)]


if __name__ == "__main__":
    main()
