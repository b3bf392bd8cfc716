"""The sign-in round trip, without I/O: the state cookie, the sign-in URL, callback validation and response rules.

A sign-in starts by sealing ``{nonce, codeVerifier, returnPathname?, customState?}`` (camelCase, as authkit-nextjs
does) with the cookie password. That sealed string is both the OAuth ``state`` sent to WorkOS and the value of the
cookie ``wos-auth-verifier-<fnv1a32 hex of the sealed state>`` (``Max-Age=600``, ``HttpOnly``, ``SameSite=Lax``,
``Path=/``, ``Secure`` as configured; after the session cookie's ``__Host-``/``__Secure-`` prefix when it has one).
On the callback the ``state`` in the query names the cookie to read, must equal its value (compared in constant
time) and must unseal; only then is the code worth exchanging. A browser holds at most :data:`MAX_STATE_COOKIES`
of them (:func:`state_cookies_to_expire`), each under 4096 bytes, and only page navigations start one
(:func:`is_navigation`).

Also here, because every adapter needs the same answers: :func:`redirect_status` (307 for GET/HEAD, 303 otherwise)
and the cache headers that responses carrying or depending on a session get (:func:`add_session_cache_headers`).
Redirect targets are checked in :mod:`authkit_core.redirects` (:func:`safe_return_path` is re-exported here).
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Unpack
from urllib.parse import urlsplit

from .config import AuthKitConfig
from .cookies import SetCookie
from .errors import AuthKitError, SealError
from .iron import seal, unseal
from .pkce import code_challenge, generate_code_verifier, generate_nonce
from .redirects import normalize_origin, safe_return_path
from .workos_api import AuthorizationOptions, authorization_url

__all__ = [
    "MAX_STATE_COOKIES",
    "MAX_STATE_COOKIE_BYTES",
    "NO_STORE_CACHE_CONTROL",
    "VERIFIER_COOKIE_MAX_AGE",
    "VERIFIER_COOKIE_PREFIX",
    "CallbackParams",
    "SignInCallbackError",
    "SignInRequest",
    "SignInState",
    "SignInStateTooLargeError",
    "add_session_cache_headers",
    "callback_cookies_to_expire",
    "fnv1a32",
    "is_navigation",
    "redirect_status",
    "safe_return_path",
    "start_sign_in",
    "state_cookies_to_expire",
    "validate_callback",
    "verifier_cookie_name",
]

#: The sign-in state cookie is ``wos-auth-verifier-`` followed by the FNV-1a hash of the sealed state.
VERIFIER_COOKIE_PREFIX = "wos-auth-verifier-"
#: How long a sign-in may take, in seconds (the cookie's ``Max-Age`` and the sealed state's lifetime).
VERIFIER_COOKIE_MAX_AGE = 600
#: At most this many sign-in state cookies per browser (authkit-nextjs 4.3 caps them at 5 too).
MAX_STATE_COOKIES = 5
#: A state cookie's ``Set-Cookie`` value never exceeds this (every browser keeps a cookie of 4096 bytes).
MAX_STATE_COOKIE_BYTES = 4096
#: ``Cache-Control`` of every response that carries or depends on a session (authkit-nextjs's value).
NO_STORE_CACHE_CONTROL = "private, no-cache, no-store, must-revalidate, max-age=0"

logger = logging.getLogger("authkit_session")

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv1a32(text: str) -> str:
    """The 32-bit FNV-1a hash of ``text`` (UTF-8) as 8 lower-case hex digits."""
    h = _FNV_OFFSET
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return f"{h:08x}"


def verifier_cookie_name(state: str, prefix: str = "") -> str:
    """The name of the cookie that holds the sealed sign-in ``state``: ``wos-auth-verifier-<hash>``, after the
    session cookie's ``__Host-``/``__Secure-`` ``prefix`` (:attr:`AuthKitConfig.cookie_name_prefix`), so that
    what protects the session cookie from being planted protects the sign-in state too."""
    return prefix + VERIFIER_COOKIE_PREFIX + fnv1a32(state)


def _state_cookie_prefix(config: AuthKitConfig) -> str:
    return config.cookie_name_prefix + VERIFIER_COOKIE_PREFIX


@dataclass(frozen=True, slots=True)
class SignInState:
    """What the sign-in state seals: a nonce, the PKCE verifier, and where to go afterwards."""

    code_verifier: str = field(repr=False)
    nonce: str = field(repr=False)
    return_pathname: str | None = None
    custom_state: str | None = None
    #: The origin the sign-in started on, kept only when it is not the redirect URI's: the state cookie is set
    #: there, and the callback (on the redirect URI's origin) will not receive it. Lets the callback say so.
    origin: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The camelCase payload authkit-nextjs seals (optional keys only when set; authkit-nextjs ignores
        ``origin``)."""
        out: dict[str, Any] = {"nonce": self.nonce, "codeVerifier": self.code_verifier}
        if self.return_pathname is not None:
            out["returnPathname"] = self.return_pathname
        if self.custom_state is not None:
            out["customState"] = self.custom_state
        if self.origin is not None:
            out["origin"] = self.origin
        return out

    @classmethod
    def from_json(cls, data: object) -> SignInState:
        """Read the sealed payload; raise :class:`SignInCallbackError` (``invalid_state``) when malformed."""
        if not isinstance(data, Mapping):
            raise SignInCallbackError("the sign-in state is not an object", code="invalid_state")
        nonce, verifier = data.get("nonce"), data.get("codeVerifier")
        if not isinstance(nonce, str) or not isinstance(verifier, str) or not nonce or not verifier:
            raise SignInCallbackError("the sign-in state has no nonce or code verifier", code="invalid_state")
        ret, custom, origin = data.get("returnPathname"), data.get("customState"), data.get("origin")
        return cls(
            code_verifier=verifier,
            nonce=nonce,
            return_pathname=ret if isinstance(ret, str) else None,
            custom_state=custom if isinstance(custom, str) else None,
            origin=origin if isinstance(origin, str) else None,
        )


