"""The soak: many users and sessions refreshing on short tokens across several processes, for minutes.

Four application processes (``soak_worker.py``: two ASGI under uvicorn, two WSGI under a threaded ``wsgiref``)
share one PostgreSQL session store; the WorkOS emulator (in this process) issues access tokens that live
``TOKEN_TTL`` seconds and the engines refresh them ``REFRESH_BUFFER`` seconds before expiry, so every session
rotates its refresh token every few seconds. ``SESSIONS`` browsers each send requests to a random process, and now
and then a burst of simultaneous requests to all four (refresh coordination across processes under load). All on
127.0.0.1, bounded in time (``AUTHKIT_SOAK_SECONDS``, default 300) and in volume.

What must hold: zero unexpected sign-outs, zero lost sessions, zero 5xx, no refresh grant refused (a refused
grant would mean two processes spent one token), as many grants as rotations expected, no secret in any worker's
DEBUG logs, and each worker's memory flat (growth under ``RSS_GROWTH_LIMIT`` after warm-up).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy

from authkit_core.storage.sql import SQLSessionStore
from conftest import PAGE, require_postgres

from .conftest import ALICE, BOB, SESSION, authorize, count, expires_session, fresh_table

SOAK_SECONDS = float(os.environ.get("AUTHKIT_SOAK_SECONDS", "300"))
WORKER = Path(__file__).with_name("soak_worker.py")
FACES = ["asgi", "wsgi", "asgi", "wsgi"]
SESSIONS = 20
USERS = [ALICE, BOB, "nora@example.com"]
TOKEN_TTL = 6
REFRESH_BUFFER = 3
PAUSE = (0.1, 0.4)
BURST_EVERY = 15
RSS_GROWTH_LIMIT = 20 * 1024 * 1024

pytestmark = [pytest.mark.soak, pytest.mark.timeout(SOAK_SECONDS + 300)]


class Worker:
    """One ``soak_worker.py`` process."""

    def __init__(self, spec: dict[str, Any], log: Path) -> None:
        self.log_path = log
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(spec) + "\n")
        self.proc.stdin.flush()
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.proc.stdout.readline()), daemon=True).start()  # type: ignore[union-attr]
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            line = ""
        if not line.startswith("ready "):
            self.stop()
            pytest.fail(f"soak worker did not start: {line!r}\n{log.read_text()[-3000:]}")
        self.base_url = f"http://127.0.0.1:{int(line.split()[1])}"

    def stats(self) -> dict[str, Any]:
        """Its memory and log scan."""
        return dict(httpx.get(self.base_url + "/_stats", timeout=30).json())

    def stop(self) -> None:
        """Close its stdin (it exits), and make sure it is gone."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


@pytest.fixture
def soak_store(workos_emulator: Any) -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL table: ``(url, table)``."""
    url = require_postgres()
    table = fresh_table()
    store = SQLSessionStore(url, table_name=table, create_tables=True)
    store.dispose()
    yield url, table
    engine = sqlalchemy.create_engine(url)
    store.table.drop(engine, checkfirst=True)
    engine.dispose()


@dataclasses.dataclass
class Browser:
    """One signed-in browser: its cookie jar and who it is."""

    email: str
    client: httpx.Client
    tally: Counter[str] = dataclasses.field(default_factory=Counter)
    problems: list[str] = dataclasses.field(default_factory=list)


def test_soak(workos_emulator: Any, soak_store: tuple[str, str], tmp_path: Path) -> None:
    url, table = soak_store
    workos_emulator.access_token_ttl = TOKEN_TTL
    config = workos_emulator.config(refresh_buffer_seconds=REFRESH_BUFFER)
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    workers: list[Worker] = []
    try:
        for index, face in enumerate(FACES):
            spec = {"face": face, "config": fields, "url": url, "table": table}
            workers.append(Worker(spec, tmp_path / f"worker-{index}.log"))
        bases = [w.base_url for w in workers]
        browsers = [sign_in_browser(USERS[i % len(USERS)], bases[i % len(bases)]) for i in range(SESSIONS)]
        run(browsers, bases, workers, workos_emulator)
    finally:
        for worker in workers:
            worker.stop()


def sign_in_browser(email: str, base: str) -> Browser:
    """A browser signed in through one worker (the emulator sends it to the configured redirect URI, whose path
    any worker serves)."""
    client = httpx.Client(headers=PAGE, follow_redirects=False, timeout=30)
    first = client.get(base + "/protected")
    assert first.status_code == 307, first.text
    callback = urlsplit(authorize(first.headers["location"], email))
    done = client.get(f"{base}{callback.path}?{callback.query}")
    assert done.status_code == 307, done.text
    assert SESSION in client.cookies
    return Browser(email, client)


def visit(browser: Browser, base: str) -> None:
    """One request; its outcome goes into the browser's tally."""
    try:
        response = browser.client.get(base + "/")
    except httpx.HTTPError as exc:
        browser.problems.append(f"transport error {exc!r}")
        return
    browser.tally["requests"] += 1
    if response.status_code != 200:
        browser.problems.append(f"status {response.status_code}: {response.text[:200]}")
        return
    body = response.json()
    if expires_session(response):
        browser.problems.append(f"session ended: {body.get('reason')}")
    elif body["email"] != browser.email:
        browser.problems.append(f"unexpected sign-out: {body}")
    else:
        browser.tally["signed_in"] += 1
        if body["error"] is not None:
            browser.tally[f"transient {body['error']}"] += 1


