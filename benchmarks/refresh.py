"""Refresh latency and the refresh storm, against the emulator over real HTTP on 127.0.0.1.

* Latency: per backend, requests whose access token must be refreshed (``refresh_buffer_seconds`` larger than any
  token's life, so every request refreshes; the cookie backend carries each new cookie to the next request),
  interleaved with the bare refresh grant sent over the same keep-alive ``httpx.Client`` (the very request the
  library builds). ``added`` = median total - median bare grant: what the library costs beyond the emulator,
  both measured the same way, in the same run.

  The emulator answering these grants runs in a **separate process** (:class:`RemoteEmulator`: spawned, serving
  on 127.0.0.1, driven over a pipe to issue sessions and count grants), as WorkOS runs on another machine. Served
  by a thread of this process, as it used to be, it shared the GIL with the request being timed: uvicorn's thread
  still runs Python after writing each answer, and any call the library makes after the grant that releases the
  GIL (``hashlib.pbkdf2_hmac``, twice per iron seal; every SQL round trip) could hand the GIL over and then wait
  to get it back, and on a loaded machine the emulator's thread can be descheduled while it holds it. Those
  stalls were charged to the library, and unevenly: the cookie store's re-seal paid them, the memory store's
  in-memory save did not. The old code lowered ``sys.setswitchinterval`` to 0.1 ms to soften them, a setting no
  deployment runs with. On a quiet machine both setups measure the same within noise; the separate process only
  removes the dependence on the machine's load. The bare grant is sent over the same client to the same process,
  so ``added`` still subtracts exactly the emulator's own time and the HTTP round trip, measured the same way in
  the same run. ``one_write`` (SQL stores) is one durable save of the session (``store.update``), which every
  refresh makes once, for context.
* Storm: N concurrent requests (threads for the sync face, tasks for the async face) on one session whose token
  expires within the refresh buffer; the emulator counts the refresh grants (must be 1), and every request must
  come back signed in without error. Across processes: 4 worker processes (this module's ``--worker`` mode) on
  one PostgreSQL store, released together.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from authkit_core.engine import AuthKit
from authkit_core.models import UserInfo
from authkit_core.testing import Emulator, EmulatorServer
from authkit_core.workos_api import authenticate_with_refresh_token_request

from .common import POSTGRES_URL, USER, Lab, summarize

REFRESH = "refresh_token"
#: Seconds of life left on a storm session's access token (inside the 30 s buffer of short-lived tokens).
EXPIRING_IN = 20


# --- latency ---------------------------------------------------------------------------------------------------


class RemoteEmulator:
    """A WorkOS emulator served by a child process on 127.0.0.1, driven over a pipe (use as a context manager).

    ``port`` is where it listens; :meth:`issue_session` and :meth:`grant_count` call the child's
    :class:`~authkit_core.testing.Emulator` methods of the same names.
    """

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # no fork of a process running threads
        self._pipe, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve_emulator, args=(child,), name="workos-emulator", daemon=True)
        self.port = 0

    def __enter__(self) -> RemoteEmulator:
        self._process.start()
        if not self._pipe.poll(30):
            self.close()
            raise RuntimeError("the emulator process did not start")
        self.port = int(self._pipe.recv())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self._pipe.send((method, args, kwargs))
        ok, value = self._pipe.recv()
        if not ok:
            raise RuntimeError(f"emulator.{method} failed in the emulator process: {value}")
        return value

    def issue_session(self, user_id: str) -> dict[str, Any]:
        """A fresh ``/authenticate``-shaped response for ``user_id``."""
        response: dict[str, Any] = self._call("issue_session", user_id)
        return response

    def grant_count(self, grant_type: str | None = None) -> int:
        """How many grants (of ``grant_type``) the emulator received."""
        return int(self._call("grant_count", grant_type))

    def close(self) -> None:
        """Stop the child (politely, then not)."""
        if self._process.is_alive():
            with contextlib.suppress(OSError):
                self._pipe.send(None)
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)
        self._pipe.close()


def _serve_emulator(pipe: Connection) -> None:
    """The child: serve an emulator, answer method calls from the pipe until ``None``."""
    emulator = Emulator()
    server = EmulatorServer(emulator).start()
    pipe.send(server.port)
    try:
        while True:
            message = pipe.recv()
            if message is None:
                break
            method, args, kwargs = message
            try:
                pipe.send((True, getattr(emulator, method)(*args, **kwargs)))
            except Exception as exc:
                pipe.send((False, repr(exc)))
    except EOFError:  # the parent went away
        pass
    finally:
        server.stop()


def latency(lab: Lab, *, iterations: int) -> dict[str, Any]:
    """Per backend: total refresh request time, bare grant time, and the difference (microseconds)."""
    out: dict[str, Any] = {}
    http = httpx.Client(timeout=10)
    try:
        with RemoteEmulator() as remote:
            for name in lab.backends():
                # the same keep-alive client for the library and the bare grant, both to the emulator process
                kit = lab.backend(
                    name, tag="_refresh", http=http, refresh_buffer_seconds=10**8, api_port=remote.port
                ).kit
                cookies = lab.sign_in(kit, remote.issue_session(USER))
                bare_token = remote.issue_session(USER)["refresh_token"]
                totals: list[int] = []
                bares: list[int] = []
                failures = 0
                gc.collect()
                before = remote.grant_count(REFRESH)
                for i in range(iterations + 3):
                    start = time.perf_counter_ns()
                    result = kit.authenticate(cookies)
                    total = time.perf_counter_ns() - start
                    if not (result.refreshed and isinstance(result.user_info, UserInfo)) or result.error is not None:
                        failures += 1
                    new = {c.name: c.value for c in result.cookies if not c.is_deletion}
                    cookies = {**cookies, **new}
                    start = time.perf_counter_ns()
                    response = http.send(authenticate_with_refresh_token_request(kit.config, bare_token))
                    bare = time.perf_counter_ns() - start
                    response.raise_for_status()
                    bare_token = response.json()["refresh_token"]
                    if i >= 3:  # the first few warm the connection and caches
                        totals.append(total)
                        bares.append(bare)
                grants = remote.grant_count(REFRESH) - before - (iterations + 3)  # minus the bare grants
                total_s, bare_s = summarize(totals), summarize(bares)
                out[name] = {
                    "total": total_s,
                    "bare_grant": bare_s,
                    "added_median": total_s["median"] - bare_s["median"],
                    "added_p95": total_s["p95"] - bare_s["p95"],
                    "failures": failures,
                    "grants_per_request": grants / (iterations + 3),
                    "emulator": "separate process",
                }
                if name not in ("cookie", "memory"):  # the SQL stores
                    out[name]["one_write"] = _write_cost(kit, cookies, iterations)
    finally:
        http.close()
    return out


def _write_cost(kit: AuthKit, cookies: Mapping[str, str], iterations: int) -> dict[str, Any]:
    """The store's cost of one durable write (saving the session, as every refresh does once), for context."""
    loaded = kit.store.load(cookies).loaded
    assert loaded is not None
    samples = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        kit.store.update(loaded, loaded.session)
        samples.append(time.perf_counter_ns() - start)
    return summarize(samples)