@dataclass(frozen=True, slots=True)
class SignInRequest:
    """A started sign-in: send the browser to ``url`` with ``cookie`` set on the same response."""

    url: str
    #: The sealed state (also the cookie's value).
    state: str = field(repr=False)
    cookie: SetCookie = field(repr=False)


def start_sign_in(
    config: AuthKitConfig,
    *,
    return_pathname: str | None = None,
    custom_state: str | None = None,
    origin: str | None = None,
    **options: Unpack[AuthorizationOptions],
) -> SignInRequest:
    """Begin a sign-in: a fresh PKCE verifier and nonce sealed into the state, the AuthKit URL (``options`` as in
    :func:`~authkit_core.workos_api.authorization_url`) and the state cookie.

    ``return_pathname`` is passed through :func:`safe_return_path`, so a hostile value can never leave the site.
    ``origin`` is where the sign-in starts (the request's origin); it is sealed into the state only when it is
    not the redirect URI's, so that a callback that misses its cookie can explain why.

    The state cookie never exceeds :data:`MAX_STATE_COOKIE_BYTES`: a return path too long for it is cut to its
    path (query dropped), then to ``/``, with a warning; a ``custom_state`` too long even then raises
    :class:`SignInStateTooLargeError`.
    """
    verifier = generate_code_verifier()
    nonce = generate_nonce()
    redirect_origin = normalize_origin(options.get("redirect_uri") or config.redirect_uri)
    started_on = normalize_origin(origin) if origin else None
    ret = None if return_pathname is None else safe_return_path(return_pathname)
    tries = [ret] if ret is None else list(dict.fromkeys([ret, urlsplit(ret).path or "/", "/"]))
    prefix = config.cookie_name_prefix
    for attempt, candidate in enumerate(tries):
        payload = SignInState(
            code_verifier=verifier,
            nonce=nonce,
            return_pathname=candidate,
            custom_state=custom_state,
            origin=started_on if started_on != redirect_origin else None,
        )
        state = seal(payload.to_json(), config.cookie_passwords, ttl=VERIFIER_COOKIE_MAX_AGE)
        cookie = _state_cookie(config, verifier_cookie_name(state, prefix), state, VERIFIER_COOKIE_MAX_AGE)
        if len(cookie.header_value()) <= MAX_STATE_COOKIE_BYTES:
            if attempt:
                logger.warning(
                    "authkit: the sign-in return path was too long for the state cookie (%d bytes at most): cut to %s",
                    MAX_STATE_COOKIE_BYTES,
                    "its path" if candidate != "/" else "/",
                )
            url = authorization_url(config, state=state, code_challenge=code_challenge(verifier), **options)
            return SignInRequest(url=url, state=state, cookie=cookie)
    raise SignInStateTooLargeError(
        f"the sign-in state does not fit in a {MAX_STATE_COOKIE_BYTES}-byte cookie: the custom state is "
        f"{len(custom_state or '')} characters; keep it short (an id you look up on success)"
    )


