"""Reading the ``Cookie`` header and writing ``Set-Cookie`` headers, with the attributes authkit-nextjs uses.

Parsing follows what browsers send and what Starlette and Django accept (split on ``;``, first ``=`` separates
name and value, no quoting rules enforced), so one malformed cookie from another app never hides ours. When a
name appears twice, the first one wins, as in browsers' most-specific-path-first order, and the parse records the
name in :attr:`CookieJar.duplicates` when the values differ: a session cookie that comes twice with two values is
ambiguous (a cookie planted by a sibling subdomain, or a stale one from an older ``Domain``/``Path``), and the
engine refuses to pick one (see ``docs/security.md``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from .cache import BoundedCache, shared_capacity
from .config import AuthKitConfig

__all__ = [
    "CookieJar",
    "SetCookie",
    "apply_set_cookies",
    "expired_cookie",
    "expiries_for_every_scope",
    "header_key",
    "parse_cookie_header",
    "session_cookie",
]


def parse_cookie_header(header: str | bytes | Iterable[str] | None) -> Mapping[str, str]:
    """Parse one ``Cookie`` header value (``str``, or ``bytes`` as an ASGI server hands it over, read as latin-1)
    or several into ``{name: value}``; the first of a repeated name wins.

    The result is read-only: the parse of a single header value is remembered (bounded, see :class:`_ParseMemo`),
    since a browser sends the same header on every request."""
    if header is None:
        return _EMPTY
    if isinstance(header, str | bytes):
        return _memo.parse(header)
    return _parse(list(header))


def header_key(header: str | bytes) -> str | bytes:
    """A short key for a long header value: about 32 of its characters, evenly spaced (all of a short one).

    A ``Cookie`` header carrying a session is 2 KB or more and a server hands over a new object per request, so
    hashing the whole value would cost more than a lookup saves. A sealed session is random throughout, so two
    sessions' headers differ in their keys; a cache keyed on this confirms a hit by comparing the whole value (a
    ``memcmp``), so two values with the same key only cost a miss."""
    return header[:: (len(header) >> 5) or 1]


class CookieJar(dict[str, str]):
    """The cookies of a request, read-only: ``{name: first value}``, and :attr:`duplicates`, the names sent more
    than once with different values. (A ``dict`` underneath, so a lookup costs what a dictionary's does.)"""

    __slots__ = ("duplicates", "header")

    def __init__(self, cookies: Mapping[str, str] | None = None, duplicates: frozenset[str] = frozenset()) -> None:
        super().__init__(cookies or {})
        #: Names that came more than once with different values (the first value is the one kept).
        self.duplicates = duplicates
        #: The one header value this was parsed from, as it came (``None``: several, or built otherwise).
        self.header: str | bytes | None = None

    def _read_only(self, *args: object, **kwargs: object) -> None:
        raise TypeError("a request's cookies are read-only")

    __setitem__ = __delitem__ = _read_only
    clear = pop = popitem = setdefault = update = __ior__ = _read_only  # type: ignore[assignment]


_EMPTY: Mapping[str, str] = CookieJar()


class _ParseMemo:
    """The parses of recent single header values, bounded (least recently used dropped first), keyed on
    :func:`header_key` and confirmed by comparing the whole value: two values with the same key only cost a parse.
    """

    def __init__(self) -> None:
        # header_key -> the parse (holding its header); sized by the engines' budgets (see ``cache.py``)
        self._entries: BoundedCache[str | bytes, CookieJar] = shared_capacity(
            BoundedCache("cookie_header_parses", 1024)
        )

    def parse(self, header: str | bytes) -> Mapping[str, str]:
        key = header_key(header)
        hit = self._entries.get(key)
        if hit is not None and hit.header == header:
            return hit
        text = header.decode("latin-1") if isinstance(header, bytes) else header
        parsed = _parse([text])
        parsed.header = header  # kept to confirm a hit (and for the engine's warm path, see AuthKit.peek_header)
        self._entries.put(key, parsed)
        return parsed


_memo = _ParseMemo()


def _parse(headers: list[str]) -> CookieJar:
    cookies: dict[str, str] = {}
    duplicates: set[str] | None = None
    for value in headers:
        for chunk in value.split(";"):
            name, sep, val = chunk.partition("=")
            name = name.strip()
            if not sep or not name:
                continue
            val = val.strip()
            if len(val) >= 2 and val[0] == val[-1] == '"':
                val = val[1:-1]
            first = cookies.setdefault(name, val)
            if first != val:
                if duplicates is None:
                    duplicates = set()
                duplicates.add(name)
    return CookieJar(cookies, frozenset(duplicates) if duplicates else frozenset())


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
    def scope(self) -> tuple[str, str | None, str]:
        """``(name, domain, path)``: what a browser keys its cookies on (a later write of a scope replaces it)."""
        return (self.name, self.domain, self.path)

    @property
    def is_deletion(self) -> bool:
        """Whether this expires the cookie."""
        return self.max_age == 0

    def header_value(self) -> str:
        """The ``Set-Cookie`` header value.

        Raises :class:`ValueError` when the name, value, path or domain holds what a header cannot carry (a control
        character, ``;``, a space, non-ASCII): such a cookie is a bug, never sent half-written."""
        for part in (self.name, self.value, self.path, self.domain or ""):
            if not _HEADER_SAFE_PART.fullmatch(part):
                raise ValueError(f"cookie {self.name!r}: a name, value or attribute holds a character a header cannot")
        # the attributes in the order http.cookies.Morsel writes them (alphabetical), without its quoting rules
        out = [f"{self.name}={self.value}"]
        if self.domain:
            out.append(f"Domain={self.domain}")
        if self.http_only:
            out.append("HttpOnly")
        if self.max_age is not None:
            out.append(f"Max-Age={int(self.max_age)}")
        out.append(f"Path={self.path}")
        out.append("SameSite=" + self.same_site.capitalize())
        if self.secure:
            out.append("Secure")
        return "; ".join(out)


# RFC 6265's cookie-octets (plus the name's token characters): no control, space, DQUOTE, comma, semicolon,
# backslash or non-ASCII.
_HEADER_SAFE_PART = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")


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


# A DNS name as a Host header carries it (a port is cut off first); IP literals only get host-only cookies.
_HOST_NAME = re.compile(r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")
_IPV4 = re.compile(r"[0-9.]+")
#: How many domains and paths :func:`expiries_for_every_scope` covers (at most their product in headers).
MAX_SCOPE_DOMAINS = 4
MAX_SCOPE_PATHS = 4


def expiries_for_every_scope(
    config: AuthKitConfig, names: Iterable[str], host: str | None, path: str
) -> list[SetCookie]:
    """Expire cookies ``names`` in every scope a browser could have sent them from to this request: host-only and
    ``Domain=`` this host or a parent of it (a sibling subdomain plants cookies on the parent), on ``Path=/`` and
    on the leading segments of the request's ``path``. For an ambiguous session cookie: whichever of the copies
    is stale or planted, none survives (bounded: at most :data:`MAX_SCOPE_DOMAINS` x :data:`MAX_SCOPE_PATHS`
    headers per name). A browser ignores the expiries for scopes it has no cookie in (and a ``Domain`` that is a
    public suffix)."""
    domains: list[str | None] = [None]
    hostname = (host or "").strip().lower().rsplit(":", 1)[0] if host and not host.strip().startswith("[") else ""
    if hostname and _HOST_NAME.fullmatch(hostname) and not _IPV4.fullmatch(hostname):
        labels = hostname.split(".")
        parents = [".".join(labels[i:]) for i in range(len(labels) - 1)]  # never a bare top-level label
        domains += parents[: MAX_SCOPE_DOMAINS - 1]
    if config.cookie_domain and config.cookie_domain not in domains:
        domains.append(config.cookie_domain)
    paths = ["/"]
    segments = [s for s in path.split("/") if s][: MAX_SCOPE_PATHS - 1]
    for i in range(len(segments)):
        candidate = "/" + "/".join(segments[: i + 1])
        if _HEADER_SAFE_PART.fullmatch(candidate):
            paths.append(candidate)
    out: list[SetCookie] = []
    for name in names:
        prefix_host = name.startswith("__Host-")
        for domain in domains:
            for cookie_path in paths:
                if prefix_host and (domain is not None or cookie_path != "/"):
                    continue  # a __Host- cookie only ever exists host-only on Path=/
                out.append(
                    SetCookie(
                        name=name,
                        value="",
                        max_age=0,
                        path=cookie_path,
                        domain=domain,
                        secure=config.cookie_secure,
                        same_site=config.cookie_samesite,
                    )
                )
    return out
