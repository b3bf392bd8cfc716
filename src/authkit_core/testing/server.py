"""Run the local WorkOS emulator on a real socket: uvicorn in a background thread, for tests and demos."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

from ..config import AuthKitConfig
from .emulator import Emulator

__all__ = ["EmulatorServer"]


class EmulatorServer:
    """Serve an :class:`Emulator` with uvicorn on ``host:port`` (``port=0``: a free port) in a daemon thread.

    Use it as a context manager (``with EmulatorServer(Emulator()) as server: ...``) or call :meth:`start` and
    :meth:`stop`. Starting sets the emulator's ``base_url``.
    """

    def __init__(self, emulator: Emulator | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        #: The app being served.
        self.emulator = emulator if emulator is not None else Emulator()
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("the emulator server is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def config(self, **overrides: Any) -> AuthKitConfig:
        """An ``AuthKitConfig`` for this server (see :meth:`Emulator.config`); ``overrides`` win."""
        return self.emulator.config(**overrides)

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        """Bind, start uvicorn in a daemon thread and wait until it accepts connections."""
        import uvicorn

        if self._thread is not None:
            raise RuntimeError("the emulator server is already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.listen(128)
        self._port = sock.getsockname()[1]
        self.emulator.base_url = self.base_url
        config = uvicorn.Config(
            self.emulator,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="workos-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the WorkOS emulator did not start")
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