class SignInStateTooLargeError(AuthKitError):
    """``get_sign_in_url(state=...)`` was given a custom state too large for the sign-in state cookie."""

    code = "sign_in_state_too_large"


def _seal_expiry(value: str) -> int:
    """The expiry (ms) an iron seal carries in the clear (its sixth field); 0 when it has none."""
    parts = value.split("*", 6)
    return int(parts[5]) if len(parts) > 6 and parts[5].isascii() and parts[5].isdigit() else 0


def state_cookies_to_expire(
    config: AuthKitConfig, request_cookies: Mapping[str, str], written: Sequence[SetCookie]
) -> list[SetCookie]:
    """The sign-in state cookies to expire so that, after a response writing ``written``, the browser holds at
    most :data:`MAX_STATE_COOKIES`: the request's oldest ones go first (by the expiry their seal carries), then,
    if one response started more sign-ins than that, its own first ones. Every sign-in started in another tab
    within the cap still completes; without a cap each signed-out page view would add ~530 bytes to every
    request's ``Cookie`` header for 10 minutes, until servers answer 431."""
    prefix = _state_cookie_prefix(config)
    new = [c.name for c in written if c.name.startswith(prefix) and not c.is_deletion]
    gone = {c.name for c in written if c.is_deletion} | set(new)
    held = sorted(
        ((name, value) for name, value in request_cookies.items() if name.startswith(prefix) and name not in gone),
        key=lambda item: _seal_expiry(item[1]),
    )
    excess = len(held) + len(new) - MAX_STATE_COOKIES
    if excess <= 0:
        return []
    names = [name for name, _ in held] + new
    return [_state_cookie(config, name, "", 0) for name in names[:excess]]


def _state_cookie(config: AuthKitConfig, name: str, value: str, max_age: int) -> SetCookie:
    # always SameSite=Lax: the callback is a top-level cross-site navigation from WorkOS, which Strict would block
    return SetCookie(
        name=name,
        value=value,
        max_age=max_age,
        path="/",
        domain=config.cookie_domain,
        secure=config.cookie_secure,
        http_only=True,
        same_site="lax",
    )


class SignInCallbackError(AuthKitError):
    """The sign-in callback cannot be completed. ``status`` is the HTTP status an error page should have.

    Codes: ``missing_code``, ``missing_state``, ``invalid_state`` (does not unseal or is malformed),
    ``missing_verifier_cookie``, ``state_mismatch`` (the cookie holds another state), ``authorization_failed``
    (WorkOS sent the browser back with an ``error``; ``provider_error`` is WorkOS's code).
    """

    code = "sign_in_callback_error"
    status = 400

    def __init__(self, message: str = "", *, code: str | None = None, provider_error: str | None = None) -> None:
        self.provider_error = provider_error
        super().__init__(message, code=code)


@dataclass(frozen=True, slots=True)
class CallbackParams:
    """A validated callback: the code to exchange with its verifier, and where to send the browser after."""

    code: str = field(repr=False)
    code_verifier: str = field(repr=False)
    return_pathname: str
    custom_state: str | None = None


def validate_callback(config: AuthKitConfig, query: Mapping[str, str], cookies: Mapping[str, str]) -> CallbackParams:
    """Check a callback's query (``code``, ``state``) against the request's cookies.

    Raises :class:`SignInCallbackError`. Whatever the outcome, the response should expire the state cookie: see
    :func:`callback_cookies_to_expire`.
    """
    error = query.get("error")
    if error:
        safe = error if re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", error) else "unknown"
        raise SignInCallbackError(f"WorkOS returned the error {safe}", code="authorization_failed", provider_error=safe)
    code, state = query.get("code"), query.get("state")
    if not state:
        raise SignInCallbackError("the callback has no state", code="missing_state")
    if not code:
        raise SignInCallbackError("the callback has no code", code="missing_code")
    stored = cookies.get(verifier_cookie_name(state, config.cookie_name_prefix))
    if not stored:
        started_on = _started_on(config, state)
        if started_on is not None:
            callback = normalize_origin(config.redirect_uri) or config.redirect_uri
            raise SignInCallbackError(
                f"the sign-in started on {started_on} but came back to {callback} (the redirect URI), so the "
                f"sign-in cookie set on {started_on} was not sent: browse the app at {callback}, or set "
                f"WORKOS_REDIRECT_URI to {started_on}{urlsplit(config.redirect_uri).path} (and register it with "
                "WorkOS)",
                code="redirect_uri_mismatch",
            )
        raise SignInCallbackError(
            "the sign-in cookie is missing (it expired, or the sign-in started in another browser)",
            code="missing_verifier_cookie",
        )
    if not hmac.compare_digest(stored.encode("utf-8"), state.encode("utf-8")):
        raise SignInCallbackError("the state does not match the sign-in cookie", code="state_mismatch")
    try:
        payload = SignInState.from_json(unseal(state, config.cookie_passwords))
    except SealError as exc:
        raise SignInCallbackError(f"the state does not open ({exc.code})", code="invalid_state") from None
    return CallbackParams(
        code=code,
        code_verifier=payload.code_verifier,
        return_pathname=safe_return_path(payload.return_pathname),
        custom_state=payload.custom_state,
    )


