"""Many signed-in users through a real server (issue 16): uvicorn (one worker) serving a tiny app behind
``AuthKitMiddleware``, loaded over keep-alive connections where every request carries one of N distinct session
cookies, round-robin (every session in turn: the worst case for bounded caches) and skewed (80% of requests to the
hottest 2% of the sessions), on the cookie, memory and SQLite stores.

Per point: requests per second behind the middleware as a share of the bare app's (measured in the same run, with
the same cookies), the share of requests answered signed out (a memory store bounded below N evicts: each eviction
is a sign-out), and the server's resident memory after the run, with the growth per session over the N = 1 server.
Each measurement starts after one full pass over the N sessions (every session seen once, as on a server whose
users all came back), so it shows the steady state, not the first visit. Bounded: ``seconds`` per measurement,
the warm-up pass capped at ``max_warmup`` requests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import USER, Lab
from .throughput import ROOT, _free_port, _server, _stop, _wait_port

STORES = ("cookie", "memory", "sqlite")
ORDERS = ("round_robin", "skewed")


def _rss_kb(pid: int) -> int:
    """The resident memory of process ``pid`` in KB (``VmRSS``), 0 where ``/proc`` has none."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _load(port: int, cookies_file: Path, order: str, seconds: float, warmup: int, connections: int) -> dict[str, Any]:
    args = [sys.executable, "-m", "benchmarks.loadgen", "--port", str(port), "--cookies-file", str(cookies_file)]
    args += ["--order", order, "--seconds", str(seconds), "--warmup-requests", str(warmup)]
    args += ["--connections", str(connections)]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 900, check=True)
    return dict(json.loads(out.stdout))


def _wait_file(path: Path, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}) before signing its users in")
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not sign its users in")
        time.sleep(0.05)


def run(lab: Lab, *, sizes: list[int], seconds: float, connections: int, max_warmup: int = 200_000) -> dict[str, Any]:
    """Per store, N and order: share of bare throughput, signed-out share, server RSS (see the module)."""
    kit = lab.backend("cookie", tag="_uh").kit
    config = {
        k: getattr(kit.config, k)
        for k in ("client_id", "api_key", "redirect_uri", "cookie_password", "api_hostname", "api_https", "api_port")
    }
    biggest = max(sizes)
    results: dict[str, Any] = {"sizes": sorted(set(sizes)), "seconds": seconds, "connections": connections}
    with tempfile.TemporaryDirectory(prefix="authkit-users-http-") as tmp:
        work = Path(tmp)
        responses = work / "responses.json"
        responses.write_text(json.dumps([lab.emulator.issue_session(USER) for _ in range(biggest)]))
        env = {**os.environ, "AUTHKIT_BENCH_CONFIG": json.dumps(config), "PYTHONPATH": str(ROOT)}
        bare_port = _free_port()
        bare = _server("uvicorn", "benchmarks.apps:users_bare()", bare_port, env)
        try:
            _wait_port(bare_port, bare)
            for store in STORES:
                rows = []
                for n in results["sizes"]:
                    cookies = work / f"cookies-{store}-{n}.txt"
                    spec = {
                        "store": store,
                        "sessions": n,
                        "responses": str(responses),
                        "cookies_out": str(cookies),
                        "database": str(work / f"sessions-{store}-{n}.sqlite3"),
                    }
                    port = _free_port()
                    proc = _server(
                        "uvicorn",
                        "benchmarks.apps:users_authkit()",
                        port,
                        {**env, "AUTHKIT_BENCH_USERS": json.dumps(spec)},
                    )
                    try:
                        _wait_file(cookies, proc, timeout=600)
                        _wait_port(port, proc, timeout=60)
                        row: dict[str, Any] = {"sessions": n}
                        warmup = min(n, max_warmup)
                        for order in ORDERS:
                            base = _load(bare_port, cookies, order, seconds, warmup, connections)
                            measured = _load(port, cookies, order, seconds, warmup, connections)
                            row[order] = {
                                "rps": measured["rps"],
                                "bare_rps": base["rps"],
                                "share": measured["rps"] / base["rps"] if base["rps"] else None,
                                "signed_out_share": measured["signed_out"] / measured["requests"]
                                if measured["requests"]
                                else None,
                                "errors": measured["errors"] + base["errors"],
                                "p99_ms": measured["p99_ms"],
                            }
                        row["rss_kb"] = _rss_kb(proc.pid)
                    finally:
                        _stop(proc)
                    rows.append(row)
                first = rows[0]["rss_kb"]
                for row in rows:
                    extra = row["sessions"] - rows[0]["sessions"]
                    row["rss_kb_per_session"] = (row["rss_kb"] - first) / extra if extra > 0 else None
                results[store] = rows
        finally:
            _stop(bare)
    return results


def table(results: dict[str, Any]) -> list[str]:
    """The results as Markdown lines."""
    lines = [
        "| store | N | round-robin: share of bare | signed out | skewed: share of bare | signed out | "
        "server RSS | growth per session |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value * 100:.0f}%"

    for store in STORES:
        for row in results.get(store, []):
            rr, sk = row["round_robin"], row["skewed"]
            per = row["rss_kb_per_session"]
            lines.append(
                f"| {store} | {row['sessions']:,} | {pct(rr['share'])} | {pct(rr['signed_out_share'])} | "
                f"{pct(sk['share'])} | {pct(sk['signed_out_share'])} | {row['rss_kb'] / 1024:.0f} MB | "
                f"{'-' if per is None else f'{per * 1024:,.0f} B'} |"
            )
    return lines
