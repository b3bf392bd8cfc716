"""Reading the ``Cookie`` header and writing ``Set-Cookie`` headers, with the attributes authkit-nextjs uses.

Parsing follows what browsers send and what Starlette and Django accept (split on ``;``, first ``=`` separates
name and value, no quoting rules enforced), so one malformed cookie from another app never hides ours. When a
name appears twice, the first one wins, as in browsers' most-specific-path-first order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.cookies import Morsel
from types import MappingProxyType
from typing import Literal

from .config import AuthKitConfig

__all__ = ["SetCookie", "apply_set_cookies", "expired_cookie", "parse_cookie_header", "session_cookie"]


def parse_cookie_header(header: str | bytes | Iterable[str] | None) -> Mapping[str, str]:
    """Parse one ``Cookie`` header value (``str``, or ``bytes`` as an ASGI server hands it over, read as latin-1)
    or several into ``{name: value}``; the first of a repeated name wins.

    The result is read-only: the parse of a single header value is remembered (bounded, see :class:`_ParseMemo`),
    since a browser sends the same header on every request."""
    if header is None:
        return _EMPTY
    if isinstance(header, str | bytes):
        return _memo.parse(header)
    return MappingProxyType(_parse(list(header)))


_EMPTY: Mapping[str, str] = MappingProxyType({})


class _ParseMemo:
    """The parses of recent single header values, bounded (oldest dropped first).

    A ``Cookie`` header carrying a session is 2 KB or more, and a server hands over a new object per request, so
    hashing the whole value would cost more than the lookup saves. The memo is keyed on a sample (every 16th
    character) and a hit is confirmed by comparing the whole value (a ``memcmp``): two values with the same sample
    only cost a parse. A sealed session is random throughout, so different sessions differ in their samples.
    """

    _STEP = 16
    _SIZE = 1024

    def __init__(self) -> None:
        self._entries: dict[str | bytes, tuple[str | bytes, Mapping[str, str]]] = {}
        self._lock = threading.Lock()

    def parse(self, header: str | bytes) -> Mapping[str, str]:
        key = header[:: self._STEP]
        hit = self._entries.get(key)
        if hit is not None and hit[0] == header:
            return hit[1]
        text = header.decode("latin-1") if isinstance(header, bytes) else header
        parsed: Mapping[str, str] = MappingProxyType(_parse([text]))
        with self._lock:
            self._entries[key] = (header, parsed)
            while len(self._entries) > self._SIZE:
                del self._entries[next(iter(self._entries))]
        return parsed


_memo = _ParseMemo()


def _parse(headers: list[str]) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for value in headers:
        for chunk in value.split(";"):
            name, sep, val = chunk.partition("=")
            name = name.strip()
            if not sep or not name:
                continue
            val = val.strip()
            if len(val) >= 2 and val[0] == val[-1] == '"':
                val = val[1:-1]
            cookies.setdefault(name, val)
    return cookies


@dataclass(frozen=True, slots=True)
class SetCookie:
    """One cookie to set or expire on the response."""

    name: str
    value: str
    max_age: int | None
    path: str = "/"
    domain: str | None = None
    secure: bool = False
    http_only: bool = True
    same_site: Literal["lax", "strict", "none"] = "lax"

    @property
    def is_deletion(self) -> bool:
        """Whether this expires the cookie."""
        return self.max_age == 0

    def header_value(self) -> str:
        """The ``Set-Cookie`` header value."""
        morsel: Morsel[str] = Morsel()
        morsel.set(self.name, self.value, self.value)
        morsel["path"] = self.path
        if self.max_age is not None:
            morsel["max-age"] = str(self.max_age)
        if self.domain:
            morsel["domain"] = self.domain
        if self.secure:
            morsel["secure"] = True
        if self.http_only:
            morsel["httponly"] = True
        morsel["samesite"] = self.same_site.capitalize()
        return morsel.OutputString()


def session_cookie(config: AuthKitConfig, name: str, value: str, *, max_age: int | None = None) -> SetCookie:
    """A cookie with the session cookie's attributes (``HttpOnly``, SameSite and Secure as configured)."""
    return SetCookie(
        name=name,
        value=value,
        max_age=config.cookie_max_age if max_age is None else max_age,
        domain=config.cookie_domain,
        secure=config.cookie_secure,
        same_site=config.cookie_samesite,
    )


def expired_cookie(config: AuthKitConfig, name: str) -> SetCookie:
    """Expire cookie ``name`` (empty value, ``Max-Age=0``, the same attributes it was set with)."""
    return session_cookie(config, name, "", max_age=0)


def apply_set_cookies(jar: Mapping[str, str], cookies: Iterable[SetCookie]) -> dict[str, str]:
    """A browser's cookie jar (``{name: value}``) after a response that set ``cookies``: set ones replace, expired
    ones are removed. For tests and scripts that play the browser."""
    out = dict(jar)
    for cookie in cookies:
        if cookie.is_deletion:
            out.pop(cookie.name, None)
        else:
            out[cookie.name] = cookie.value
    return out