def _started_on(config: AuthKitConfig, state: str) -> str | None:
    """The origin sealed into ``state`` when the sign-in started somewhere else than the redirect URI's origin."""
    try:
        return SignInState.from_json(unseal(state, config.cookie_passwords)).origin
    except AuthKitError:
        return None


def callback_cookies_to_expire(config: AuthKitConfig, query: Mapping[str, str]) -> list[SetCookie]:
    """The state cookie a callback response must expire (on success and on failure alike)."""
    state = query.get("state")
    if not state:
        return []
    return [_state_cookie(config, verifier_cookie_name(state, config.cookie_name_prefix), "", 0)]


def is_navigation(headers: Mapping[str, str]) -> bool:
    """Whether a request (its lower-case ``headers``) is a browser loading a page, which a sign-in redirect (and
    its state cookie) suits; anything else (``fetch``, an image, a script, a prefetch, an API client) that needs a
    session gets 401 and no cookie.

    ``Sec-Fetch-Mode`` decides when present (``navigate``, unless ``Sec-Purpose``/``Purpose`` says prefetch);
    else ``Sec-Fetch-Dest`` (``document``, ``iframe``, ``frame``); else ``Accept`` naming ``text/html`` (or
    XHTML). A request with none of these headers (an old client, a script following redirects) counts as a
    navigation; one whose ``Accept`` names only other types (``*/*``, JSON, images ...) or that says
    ``X-Requested-With`` does not."""
    purpose = headers.get("sec-purpose") or headers.get("purpose") or ""
    if "prefetch" in purpose.lower():
        return False
    mode = headers.get("sec-fetch-mode")
    if mode:
        return mode.strip().lower() == "navigate"
    dest = headers.get("sec-fetch-dest")
    if dest:
        return dest.strip().lower() in ("document", "iframe", "frame")
    if headers.get("x-requested-with"):
        return False
    accept = headers.get("accept")
    if accept is None or not accept.strip():
        return True
    accept = accept.lower()
    return "text/html" in accept or "application/xhtml+xml" in accept


def redirect_status(method: str) -> int:
    """The status of a redirect answering ``method``: 307 keeps GET/HEAD as they are, 303 turns anything else
    (a POSTed form ...) into a GET."""
    return 307 if method.upper() in ("GET", "HEAD") else 303


def add_session_cache_headers(headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` with ``Vary: Cookie`` added (kept alongside any existing ``Vary``, not duplicated) and
    ``Cache-Control`` replaced by :data:`NO_STORE_CACHE_CONTROL`, so no shared cache stores a per-user response."""
    out: list[tuple[str, str]] = []
    varies: list[str] = []
    for name, value in headers:
        lower = name.lower()
        if lower == "cache-control":
            continue
        if lower == "vary":
            varies.extend(v.strip() for v in value.split(",") if v.strip())
            continue
        out.append((name, value))
    if not varies:  # the common case
        out += _SESSION_CACHE_TAIL
        return out
    if not any(v == "*" or v.lower() == "cookie" for v in varies):
        varies.append("Cookie")
    out.append(("Vary", ", ".join(varies)))
    out.append(("Cache-Control", NO_STORE_CACHE_CONTROL))
    return out


_SESSION_CACHE_TAIL = (("Vary", "Cookie"), ("Cache-Control", NO_STORE_CACHE_CONTROL))
