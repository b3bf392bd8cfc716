"""Shared test helpers.

Tests that need an outside peer (PostgreSQL, MariaDB, Node.js with the pinned npm packages) call
:func:`require_service`. Locally a missing peer skips the test; with ``AUTHKIT_REQUIRE_SERVICES=1`` (set by
``.ci/run``) it fails instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).parent / "interop" / "node"
POSTGRES_URL = os.environ.get("AUTHKIT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("AUTHKIT_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


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
