"""Redirect targets: the one checked path every value that can reach a ``Location`` header goes through.

Two kinds of value end up in a ``Location`` header:

* **app targets**, which an app, a browser or a hook chose: the sign-in return path, ``sign_out(return_to=...)``,
  ``switch_to_organization(return_to=...)``, what an ``on_error``/``on_success`` hook returns, the framework
  helpers' redirects, and the ``return_to`` handed to WorkOS's logout URL. :func:`safe_redirect_target` accepts a
  same-origin path, or an absolute URL whose origin is the redirect URI's or is listed in
  :attr:`~authkit_core.config.AuthKitConfig.allowed_redirect_origins`; anything else becomes the default (``/``).
* **provider URLs**, which this library built itself (the sign-in URL, WorkOS's logout URL) or WorkOS sent
  (``authkit_redirect_url``).

Both kinds leave through :func:`location_header`, which makes any text safe to send as a header value: no control
character survives (so no header can be injected), non-ASCII is percent-encoded as UTF-8, and it never raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:
    from .config import AuthKitConfig

__all__ = [
    "absolute_return_url",
    "check_origins",
    "location_header",
    "normalize_origin",
    "request_origin",
    "safe_redirect_target",
    "safe_return_path",
]

# C0 controls, DEL and C1 controls: browsers strip some of them (tab, newline) before parsing a URL, and CR/LF in a
# header value would start a new header.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# What cannot go into a Location header as it is (HTTP headers are Latin-1 at best): spaces, controls, non-ASCII.
_NOT_HEADER_SAFE = re.compile(r"[^\x21-\x7e]+")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# How many rounds of percent-decoding a value is checked through (double encoding and more).
_DECODE_ROUNDS = 3


def _encode(match: re.Match[str]) -> str:
    return quote(match.group(0), safe="", errors="strict")


def location_header(value: str, default: str = "/") -> str:
    """``value`` made safe to send as a ``Location`` header: every character outside printable ASCII (spaces,
    control characters such as CR and LF, non-ASCII) is percent-encoded (UTF-8). A value that cannot be encoded
    (a lone surrogate) becomes ``default``. Never raises."""
    if not isinstance(value, str) or not value:
        return default
    if not _NOT_HEADER_SAFE.search(value):
        return value
    try:
        return _NOT_HEADER_SAFE.sub(_encode, value)
    except UnicodeEncodeError:
        return default


def _decodings(value: str) -> list[str]:
    out = [value]
    decoded = value
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(decoded)
        out.append(decoded)
    return out


def safe_return_path(value: str | None, default: str = "/") -> str:
    """``value`` when it is a path on this site, else ``default``.

    Refused: anything not starting with a single ``/`` (``//evil.example``, ``https:evil``, ``evil``), backslashes
    (``/\\evil``, which browsers read as ``//evil``), control characters, and values that only look safe before
    percent-decoding (``/%2F%2Fevil``, ``%2F%2Fevil``, ``/%5Cevil``, ``/x%0d%0aSet-Cookie:``). Spaces and non-ASCII
    characters of an accepted path are percent-encoded (UTF-8), so it can always be sent as a ``Location`` header.
    """
    if not isinstance(value, str) or not value:
        return default
    for text in _decodings(value):
        if not text.startswith("/") or text.startswith("//") or "\\" in text or _CONTROL.search(text):
            return default
        parts = urlsplit(text)
        if parts.scheme or parts.netloc:
            return default
    return location_header(value, default)


def normalize_origin(url: str) -> str | None:
    """The origin ``scheme://host[:port]`` of an absolute http(s) URL (lower-case, default port left out), or
    ``None`` when ``url`` is not one (no host, user info, a non-ASCII host, a bad port ...)."""
    if not isinstance(url, str) or _CONTROL.search(url) or "\\" in url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or not host.isascii() or "@" in parts.netloc:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def _app_origins(config: AuthKitConfig) -> frozenset[str]:
    own = normalize_origin(config.redirect_uri)
    return frozenset(config.allowed_redirect_origins) | ({own} if own else set())


def safe_redirect_target(config: AuthKitConfig, value: str | None, default: str = "/") -> str:
    """An app target as it may be sent in a ``Location`` header: a same-origin path (see :func:`safe_return_path`),
    or an absolute http(s) URL on the redirect URI's origin or on one of ``config.allowed_redirect_origins``;
    anything else (another site, a scheme such as ``javascript:``, control characters, even percent-encoded,
    user info) is ``default``."""
    if not isinstance(value, str) or not value:
        return default
    if value.startswith("/") and not value.startswith("//"):
        return safe_return_path(value, default)
    if any(_CONTROL.search(text) or "\\" in text for text in _decodings(value)):
        return default
    origin = normalize_origin(value)
    if origin is None or origin not in _app_origins(config):
        return default
    return location_header(value, default)


def absolute_return_url(config: AuthKitConfig, value: str | None) -> str | None:
    """``return_to`` as the absolute URL WorkOS's logout endpoint expects, checked like every app target: a path
    is placed on the redirect URI's origin; an absolute URL must be on an allowed origin. ``None`` when ``value``
    is empty or refused (WorkOS then uses the logout redirect of the dashboard)."""
    target = safe_redirect_target(config, value, default="")
    if not target:
        return None
    if target.startswith("/"):
        own = normalize_origin(config.redirect_uri)
        return None if own is None else own + target
    return target


def request_origin(scheme: str, host: str | None) -> str | None:
    """The origin a request was made to, from its scheme and ``Host`` header (``None`` without a usable host)."""
    if not host:
        return None
    return normalize_origin(f"{scheme or 'http'}://{host.strip()}")


def check_origins(origins: Iterable[str]) -> tuple[str, ...]:
    """``origins`` normalised (see :func:`normalize_origin`); raises :class:`ValueError` naming one that is not an
    http(s) origin (a path, a query or user info is a mistake, not an origin)."""
    out: list[str] = []
    for origin in origins:
        normal = normalize_origin(origin)
        parts = urlsplit(origin) if normal else None
        if normal is None or parts is None or parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"{origin!r} is not an origin such as https://app.example.com")
        out.append(normal)
    return tuple(out)
