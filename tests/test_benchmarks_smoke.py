"""Smoke test of the benchmark suite: ``python -m benchmarks.run --smoke`` runs every part with tiny counts.

It checks only that well-formed results come out (every part present, numbers where numbers belong) and the
storm's correctness figures (exactly one refresh grant, no failure); never a timing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_service

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("bench")
    # the repository root (for ``benchmarks``), then the caller's path (which may point at a worktree's ``src``)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", "--out", str(out), "--no-docs"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((out / "benchmarks.json").read_text()), out


def _stats(entry: dict) -> None:
    assert entry["n"] > 0
    assert 0 < entry["min"] <= entry["median"] <= entry["p95"] <= entry["p99"]


def test_files_written(results: tuple[dict, Path]) -> None:
    data, out = results
    assert data["meta"]["smoke"] is True
    assert data["meta"]["machine"]["cores"] >= 1
    markdown = (out / "results.md").read_text()
    assert "### Hot path" in markdown and "### Targets" in markdown
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_hot_path(results: tuple[dict, Path]) -> None:
    figures = results[0]["hot_path"]["figures"]
    for name in (
        "engine.cookie",
        "engine.cookie.cold",
        "engine.memory",
        "engine.sqlite",
        "engine.redis",
        "asgi.redis",
        "wsgi.redis",
        "floor.pipeline",
    ):
        _stats(figures[name])
    _stats(figures["asgi.bare"])
    for name, entry in figures.items():
        if name.startswith(("asgi.", "wsgi.")) and not name.endswith(".bare"):
            assert isinstance(entry["added_median"], float)


def test_refresh_latency(results: tuple[dict, Path]) -> None:
    refresh = results[0]["refresh"]
    assert {"cookie", "memory", "sqlite", "redis"} <= set(refresh)
    for entry in refresh.values():
        _stats(entry["total"])
        _stats(entry["bare_grant"])
        assert entry["failures"] == 0
        assert entry["grants_per_request"] == 1


def test_storm_one_grant_no_failure(results: tuple[dict, Path]) -> None:
    storms = results[0]["storm"]
    assert storms
    assert {"redis"} <= {storm["backend"] for storm in storms}
    for storm in storms:
        assert storm["grants"] == 1, storm
        assert storm["failures"] == 0, storm
        assert storm["p99_ms"] > 0


def test_throughput_and_scale(results: tuple[dict, Path]) -> None:
    data = results[0]
    for name, entry in data["throughput"].items():
        if isinstance(entry, dict):
            assert entry["bare"]["requests"] > 0 and entry["authkit"]["requests"] > 0, name
            assert entry["bare"]["errors"] == 0 and entry["authkit"]["errors"] == 0, name
            if sys.platform == "linux":  # the server's CPU time per request, read from /proc
                assert entry["bare"]["cpu_us"] is not None and entry["authkit"]["cpu_us"] is not None, name
    sql = data["scale"]["sql"]
    assert {"sqlite", "redis"} <= set(sql)
    for entry in sql.values():
        assert len(entry["sizes"]) == 2
        for size in entry["sizes"]:
            _stats(size)
    assert data["scale"]["memory"]["memory_store_bytes_per_session"] > 0
    assert [c["permissions"] for c in data["scale"]["cookie_sizes"]] == [0, 10, 50, 100, 200]
    assert all(t["met"] in (True, False, None) for t in data["targets"])


def test_instructions_per_request(results: tuple[dict, Path]) -> None:
    """The callgrind part counts the uvicorn constant app's instructions per request, bare and behind AuthKit."""
    require_service("valgrind", shutil.which("valgrind") is not None, "apt-get install valgrind")
    entry = results[0]["instructions"]["uvicorn"]
    assert 20_000 < entry["bare"] < entry["authkit"] < 10 * entry["bare"], entry
    assert entry["ratio"] == pytest.approx(entry["bare"] / entry["authkit"])
    assert "### Instructions per request" in (results[1] / "results.md").read_text()


def test_outage(results: tuple[dict, Path]) -> None:
    outage = results[0]["outage"]
    for kind in ("due", "expired"):
        entry = outage[kind]
        for mode in ("off", "on"):
            _stats(entry[mode])
            assert entry[mode]["wrong"] == 0, entry
        assert entry["off"]["attempts_per_request"] == 1 + outage["settings"]["max_retries"]  # every retry, each time
        assert entry["on"]["attempts_per_request"] < 1  # held back after the first failures
    assert "### Outage" in (results[1] / "results.md").read_text()


def test_many_users(results: tuple[dict, Path]) -> None:
    users = results[0]["users"]
    assert set(users) == {"cookie", "memory", "sqlite"}
    for rows in users.values():
        assert [r["sessions"] for r in rows] == [1, 20]
        for r in rows:
            assert r["round_robin_median_us"] > 0 and r["skewed_median_us"] > 0
            assert r["round_robin_signed_out"] == r["skewed_signed_out"] == 0  # 20 sessions fit every bound
    assert "### Many users" in (results[1] / "results.md").read_text()


def test_many_users_through_uvicorn(results: tuple[dict, Path]) -> None:
    found = results[0]["users_http"]
    assert found["sizes"] == [1, 20]
    for store in ("cookie", "memory", "sqlite"):
        rows = found[store]
        assert [r["sessions"] for r in rows] == [1, 20]
        for row in rows:
            for order in ("round_robin", "skewed"):
                point = row[order]
                assert point["rps"] > 0 and point["bare_rps"] > 0 and point["share"] > 0
                assert point["signed_out_share"] == 0 and point["errors"] == 0  # every session served signed in
            assert row["rss_kb"] > 0
    assert "### Many users through uvicorn" in (results[1] / "results.md").read_text()
    assert (results[1] / "users.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # the curve


def test_telemetry_overhead(results: tuple[dict, Path]) -> None:
    found = results[0]["telemetry"]
    for store in ("cookie", "memory"):
        for case in ("plain", "stopped", "api_only", "otel"):
            assert found[store]["warm_us"][case] > 0 and found[store]["refresh_us"][case] > 0
    assert "### OpenTelemetry" in (results[1] / "results.md").read_text()
