"""Shared test helpers.

Tests that need an outside peer (PostgreSQL, MariaDB, Redis, Node.js with the pinned npm packages) call
:func:`require_service`. Locally a missing peer skips the test; with ``AUTHKIT_REQUIRE_SERVICES=1`` (set by
``.ci/run``) it fails instead, so CI can never pass by skipping.

It also scans the log records of the whole run for secrets (see "secrets in logs" below).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

NODE_DIR = Path(__file__).parent / "interop" / "node"
POSTGRES_URL = os.environ.get("AUTHKIT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("AUTHKIT_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("AUTHKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


#: The headers of a browser loading a page (a sign-in redirect suits it; a fetch or an API client gets 401).
PAGE = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def services_required() -> bool:
    """Whether a missing service must fail the run (CI) rather than skip."""
    return os.environ.get("AUTHKIT_REQUIRE_SERVICES", "") not in ("", "0", "false")


def require_service(name: str, available: bool, how: str) -> None:
    """Skip (locally) or fail (CI) when ``name`` is not available."""
    if available:
        return
    message = f"{name} is not available: {how}"
    if services_required():
        pytest.fail(message + " (AUTHKIT_REQUIRE_SERVICES is set, so this fails instead of skipping)")
    pytest.skip(message)


def port_open(host: str, port: int) -> bool:
    """Whether something listens on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_node() -> str:
    """The path of ``node``, with the pinned npm packages installed (``make node-deps``)."""
    node = shutil.which("node")
    installed = (NODE_DIR / "node_modules" / "iron-session").is_dir() and (
        NODE_DIR / "node_modules" / "@workos-inc" / "node"
    ).is_dir()
    require_service("node", node is not None and installed, "install Node.js and run `make node-deps`")
    assert node is not None
    return node


def require_postgres() -> str:
    """The SQLAlchemy URL of the test PostgreSQL database."""
    require_service("PostgreSQL", port_open("127.0.0.1", 5432), "start PostgreSQL on 127.0.0.1:5432")
    return POSTGRES_URL


def require_mariadb() -> str:
    """The SQLAlchemy URL of the test MariaDB database."""
    require_service("MariaDB", port_open("127.0.0.1", 3306), "start MariaDB on 127.0.0.1:3306")
    return MARIADB_URL


def require_redis() -> str:
    """The URL of the test Redis (shared by the tests: each uses a key prefix of its own)."""
    require_service("Redis", port_open("127.0.0.1", 6379), "start Redis on 127.0.0.1:6379")
    return REDIS_URL


# --- secrets in logs ------------------------------------------------------------------------------------------
# The whole suite runs with the library's loggers (and httpx/httpcore) at DEBUG and a handler on the root logger
# that scans every record it sees. A record that holds an access token (a JWT), a sealed value (cookie, state),
# an API key, or a code / refresh token / code verifier / client secret that the WorkOS emulator received during
# the test fails the run at the end. httpx/httpcore also log the *test's* browser traffic (callback URLs with
# their code and state, Set-Cookie headers), so for those two loggers only tokens, refresh tokens and API keys
# count: the library never puts a code or a seal in a URL or a header it sends.

_DEBUG_LOGGERS = ("authkit_session", "authkit_core", "authkit_adapters", "httpx", "httpcore")
_TRANSPORT_LOGGERS = ("httpx", "httpcore")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.")
_SEAL = re.compile(r"Fe26\.2(?:\*|%2A)", re.IGNORECASE)
# WorkOS secret keys (``sk_test_...``, ``sk_live_...``), not a random stretch of base64 that happens to hold "sk_"
_API_KEY = re.compile(r"(?<![A-Za-z0-9_%-])sk_(?:test|live)_[A-Za-z0-9_]{6,}")
_RUN = re.compile(r"[A-Za-z0-9_-]{16,}")
# What the emulator received that must never be logged, by request field; transport logs are checked for the
# second group only.
_SECRET_FIELDS = ("code", "code_verifier", "refresh_token", "client_secret", "value")
_TRANSPORT_SECRET_FIELDS = ("refresh_token", "client_secret", "value")


class SecretLogScanner(logging.Handler):
    """Scans every log record of the run for secrets; see the comment above."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.scanned = 0
        self.leaks: list[str] = []
        self._test = "<outside a test>"
        self._runs: set[str] = set()
        self._transport_runs: set[str] = set()
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        """Check one record for secret patterns and keep its token-like runs for the end of the test."""
        try:
            text = self.format(record)
        except Exception:  # a broken record is the logging call's problem, not a leak
            return
        transport = record.name.split(".")[0] in _TRANSPORT_LOGGERS
        found = [p.pattern for p in (_JWT, _API_KEY) if p.search(text)]
        if not transport and _SEAL.search(text):
            found.append(_SEAL.pattern)
        runs = set(_RUN.findall(text))
        with self._guard:
            self.scanned += 1
            (self._transport_runs if transport else self._runs).update(runs)
            if found:
                self.leaks.append(f"{self._test}: {record.name} logged {', '.join(found)}: {text[:200]!r}")

    def begin(self, test: str) -> None:
        """Start collecting for ``test``."""
        with self._guard:
            self._test, self._runs, self._transport_runs = test, set(), set()

    def end(self, received: list[dict[str, object]]) -> None:
        """Compare what was logged during the test with the secrets the emulator received."""
        secrets: set[str] = set()
        transport_secrets: set[str] = set()
        for body in received:
            for name in _SECRET_FIELDS:
                value = body.get(name)
                if isinstance(value, str) and len(value) >= 16:
                    secrets.add(value)
                    if name in _TRANSPORT_SECRET_FIELDS:
                        transport_secrets.add(value)
        with self._guard:
            leaked = (self._runs & secrets) | (self._transport_runs & transport_secrets)
            if leaked:
                self.leaks.append(f"{self._test}: {len(leaked)} secret(s) the emulator received were logged")
            self._test, self._runs, self._transport_runs = "<outside a test>", set(), set()


LOG_SCANNER = SecretLogScanner()


def pytest_configure(config: pytest.Config) -> None:
    """Turn the library's loggers to DEBUG and scan everything that reaches the root logger."""
    for name in _DEBUG_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.getLogger().addHandler(LOG_SCANNER)


@pytest.fixture(autouse=True)
def _no_secrets_in_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    """Attribute log records to the running test; at its end, check them against what the emulator received."""
    LOG_SCANNER.begin(request.node.nodeid)
    yield
    received: list[dict[str, object]] = []
    if "workos_emulator_server" in request.fixturenames:
        try:
            server = request.getfixturevalue("workos_emulator_server")
        except pytest.FixtureLookupError:
            server = None
        if server is not None:
            received = [r.json for r in server.emulator.requests if isinstance(r.json, dict)]
    LOG_SCANNER.end(received)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Report the log scan; secrets found fail the run."""
    terminalreporter.write_sep("-", "secrets in logs")
    terminalreporter.write_line(f"{LOG_SCANNER.scanned} log records scanned at DEBUG, {len(LOG_SCANNER.leaks)} leaks")
    for leak in LOG_SCANNER.leaks[:50]:
        terminalreporter.write_line("LEAK " + leak)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a secret was logged."""
    if LOG_SCANNER.leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
