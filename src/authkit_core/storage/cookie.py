"""``CookieSessionStore``, the default: the whole sealed session lives in the ``wos-session`` cookie.

The value is exactly what authkit-nextjs writes (iron ``Fe26.2`` over the camelCase session), so a Next.js app and
a Python app can share it. A session too large for one browser cookie (4096 bytes) is split into numbered chunks
``wos-session.0``, ``wos-session.1`` ... (authkit-nextjs cannot read those), or refused with
``SessionError(code="cookie_too_large")`` when ``chunking=False``. Chunks a smaller session no longer needs are
always expired. A chunk name is exactly ``wos-session.<index>`` with ``index`` written in ASCII digits without a
leading zero and below ``MAX_CHUNKS`` (:func:`chunk_names`); any other name that merely starts with the cookie
name (``wos-session.¹``, ``wos-session.01``, 500 ``wos-session.N`` junk cookies) is not ours: never read, never
expired. Nothing is stored server-side, so sign-out cannot revoke a copied cookie: use a SQL or memory
store when that matters.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping

from ..cache import BoundedCache
from ..config import AuthKitConfig
from ..cookies import SetCookie, expired_cookie, session_cookie
from ..errors import ConfigurationError, SealError, SessionError
from ..iron import seal_session, unseal_session
from ..models import Session
from .base import LoadedSession, LoadResult, SyncStoreMixin

__all__ = ["BROWSER_COOKIE_LIMIT", "MAX_CHUNKS", "CookieSessionStore", "chunk_names"]

#: The size every browser accepts for one cookie (RFC 6265 section 6.1), name and attributes included.
BROWSER_COOKIE_LIMIT = 4096
#: No more chunks than this are read, so a request cannot make us join unbounded input.
MAX_CHUNKS = 10


class CookieSessionStore(SyncStoreMixin):
    """Sessions sealed into the browser's cookie (see the module documentation)."""

    shared = False
    #: The ``authkit.store`` attribute of its metrics (see ``observe.py``).
    kind = "cookie"

    def __init__(
        self,
        *,
        chunking: bool = True,
        max_cookie_size: int = BROWSER_COOKIE_LIMIT,
        cache_size: int | None = None,
    ) -> None:
        self.chunking = chunking
        self.max_cookie_size = max_cookie_size
        #: How many opened cookies are remembered: ``None`` (the default) lets the engine size it from its memory
        #: budget (``AuthKit(cache_memory_mb=...)``); 0 remembers none.
        self.cache_size = cache_size
        self._config: AuthKitConfig | None = None
        # Cookie values opened (or written) recently: a browser sends the same cookie on every request, so a
        # repeated request skips the unseal. Keyed on the exact value; dropped on sign-out and on a new password set.
        self._opened: BoundedCache[str, tuple[Session, str]] = BoundedCache(
            "opened_cookies", 1024 if cache_size is None else cache_size
        )

    def size_caches(self, sessions: int) -> None:
        """Size the opened-cookie cache for ``sessions`` sessions (the engine's budget), unless ``cache_size`` was
        given."""
        if self.cache_size is None:
            self._opened.resize(sessions)

    def _recall(self, value: str) -> tuple[Session, str] | None:
        return self._opened.get(value)

    def _remember(self, value: str, session: Session) -> tuple[Session, str]:
        entry = (session, _session_key(session))
        self._opened.put(value, entry)
        return entry

    def bind(self, config: AuthKitConfig) -> None:
        """Receive the configuration. A different password set forgets every opened cookie (one sealed with a
        password no longer configured must be refused, not recalled)."""
        if self._config is not None and self._config.cookie_passwords != config.cookie_passwords:
            self._opened.clear()
        self._config = config

    @property
    def config(self) -> AuthKitConfig:
        """The bound configuration."""
        if self._config is None:
            raise ConfigurationError("CookieSessionStore is not bound: pass it to AuthKit(store=...)")
        return self._config

    def _present(self, cookies: Mapping[str, str]) -> tuple[str, ...]:
        """Our cookie names in the request: the plain one and any chunks (see :func:`chunk_names`).

        Only names this store could have written count, so what a request makes us expire is bounded (at most
        ``MAX_CHUNKS + 1`` names) and always a legal cookie name: ``wos-session.¹``, ``wos-session.01`` or
        ``wos-session.10`` are someone else's cookies, left alone."""
        name = self.config.cookie_name
        ours = [n for n in cookies if n.startswith(name)]
        if len(ours) == 1 and ours[0] == name:  # the common case: one unchunked cookie
            return (name,)
        return tuple(n for n in chunk_names(name) if n in cookies)

    def _read(self, cookies: Mapping[str, str]) -> str | None:
        name = self.config.cookie_name
        whole = cookies.get(name)
        if whole:
            return whole
        parts: list[str] = []
        for index in range(MAX_CHUNKS):
            part = cookies.get(f"{name}.{index}")
            if not part:
                break
            parts.append(part)
        return "".join(parts) or None

    def cache_key(self, cookies: Mapping[str, str]) -> str | None:
        """The sealed session the request carries (joined chunks included): the session is a pure function of
        it, so the engine may remember what it authenticated for this exact value (see ``AuthKit.peek``)."""
        return self._read(cookies)

    def load(self, cookies: Mapping[str, str]) -> LoadResult:
        """Unseal the session from the cookie (or its chunks)."""
        value = self._read(cookies)
        if value is None:
            return LoadResult(None)
        hit = self._recall(value)
        if hit is None:
            try:
                opened = unseal_session(value, self.config.cookie_passwords)
            except SealError as exc:
                clear = tuple(expired_cookie(self.config, n) for n in self._present(cookies))
                return LoadResult(None, clear, reason=exc.code)
            hit = self._remember(value, opened)
        return LoadResult(LoadedSession(hit[0], hit[1], self._present(cookies)))

    def cookies_for(self, session: Session, present: tuple[str, ...] = ()) -> list[SetCookie]:
        """The cookies that carry ``session``, plus expiries for the ``present`` names no longer used."""
        config, name = self.config, self.config.cookie_name
        sealed = seal_session(session, config.cookie_passwords)
        self._remember(sealed, session)
        whole = session_cookie(config, name, sealed)
        size = len(whole.header_value().encode())
        if size <= self.max_cookie_size:
            out = [whole]
        elif not self.chunking:
            raise SessionError(
                f"the sealed session is {size} bytes, over the {self.max_cookie_size}-byte cookie limit; enable "
                "chunking, or use a server-side store (SQLSessionStore, MemorySessionStore)",
                code="cookie_too_large",
            )
        else:
            out = self._chunks(sealed)
        written = {c.name for c in out}
        out.extend(expired_cookie(config, n) for n in present if n not in written)
        return out

    def _chunks(self, sealed: str) -> list[SetCookie]:
        config, name = self.config, self.config.cookie_name
        overhead = len(session_cookie(config, f"{name}.{MAX_CHUNKS}", "").header_value().encode())
        room = self.max_cookie_size - overhead
        pieces = [sealed[i : i + room] for i in range(0, len(sealed), room)]
        if room <= 0 or len(pieces) > MAX_CHUNKS:
            raise SessionError(
                f"the sealed session needs more than {MAX_CHUNKS} cookies; use a server-side store",
                code="cookie_too_large",
            )
        return [session_cookie(config, f"{name}.{i}", piece) for i, piece in enumerate(pieces)]

    def create(self, session: Session) -> tuple[LoadedSession, list[SetCookie]]:
        """Seal a new session into cookies."""
        cookies = self.cookies_for(session)
        return LoadedSession(session, _session_key(session), tuple(c.name for c in cookies)), cookies

    def update(
        self, loaded: LoadedSession, session: Session, owner: str | None = None
    ) -> tuple[LoadedSession, list[SetCookie]]:
        """Seal the refreshed session, expiring chunks it no longer needs."""
        present = loaded.ref if isinstance(loaded.ref, tuple) else ()
        cookies = self.cookies_for(session, present)
        names = tuple(c.name for c in cookies if not c.is_deletion)
        return LoadedSession(session, _session_key(session), names), cookies

    def delete(self, loaded: LoadedSession | None, cookies: Mapping[str, str]) -> list[SetCookie]:
        """Expire every cookie of ours the request carried (the plain cookie at least)."""
        names = set(self._present(cookies)) | {self.config.cookie_name}
        value = self._read(cookies)
        if value is not None:  # a signed-out cookie is not recalled again
            self._opened.discard(value)
        if loaded is not None and isinstance(loaded.ref, tuple):
            names.update(loaded.ref)
        return [expired_cookie(self.config, n) for n in sorted(names)]

    def reload(self, loaded: LoadedSession) -> LoadedSession | None:
        """Cookies are not shared: the session is what the request carried."""
        return loaded


@functools.lru_cache(maxsize=8)
def chunk_names(name: str) -> tuple[str, ...]:
    """Every cookie name of ours for the session cookie ``name``: ``name`` itself, then its chunks ``name.0`` to
    ``name.<MAX_CHUNKS - 1>``.

    A chunk index is written the way this store writes it: ASCII digits, no sign, no leading zero (``.0`` is
    chunk 0; ``.00``, ``.01``, ``.+1``, ``.¹`` or ``.٣`` are not ours), below :data:`MAX_CHUNKS`. Only these
    names are read, and only these are ever expired."""
    return (name, *(f"{name}.{index}" for index in range(MAX_CHUNKS)))


def _session_key(session: Session) -> str:
    """The coordination key of a cookie session: a hash of its refresh token (it changes with every refresh)."""
    return hashlib.sha256(session.refresh_token.encode()).hexdigest()
