"""``authkit-bench`` (``python -m authkit_core.bench``), end to end on SQLite, the machine's PostgreSQL and Redis
with the bundled emulator: the JSON has every figure with the counts asked for, the provider's share is part of the
total, nothing is left behind in the database, and ``--workos`` refuses to run without the staging confirmation.
Timings are not asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy

from conftest import require_postgres, require_redis

ROOT = Path(__file__).resolve().parent.parent


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "authkit_core.bench", *args], capture_output=True, text=True, timeout=120, env=env
    )


def bench_tables(url: str) -> int:
    """How many ``authkit_bench_*`` tables the database has."""
    engine = sqlalchemy.create_engine(url)
    query = "select count(*) from information_schema.tables where table_name like 'authkit_bench_%%'"
    with engine.connect() as conn:
        count = int(conn.exec_driver_sql(query).scalar_one())
    engine.dispose()
    return count


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "redis"])
def test_json_figures_on_a_store(kind: str, tmp_path: Path) -> None:
    url = {
        "sqlite": lambda: f"sqlite:///{tmp_path / 'bench.sqlite3'}",
        "postgres": require_postgres,
        "redis": require_redis,
    }[kind]()
    before = bench_tables(url) if kind == "postgres" else 0
    done = bench("--store", url, "--refreshes", "5", "--requests", "20", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["provider"].startswith("the bundled emulator")
    for key, n in (("refresh_total", 5), ("refresh_provider", 5), ("refresh_library", 5), ("authenticate", 20)):
        figure = report[key]
        assert figure["n"] == n and 0 <= figure["p50"] <= figure["p95"] <= figure["p99"]
    assert 0 < report["refresh_provider"]["p50"] <= report["refresh_total"]["p99"]
    if kind == "postgres":
        assert bench_tables(url) == before  # the run's table was dropped


def test_the_table_and_a_password_free_store_name(tmp_path: Path) -> None:
    done = bench("--store", "memory", "--refreshes", "3", "--requests", "5")
    assert done.returncode == 0, done.stderr
    assert "refresh, end to end" in done.stdout and "the library's share" in done.stdout
    assert "a request (authenticate)" in done.stdout
    from authkit_core.bench import safe_url

    assert safe_url("redis://user:s3cret@host:6380/1") == "redis://user@host:6380/1"


def test_a_real_workos_run_needs_the_staging_confirmation() -> None:
    done = bench("--workos", "--refreshes", "1")
    assert done.returncode == 2 and "--not-production" in done.stderr