# --- storm, one process ------------------------------------------------------------------------------------------


def _ok(result: Any) -> bool:
    return isinstance(result.user_info, UserInfo) and result.error is None


def storm_threads(kit: AuthKit, cookies: Mapping[str, str], n: int) -> tuple[list[int], int]:
    """``n`` threads released together, each authenticating ``cookies``; (latencies ns, failures)."""
    gate = threading.Event()
    latencies: list[int] = []
    failures: list[int] = []
    lock = threading.Lock()

    def request() -> None:
        gate.wait()
        start = time.perf_counter_ns()
        try:
            ok = _ok(kit.authenticate(cookies))
        except Exception:
            ok = False
        elapsed = time.perf_counter_ns() - start
        with lock:
            latencies.append(elapsed)
            if not ok:
                failures.append(1)

    threads = [threading.Thread(target=request, daemon=True) for _ in range(n)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(timeout=60)
    return latencies, len(failures) + (n - len(latencies))


async def storm_tasks(kit: AuthKit, cookies: Mapping[str, str], n: int) -> tuple[list[int], int]:
    """``n`` tasks started together, each awaiting ``authenticate_async(cookies)``."""

    async def request() -> tuple[int, bool]:
        start = time.perf_counter_ns()
        try:
            ok = _ok(await kit.authenticate_async(cookies))
        except Exception:
            ok = False
        return time.perf_counter_ns() - start, ok

    results = await asyncio.wait_for(asyncio.gather(*(request() for _ in range(n))), timeout=120)
    return [r[0] for r in results], sum(1 for r in results if not r[1])


def storms(lab: Lab, *, sizes: list[int], processes: int) -> list[dict[str, Any]]:
    """Every storm: per backend x face x N in one process, then N across ``processes`` on PostgreSQL."""
    rows: list[dict[str, Any]] = []
    for name in lab.backends():
        kit = lab.backend(name, tag="_storm").kit
        warm = lab.sign_in(kit)
        if not _ok(kit.authenticate(warm)):  # JWKS fetched, pool connected
            raise RuntimeError(f"the {name} store does not authenticate")

        async def async_storms(
            kit: AuthKit = kit, warm: dict[str, str] = warm, name: str = name
        ) -> list[dict[str, Any]]:
            await kit.authenticate_async(warm)
            found = []
            for n in sizes:
                cookies = lab.sign_in(kit, lab.auth_response(expires_in=EXPIRING_IN))
                before = lab.emulator.grant_count(REFRESH)
                latencies, failures = await storm_tasks(kit, cookies, n)
                found.append(_row(name, "async tasks", 1, n, latencies, failures, lab, before))
            await kit.aclose()
            await lab.dispose_async_engines()
            return found

        for n in sizes:
            cookies = lab.sign_in(kit, lab.auth_response(expires_in=EXPIRING_IN))
            before = lab.emulator.grant_count(REFRESH)
            latencies, failures = storm_threads(kit, cookies, n)
            rows.append(_row(name, "sync threads", 1, n, latencies, failures, lab, before))
        rows.extend(asyncio.run(async_storms()))
    if processes > 1 and lab.have_postgres:
        for n in sizes:
            rows.append(storm_processes(lab, n, processes))
    return rows


def _row(
    backend: str, face: str, procs: int, n: int, latencies: list[int], failures: int, lab: Lab, before: int
) -> dict[str, Any]:
    stats = summarize(latencies, unit=1e6)  # milliseconds
    return {
        "backend": backend,
        "face": face,
        "processes": procs,
        "n": n,
        "grants": lab.emulator.grant_count(REFRESH) - before,
        "failures": failures,
        "p50_ms": stats.get("median"),
        "p99_ms": stats.get("p99"),
    }


# --- storm across processes (PostgreSQL) -----------------------------------------------------------------------------


def storm_processes(lab: Lab, n: int, processes: int) -> dict[str, Any]:
    """``n`` requests split over ``processes`` worker processes sharing one PostgreSQL store."""
    table = lab.table + "_mp"
    kit = lab.backend("postgres", tag="_mp").kit  # creates the table; its cleanup drops it
    cookies = lab.sign_in(kit, lab.auth_response(expires_in=EXPIRING_IN))
    warm = lab.sign_in(kit)
    config = {
        k: getattr(kit.config, k)
        for k in ("client_id", "api_key", "redirect_uri", "cookie_password", "api_hostname", "api_https", "api_port")
    }
    per = [n // processes + (1 if i < n % processes else 0) for i in range(processes)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent), *sys.path])}
    workers = []
    for count in per:
        job = {"config": config, "url": POSTGRES_URL, "table": table, "cookies": cookies, "warm": warm, "n": count}
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.refresh", "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(job) + "\n")
        proc.stdin.flush()
        workers.append(proc)
    try:
        for proc in workers:  # each says "ready" once warm
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a storm worker did not start")
        before = lab.emulator.grant_count(REFRESH)
        for proc in workers:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        latencies: list[int] = []
        failures = 0
        for proc in workers:
            out, _ = proc.communicate(timeout=120)
            report = json.loads(out)
            latencies.extend(report["latencies"])
            failures += report["failures"]
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
    return _row("postgres", "sync threads", processes, n, latencies, failures, lab, before)


def worker() -> None:
    """One storm process: read the job, warm up, say ready, wait for go, storm, print the report."""
    from sqlalchemy import create_engine

    from authkit_core.config import AuthKitConfig
    from authkit_core.storage.sql import SQLSessionStore

    job = json.loads(sys.stdin.readline())
    engine = create_engine(job["url"], pool_size=8, max_overflow=8, isolation_level="AUTOCOMMIT")
    store = SQLSessionStore(engine, table_name=job["table"])
    kit = AuthKit(AuthKitConfig(**job["config"]), store=store)
    kit.authenticate(job["warm"])
    print("ready", flush=True)
    sys.stdin.readline()
    latencies, failures = storm_threads(kit, job["cookies"], job["n"])
    print(json.dumps({"latencies": latencies, "failures": failures}), flush=True)
    kit.close()
    engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", action="store_true", help="run as a storm worker process (internal)")
    if parser.parse_args().worker:
        worker()
