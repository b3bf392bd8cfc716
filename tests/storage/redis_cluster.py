"""A throwaway Redis Cluster for the tests: three masters (no replicas) on spare ports, started on first use by
:func:`cluster_ports` and killed when the test run ends. Needs ``redis-server`` and ``redis-cli`` on PATH."""

from __future__ import annotations

import atexit
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time

from conftest import require_service

__all__ = ["cluster_ports"]

_lock = threading.Lock()
_ports: list[int] = []
_procs: list[subprocess.Popen[bytes]] = []


def _free_port() -> int:
    """A port that is free together with its cluster bus port (the port + 10000, so below 55536)."""
    while True:
        port = random.randint(20000, 55000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port


def _stop() -> None:
    for proc in _procs:
        proc.kill()
        proc.wait(10)


def cluster_ports() -> list[int]:
    """The ports of the test cluster's masters (started now if it is not running)."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    require_service("Redis Cluster", server is not None and cli is not None, "install Redis (redis-server, redis-cli)")
    assert server is not None and cli is not None
    with _lock:
        if _ports:
            return list(_ports)
        directory = tempfile.mkdtemp(prefix="authkit-redis-cluster-")
        ports = [_free_port() for _ in range(3)]
        atexit.register(_stop)
        for port in ports:
            _procs.append(
                subprocess.Popen(
                    [
                        server,
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--dir",
                        directory,
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        f"nodes-{port}.conf",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in ports:
            _wait(cli, port, "PING", "PONG")
        subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports), "--cluster-yes"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        for port in ports:
            _wait(cli, port, "CLUSTER INFO", "cluster_state:ok")
        _ports.extend(ports)
        return list(ports)


def _wait(cli: str, port: int, command: str, expect: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = subprocess.run(
            [cli, "-p", str(port), *command.split()], capture_output=True, text=True, timeout=10, check=False
        ).stdout
        if expect in out:
            return
        time.sleep(0.1)
    raise AssertionError(f"redis-server on port {port} never answered {expect!r} to {command}")