def run(browsers: list[Browser], bases: list[str], workers: list[Worker], emulator: Any) -> None:
    """Drive the load, then check everything the module documentation promises."""
    stop = threading.Event()
    rng = random.Random(6)
    burst_pool = ThreadPoolExecutor(max_workers=len(bases) * 2)

    def browse(browser: Browser, seed: int) -> None:
        local = random.Random(seed)
        iteration = 0
        while not stop.is_set():
            iteration += 1
            if iteration % BURST_EVERY == 0:  # every process at once, for the same session
                list(burst_pool.map(lambda base: visit(browser, base), bases))
            else:
                visit(browser, local.choice(bases))
            time.sleep(local.uniform(*PAUSE))

    threads = [threading.Thread(target=browse, args=(b, rng.random()), daemon=True) for b in browsers]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    warm_up = min(30.0, SOAK_SECONDS / 5)
    time.sleep(warm_up)
    rss_start = [w.stats()["rss"] for w in workers]
    remaining = SOAK_SECONDS - (time.monotonic() - started)
    time.sleep(max(0.0, remaining))
    stop.set()
    for thread in threads:
        thread.join(60)
    burst_pool.shutdown()
    elapsed = time.monotonic() - started
    final = [w.stats() for w in workers]

    problems = [p for b in browsers for p in b.problems]
    totals: Counter[str] = Counter()
    for browser in browsers:
        totals.update(browser.tally)
    lost = 0
    for browser in browsers:  # every session is still there, as its user
        body = browser.client.get(bases[0] + "/").json()
        lost += body["email"] != browser.email
        browser.client.close()
    emulator_grants = [r for r in emulator.requests if r.grant_type == "refresh_token"]
    refused = [r for r in emulator_grants if r.status is not None and r.status >= 400]
    replayed = [r for r in emulator_grants if r.replayed]
    expected = SESSIONS * elapsed / (TOKEN_TTL - REFRESH_BUFFER)  # one rotation per session every 3 s
    growth = [end["rss"] - start for end, start in zip(final, rss_start, strict=True)]
    summary = {
        "seconds": round(elapsed),
        "processes": len(workers),
        "sessions": SESSIONS,
        "requests": totals["requests"],
        "signed_in": totals["signed_in"],
        "transient": {k: v for k, v in totals.items() if k.startswith("transient")},
        "refresh_grants": len(emulator_grants),
        "expected_grants": round(expected),
        "refused_grants": len(refused),
        "replayed_grants": len(replayed),
        "rss_growth_mb": [round(g / 2**20, 1) for g in growth],
        "log_records_scanned": sum(s["scanned"] for s in final),
        "lost": lost,
        "problems": len(problems),
    }
    sys.stderr.write(f"soak summary: {json.dumps(summary)}\n")
    count("soak_requests", totals["requests"])
    count("soak_refresh_grants", len(emulator_grants))
    count("soak_seconds", round(elapsed))
    count("sessions_lost", lost)
    count("unexpected_sign_outs", len(problems))

    assert not problems, problems[:10]
    assert lost == 0
    assert not refused, [(r.status, r.json and r.json.get("grant_type")) for r in refused[:5]]
    assert expected * 0.5 <= len(emulator_grants) <= expected * 1.5, summary  # rotations, and no grant storms
    assert all(not s["leaks"] for s in final), [s["leaks"] for s in final]
    assert all(g < RSS_GROWTH_LIMIT for g in growth), summary
