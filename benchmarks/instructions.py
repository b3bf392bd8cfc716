"""Instructions per request: the servers of the throughput part under valgrind's callgrind, bare app vs middleware.

Requests per second on a shared machine move by 10% or more between runs minutes apart, more than the 5 points
the throughput targets judge. The number of instructions the server executes per request does not depend on what
else the machine does: the uvicorn servers and apps of :data:`benchmarks.throughput.PAIRS` (one worker) run under
``valgrind --tool=callgrind`` with instrumentation off until warm; then ``callgrind_control`` turns it on for
``requests`` requests sent one after another on one keep-alive connection (the signed-in cookie, as in the
throughput part), and off again. ``ratio`` is bare / middleware: the share of the bare app's throughput the
middleware would keep if the server were bound by instructions alone (cache misses and the loopback's cost are not
counted, so it is a steadier figure beside rps, not a replacement). Repeated runs agree within ~1% (the event
loop's idle polls and the garbage collector's timing vary a little). Skipped with a note when valgrind is missing.
The gunicorn pairs are not measured: ``callgrind_control`` does not reach a worker that gunicorn forked.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .common import Lab
from .throughput import PAIRS, ROOT, _available, _free_port, _stop, _wait_port, server_command, server_env

#: The total of a callgrind dump, and a response's length.
_TOTALS = re.compile(rb"^totals: (\d+)", re.M)
_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.I)


def _requests(sock: socket.socket, request: bytes, count: int) -> bytes:
    """Send ``request`` ``count`` times, one after another, reading each response whole; the last status line."""
    buffer, status = b"", b""
    for _ in range(count):
        sock.sendall(request)
        while True:
            head, sep, rest = buffer.partition(b"\r\n\r\n")
            if sep:
                length = _LENGTH.search(head + b"\r\n")
                if length is None:
                    raise RuntimeError(f"a response without Content-Length: {head[:200]!r}")
                if len(rest) >= int(length.group(1)):
                    buffer, status = rest[int(length.group(1)) :], head.split(b"\r\n", 1)[0]
                    break
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("the server closed the connection")
            buffer += chunk
    return status


def _control(flag: str, pid: int) -> None:
    subprocess.run(["callgrind_control", flag, str(pid)], check=True, capture_output=True, timeout=60)


def count(kind: str, target: str, env: dict[str, str], request: bytes, *, requests: int, warmup: int) -> float:
    """Instructions per request of ``target`` served by ``kind`` (see the module)."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="authkit-callgrind-") as folder:
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={folder}/cg.%p"]
        proc = subprocess.Popen(
            [*command, *server_command(kind, target, port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_port(port, proc, timeout=120)  # valgrind starts the server slowly
            with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
                status = _requests(sock, request, warmup)
                if not status.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"{target} answered {status!r}")
                _control("--instr=on", proc.pid)
                _requests(sock, request, requests)
                _control("--instr=off", proc.pid)
                _control("--dump", proc.pid)
        finally:
            _stop(proc)
        total = sum(
            int(match.group(1)) for dump in Path(folder).iterdir() for match in _TOTALS.finditer(dump.read_bytes())
        )
    return total / requests


def run(lab: Lab, *, requests: int, warmup: int, pairs: int | None = None) -> dict[str, Any]:
    """Instructions per request of each pair of :data:`~benchmarks.throughput.PAIRS` (the first ``pairs`` only when
    given): ``{key: {"bare": n, "authkit": n, "ratio": bare / middleware}}``."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        return {"note": "skipped: valgrind (callgrind) is not installed (apt-get install valgrind)"}
    env, cookies = server_env(lab)
    request = (
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: authkit-bench\r\nAccept: */*\r\n"
        f"Cookie: {cookies['authkit']}\r\n\r\n"
    ).encode("latin-1")
    results: dict[str, Any] = {}
    for key, kind, bare_target, mw_target, middleware in PAIRS[:pairs]:
        if kind != "uvicorn" or middleware != "authkit" or not _available(kind, mw_target):
            continue
        bare = count(kind, bare_target, env, request, requests=requests, warmup=warmup)
        behind = count(kind, mw_target, env, request, requests=requests, warmup=warmup)
        results[key] = {"server": kind, "bare": bare, "authkit": behind, "ratio": bare / behind}
    return results
