"""Opaque session handles for server-side stores (SQL, memory): the cookie holds a sealed random handle, the store
keys its record by a hash of that handle, so neither a leaked cookie jar nor a leaked table reveals the other."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Mapping

from ..cache import BoundedCache, shared_capacity
from ..errors import SealError
from ..iron import seal, unseal
from .sealed_payload import forget_cipher

__all__ = ["forget_handle", "handle_id", "new_handle", "open_handle", "seal_handle"]

# handle -> (passwords, cookie value): a value sealed with the current sealing password, to send again
_sealed: BoundedCache[str, tuple[tuple[tuple[str, str], ...], str]] = shared_capacity(
    BoundedCache("sealed_handles", 4096)
)
# cookie value -> (passwords, the handle it carries); failures are never remembered
_opened: BoundedCache[str, tuple[tuple[tuple[str, str], ...], str]] = shared_capacity(
    BoundedCache("opened_handles", 4096)
)


def new_handle() -> str:
    """A fresh 256-bit random handle (a new one on every sign-in: no session fixation)."""
    return secrets.token_urlsafe(32)


def handle_id(handle: str) -> str:
    """The record key stored for ``handle``: its SHA-256, hex."""
    return hashlib.sha256(handle.encode()).hexdigest()


def seal_handle(handle: str, passwords: Mapping[str, str]) -> str:
    """The cookie value that carries ``handle``.

    A handle's seal never expires and carries nothing but the handle, so a value already sealed for it with the
    current sealing password is sent again rather than sealed anew: a refresh (which keeps the handle and only
    renews the cookie's ``Max-Age``) then costs no seal, and the browser's next request brings back a value
    :func:`open_handle` remembers instead of one it must unseal. A value sealed with an older password of a
    rotation is never reused: the cookie moves to the current password."""
    key = _passwords_key(passwords)
    hit = _sealed.get(handle)
    if hit is not None and hit[0] == key:
        return hit[1]
    value = seal({"h": handle}, passwords)
    _remember_sealed(handle, key, value)
    return value


def open_handle(value: str, passwords: Mapping[str, str]) -> str:
    """The handle inside a cookie value; :class:`SealError` when the value is not one of ours.

    A browser sends the same cookie on every request, so opened values are remembered (bounded LRU; failures are
    never remembered, and handle seals carry no expiry)."""
    key = _passwords_key(passwords)
    hit = _opened.get(value)
    if hit is not None and hit[0] == key:
        return hit[1]
    handle = _open(value, key)
    _opened.put(value, (key, handle))
    return handle


def forget_handle(handle: object, value: str | None = None) -> None:
    """Forget what is remembered for a deleted session's ``handle`` (and the cookie ``value`` that carried it):
    its cookie values, and its record cipher (see ``sealed_payload.py``)."""
    if value is not None:
        _opened.discard(value)
    if not isinstance(handle, str):
        return
    forget_cipher(handle)
    hit = _sealed.get(handle)
    _sealed.discard(handle)
    if hit is not None:
        _opened.discard(hit[1])


def _passwords_key(passwords: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(passwords.items()))


def _remember_sealed(handle: str, key: tuple[tuple[str, str], ...], value: str) -> None:
    _sealed.put(handle, (key, value))


@functools.lru_cache(maxsize=64)
def _sealing_id(key: tuple[tuple[str, str], ...]) -> str:
    """The password id new seals get with these passwords (read off a seal, as iron chooses it)."""
    return seal(None, dict(key)).split("*", 2)[1]


def _open(value: str, passwords: tuple[tuple[str, str], ...]) -> str:
    data = unseal(value, dict(passwords))
    handle = data.get("h") if isinstance(data, dict) else None
    if not isinstance(handle, str) or not handle:
        raise SealError("sealed value is not a session handle", code="invalid_seal")
    if value.split("*", 2)[1] == _sealing_id(passwords):  # sealed with the current password: fit to send again
        _remember_sealed(handle, passwords, value)
    return handle
