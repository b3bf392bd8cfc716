"""Fault injection and the request log: how tests make the emulator misbehave and see what it received."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from .asgi import _AUTHENTICATE, _Response
from .state import _State

__all__ = ["Fault", "RecordedRequest"]


@dataclass(slots=True)
class RecordedRequest:
    """One request the emulator received.

    ``status`` is ``None`` while it is being answered or when the connection was dropped; ``faulted`` says an
    injected fault answered (or delayed) it; ``replayed`` that it was answered from the ``Idempotency-Key`` store.
    """

    method: str
    path: str
    query: dict[str, str]
    json: dict[str, Any] | None
    headers: dict[str, str]
    time: float
    status: int | None = None
    faulted: bool = False
    replayed: bool = False
    body: bytes = field(default=b"", repr=False)

    @property
    def grant_type(self) -> str | None:
        """The ``grant_type`` of a POST to ``/user_management/authenticate``, else ``None``."""
        if self.method == "POST" and self.path == _AUTHENTICATE and self.json is not None:
            value = self.json.get("grant_type")
            return value if isinstance(value, str) else None
        return None


@dataclass(slots=True)
class Fault:
    """An injected fault: see :meth:`Emulator.inject_fault`."""

    path: str
    status: int | None
    body: Any
    headers: dict[str, str]
    delay: float
    count: int
    method: str | None
    drop_connection: bool
    raw_body: bytes | None

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to ``method path``."""
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path


class _FaultLog(_State):
    """Injected faults (taken in the order injected) and the request log."""

    def inject_fault(
        self,
        path: str,
        *,
        status: int | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        count: int = 1,
        method: str | None = None,
        drop_connection: bool = False,
        raw_body: bytes | str | None = None,
    ) -> Fault:
        """Make the next ``count`` requests to ``path`` (a prefix when it ends with ``*``) misbehave.

        They answer ``status`` (500 when not given) with ``body`` (JSON; a default error body when ``None``) or
        ``raw_body`` sent verbatim, plus ``headers`` (a 429 gets ``Retry-After: 1`` unless ``headers`` set one),
        after ``delay`` seconds. ``drop_connection`` closes the
        connection without answering. ``delay`` alone (no status, body or raw body) delays the real answer.
        ``method`` restricts the fault to one HTTP method. Faults are used in the order injected.
        """
        passthrough = status is None and body is None and raw_body is None and not drop_connection and delay > 0
        fault = Fault(
            path=path,
            status=None if passthrough else (500 if status is None else status),
            body=body,
            headers=dict(headers or {}),
            delay=delay,
            count=count,
            method=method.upper() if method else None,
            drop_connection=drop_connection,
            raw_body=raw_body.encode() if isinstance(raw_body, str) else raw_body,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """The logged requests whose path equals ``path`` (or starts with it when it ends with ``*``)."""
        probe = Fault(path, None, None, {}, 0.0, 0, method.upper() if method else None, False, None)
        return [r for r in self.requests if probe.matches(r.method, r.path)]

    def grant_count(self, grant_type: str | None = None) -> int:
        """How many POSTs to ``/user_management/authenticate`` (with that ``grant_type``, or any) arrived,
        faulted and replayed ones included."""
        return sum(
            1
            for r in self.requests
            if r.method == "POST" and r.path == _AUTHENTICATE and (grant_type is None or r.grant_type == grant_type)
        )

    def reset_log(self) -> None:
        """Empty the request log."""
        with self._lock:
            self._requests.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.count > 0 and fault.matches(method, path):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _fault_response(fault: Fault) -> _Response:
        status = fault.status if fault.status is not None else 500
        headers = list(fault.headers.items())
        if status == 429 and not any(k.lower() == "retry-after" for k, _ in headers):
            headers.append(("retry-after", "1"))
        if fault.raw_body is not None:
            if not any(k.lower() == "content-type" for k, _ in headers):
                headers.append(("content-type", "text/html; charset=utf-8"))
            return _Response(status, fault.raw_body, headers)
        body = fault.body
        if body is None:
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = "Error"
            body = {"message": phrase, "code": phrase.lower().replace(" ", "_").replace("-", "_")}
        return _Response.json(status, body, headers)
