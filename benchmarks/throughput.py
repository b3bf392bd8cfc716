"""Throughput: requests per second through real servers, bare app vs the same app behind the middleware.

uvicorn (one worker, uvloop + httptools when installed) serves the ASGI apps and gunicorn (one ``gthread``
worker: gunicorn's threaded sync worker, which keeps connections alive) the WSGI apps of ``benchmarks/apps.py``,
each in its own process on 127.0.0.1: a constant app (the strictest case), the same route in Starlette and in
Flask, and, for reference, the Starlette app behind Starlette's own ``SessionMiddleware`` and each app behind a
middleware that only adds two headers. The bare and the middleware server of a pair run side by side and are
loaded in alternation (``rounds`` times each, new processes every round) by ``benchmarks/loadgen.py`` in a
separate process, with the signed-in cookie and warm caches (a warm-up phase precedes every measurement); the
server's CPU time per request is read from ``/proc`` beside the rps. Bounded: ``seconds`` per measurement.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import Lab, cookie_header
from .hotpath import asgi_middleware, wsgi_middleware

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited ({proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the server on port {port} did not start")


def server_command(kind: str, target: str, port: int) -> list[str]:
    """The command that serves ``target`` (``module:app``, or ``module:factory()``) with ``kind`` (uvicorn or
    gunicorn, one worker) on 127.0.0.1:``port``."""
    if kind == "uvicorn":
        args = [sys.executable, "-m", "uvicorn", target.removesuffix("()"), "--host", "127.0.0.1", "--port", str(port)]
        args += ["--log-level", "warning", "--no-access-log", "--lifespan", "off", "--workers", "1"]
        if target.endswith("()"):
            args.append("--factory")
        for flag, module in (("--loop", "uvloop"), ("--http", "httptools")):
            try:
                __import__(module)
                args += [flag, module]
            except ImportError:
                pass
    else:
        args = [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "4", "--keep-alive", "30"]
        args += ["-b", f"127.0.0.1:{port}", "--log-level", "warning", target]
        if _gunicorn_has_control_socket():  # gunicorn 27+: servers side by side would share one socket path
            args.insert(-1, "--no-control-socket")
    return args


def _gunicorn_has_control_socket() -> bool:
    try:
        from gunicorn.config import KNOWN_SETTINGS
    except ImportError:
        return False
    return any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS)


def _server(kind: str, target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(server_command(kind, target, port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def _stop(*procs: subprocess.Popen[bytes]) -> None:
    """Stop servers: all asked at once, each killed if it has not exited 10 s later."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _cpu_seconds(pid: int) -> float | None:
    """The CPU time (user + system) the process and its children (gunicorn's worker) have used so far; ``None``
    where ``/proc`` does not tell."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        children: list[int] = []
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as listed:
                children += [int(child) for child in listed.read().split()]
    except OSError:
        return None
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(_cpu_seconds(child) or 0.0 for child in children)


def _load(port: int, cookie: str, seconds: float, warmup: float, connections: int) -> dict[str, Any]:
    args = [sys.executable, "-m", "benchmarks.loadgen", "--port", str(port), "--cookie", cookie]
    args += ["--seconds", str(seconds), "--warmup", str(warmup), "--connections", str(connections)]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=seconds + warmup + 60, check=True)
    return dict(json.loads(out.stdout))


#: ``(key, server, bare app, app behind the middleware, whose middleware)``: the pairs, in order.
PAIRS = (
    ("uvicorn", "uvicorn", "benchmarks.apps:asgi_bare", "benchmarks.apps:asgi_authkit()", "authkit"),
    (
        "uvicorn+starlette",
        "uvicorn",
        "benchmarks.apps:starlette_bare()",
        "benchmarks.apps:starlette_authkit()",
        "authkit",
    ),
    (
        "uvicorn+starlette, Starlette SessionMiddleware (reference)",
        "uvicorn",
        "benchmarks.apps:starlette_bare()",
        "benchmarks.apps:starlette_sessions()",
        "starlette",
    ),
    (
        "uvicorn, header-only middleware (reference)",
        "uvicorn",
        "benchmarks.apps:asgi_bare",
        "benchmarks.apps:asgi_header_only()",
        "authkit",
    ),
    (
        "uvicorn+starlette, header-only middleware (reference)",
        "uvicorn",
        "benchmarks.apps:starlette_bare()",
        "benchmarks.apps:starlette_header_only()",
        "authkit",
    ),
    ("gunicorn", "gunicorn", "benchmarks.apps:wsgi_bare", "benchmarks.apps:wsgi_authkit()", "authkit"),
    ("gunicorn+flask", "gunicorn", "benchmarks.apps:flask_bare()", "benchmarks.apps:flask_authkit()", "authkit"),
    (
        "gunicorn, header-only middleware (reference)",
        "gunicorn",
        "benchmarks.apps:wsgi_bare",
        "benchmarks.apps:wsgi_header_only()",
        "authkit",
    ),
    (
        "gunicorn+flask, header-only middleware (reference)",
        "gunicorn",
        "benchmarks.apps:flask_bare()",
        "benchmarks.apps:flask_header_only()",
        "authkit",
    ),
)


def _available(server: str, target: str) -> bool:
    module = target.split(":")[1].split("_")[0]
    needs = {"starlette": "starlette", "flask": "flask"}.get(module)
    if needs is not None and importlib.util.find_spec(needs) is None:
        return False
    if server == "gunicorn":
        return wsgi_middleware() is not None and importlib.util.find_spec("gunicorn") is not None
    return asgi_middleware() is not None


def server_env(lab: Lab) -> tuple[dict[str, str], dict[str, str]]:
    """The environment of the servers of :data:`PAIRS` (the engine's configuration, against the lab's emulator),
    and the ``Cookie`` header of a signed-in session for AuthKit's middleware (``{"authkit": header}``)."""
    kit = lab.backend("cookie", tag="_tp").kit
    cookies = {"authkit": cookie_header(lab.sign_in(kit))}
    config = {
        k: getattr(kit.config, k)
        for k in ("client_id", "api_key", "redirect_uri", "cookie_password", "api_hostname", "api_https", "api_port")
    }
    return {**os.environ, "AUTHKIT_BENCH_CONFIG": json.dumps(config), "PYTHONPATH": str(ROOT)}, cookies


