"""Opaque session handles for server-side stores (SQL, memory): the cookie holds a sealed random handle, the store
keys its record by a hash of that handle, so neither a leaked cookie jar nor a leaked table reveals the other."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Mapping

from ..errors import SealError
from ..iron import seal, unseal

__all__ = ["handle_id", "new_handle", "open_handle", "seal_handle"]


def new_handle() -> str:
    """A fresh 256-bit random handle (a new one on every sign-in: no session fixation)."""
    return secrets.token_urlsafe(32)


def handle_id(handle: str) -> str:
    """The record key stored for ``handle``: its SHA-256, hex."""
    return hashlib.sha256(handle.encode()).hexdigest()


def seal_handle(handle: str, passwords: Mapping[str, str]) -> str:
    """The cookie value that carries ``handle``."""
    return seal({"h": handle}, passwords)


def open_handle(value: str, passwords: Mapping[str, str]) -> str:
    """The handle inside a cookie value; :class:`SealError` when the value is not one of ours.

    A browser sends the same cookie on every request, so opened values are remembered (bounded LRU; failures are
    never remembered, and handle seals carry no expiry)."""
    return _open_cached(value, tuple(sorted(passwords.items())))


@functools.lru_cache(maxsize=4096)
def _open_cached(value: str, passwords: tuple[tuple[str, str], ...]) -> str:
    data = unseal(value, dict(passwords))
    handle = data.get("h") if isinstance(data, dict) else None
    if not isinstance(handle, str) or not handle:
        raise SealError("sealed value is not a session handle", code="invalid_seal")
    return handle