def run(lab: Lab, *, seconds: float, warmup: float, rounds: int, connections: int) -> dict[str, Any]:
    """rps of each pair of :data:`PAIRS` (bare vs behind the middleware); ``ratio`` = middleware rps / bare rps
    (medians), and ``cpu_us``, the server's CPU time per request. The two servers of a pair run side by side and are
    loaded in alternation."""
    env, cookies = server_env(lab)
    results: dict[str, Any] = {}
    skipped = [key for key, server, _, mw, _ in PAIRS if not _available(server, mw)]
    for key, kind, bare_target, mw_target, middleware in PAIRS:
        if key in skipped:
            continue
        if middleware == "starlette":
            if importlib.util.find_spec("itsdangerous") is None:
                skipped.append(key)
                continue
            from .apps import starlette_session_cookie

            cookies["starlette"] = starlette_session_cookie()
        cookie = cookies[middleware]
        runs: dict[str, list[dict[str, Any]]] = {"bare": [], "authkit": []}
        for round_ in range(rounds):
            # New server processes every round: two identical servers differ by up to ~10% here (where each landed
            # in memory and on the CPUs), a bias that only fresh processes average out.
            ports = {"bare": _free_port(), "authkit": _free_port()}
            procs = {
                "bare": _server(kind, bare_target, ports["bare"], env),
                "authkit": _server(kind, mw_target, ports["authkit"], env),
            }
            try:
                for name, proc in procs.items():
                    _wait_port(ports[name], proc)
                for name in ("bare", "authkit") if round_ % 2 == 0 else ("authkit", "bare"):
                    before = _cpu_seconds(procs[name].pid)
                    run = _load(ports[name], cookie, seconds, warmup, connections)
                    after = _cpu_seconds(procs[name].pid)
                    served = run["rps"] * (seconds + warmup)  # the warm-up's requests too: the CPU time covers them
                    if before is not None and after is not None and served:
                        run["cpu_us"] = (after - before) / served * 1e6
                    runs[name].append(run)
            finally:
                _stop(*procs.values())
        entry: dict[str, Any] = {"server": kind, "middleware": middleware, "runs": runs}
        for name, found in runs.items():
            entry[name] = {
                "rps": statistics.median(r["rps"] for r in found),
                "p50_ms": statistics.median(r["p50_ms"] or 0 for r in found),
                "p99_ms": statistics.median(r["p99_ms"] or 0 for r in found),
                "errors": sum(int(r["errors"]) for r in found),
                "requests": sum(int(r["requests"]) for r in found),
                # the server's CPU time per request: steadier than rps when the machine's speed drifts
                "cpu_us": statistics.median(r["cpu_us"] for r in found) if all("cpu_us" in r for r in found) else None,
            }
        entry["ratio"] = entry["authkit"]["rps"] / entry["bare"]["rps"] if entry["bare"]["rps"] else None
        results[key] = entry
    if skipped:
        results["note"] = (
            f"skipped (missing server, framework or middleware: pip install -e '.[dev,bench]'): {', '.join(skipped)}"
        )
    return results
