"""The sign-in round trip, without I/O: the state cookie, the sign-in URL, callback validation and response rules.

A sign-in starts by sealing ``{nonce, codeVerifier, returnPathname?, customState?}`` (camelCase, as authkit-nextjs
does) with the cookie password. That sealed string is both the OAuth ``state`` sent to WorkOS and the value of the
cookie ``wos-auth-verifier-<fnv1a32 hex of the sealed state>`` (``Max-Age=600``, ``HttpOnly``, ``SameSite=Lax``,
``Path=/``, ``Secure`` as configured). On the callback the ``state`` in the query names the cookie to read, must
equal its value (compared in constant time) and must unseal; only then is the code worth exchanging.

Also here, because every adapter needs the same answers: :func:`safe_return_path` (a return path is a same-origin
path or it becomes ``/``), :func:`redirect_status` (307 for GET/HEAD, 303 otherwise) and the cache headers that
responses carrying or depending on a session get (:func:`add_session_cache_headers`).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Unpack
from urllib.parse import quote, unquote, urlsplit

from .config import AuthKitConfig
from .cookies import SetCookie
from .errors import AuthKitError, SealError
from .iron import seal, unseal
from .pkce import code_challenge, generate_code_verifier, generate_nonce
from .workos_api import AuthorizationOptions, authorization_url

__all__ = [
    "NO_STORE_CACHE_CONTROL",
    "VERIFIER_COOKIE_MAX_AGE",
    "VERIFIER_COOKIE_PREFIX",
    "CallbackParams",
    "SignInCallbackError",
    "SignInRequest",
    "SignInState",
    "add_session_cache_headers",
    "callback_cookies_to_expire",
    "fnv1a32",
    "redirect_status",
    "safe_return_path",
    "start_sign_in",
    "validate_callback",
    "verifier_cookie_name",
]

#: The sign-in state cookie is ``wos-auth-verifier-`` followed by the FNV-1a hash of the sealed state.
VERIFIER_COOKIE_PREFIX = "wos-auth-verifier-"
#: How long a sign-in may take, in seconds (the cookie's ``Max-Age`` and the sealed state's lifetime).
VERIFIER_COOKIE_MAX_AGE = 600
#: ``Cache-Control`` of every response that carries or depends on a session (authkit-nextjs's value).
NO_STORE_CACHE_CONTROL = "private, no-cache, no-store, must-revalidate, max-age=0"

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
# C0 controls, DEL and C1 controls: browsers strip some of them (tab, newline) before parsing a URL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# What cannot go into a Location header as it is (HTTP headers are Latin-1 at best): spaces and non-ASCII.
_NOT_HEADER_SAFE = re.compile(r"[^\x21-\x7e]+")


def fnv1a32(text: str) -> str:
    """The 32-bit FNV-1a hash of ``text`` (UTF-8) as 8 lower-case hex digits."""
    h = _FNV_OFFSET
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return f"{h:08x}"


def verifier_cookie_name(state: str) -> str:
    """The name of the cookie that holds the sealed sign-in ``state``."""
    return VERIFIER_COOKIE_PREFIX + fnv1a32(state)


@dataclass(frozen=True, slots=True)
class SignInState:
    """What the sign-in state seals: a nonce, the PKCE verifier, and where to go afterwards."""

    code_verifier: str = field(repr=False)
    nonce: str = field(repr=False)
    return_pathname: str | None = None
    custom_state: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The camelCase payload authkit-nextjs seals (optional keys only when set)."""
        out: dict[str, Any] = {"nonce": self.nonce, "codeVerifier": self.code_verifier}
        if self.return_pathname is not None:
            out["returnPathname"] = self.return_pathname
        if self.custom_state is not None:
            out["customState"] = self.custom_state
        return out

    @classmethod
    def from_json(cls, data: object) -> SignInState:
        """Read the sealed payload; raise :class:`SignInCallbackError` (``invalid_state``) when malformed."""
        if not isinstance(data, Mapping):
            raise SignInCallbackError("the sign-in state is not an object", code="invalid_state")
        nonce, verifier = data.get("nonce"), data.get("codeVerifier")
        if not isinstance(nonce, str) or not isinstance(verifier, str) or not nonce or not verifier:
            raise SignInCallbackError("the sign-in state has no nonce or code verifier", code="invalid_state")
        ret, custom = data.get("returnPathname"), data.get("customState")
        return cls(
            code_verifier=verifier,
            nonce=nonce,
            return_pathname=ret if isinstance(ret, str) else None,
            custom_state=custom if isinstance(custom, str) else None,
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
    **options: Unpack[AuthorizationOptions],
) -> SignInRequest:
    """Begin a sign-in: a fresh PKCE verifier and nonce sealed into the state, the AuthKit URL (``options`` as in
    :func:`~authkit_core.workos_api.authorization_url`) and the state cookie.

    ``return_pathname`` is passed through :func:`safe_return_path`, so a hostile value can never leave the site.
    """
    verifier = generate_code_verifier()
    payload = SignInState(
        code_verifier=verifier,
        nonce=generate_nonce(),
        return_pathname=None if return_pathname is None else safe_return_path(return_pathname),
        custom_state=custom_state,
    )
    state = seal(payload.to_json(), config.cookie_passwords, ttl=VERIFIER_COOKIE_MAX_AGE)
    url = authorization_url(config, state=state, code_challenge=code_challenge(verifier), **options)
    cookie = _state_cookie(config, verifier_cookie_name(state), state, VERIFIER_COOKIE_MAX_AGE)
    return SignInRequest(url=url, state=state, cookie=cookie)


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
    stored = cookies.get(verifier_cookie_name(state))
    if not stored:
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


def callback_cookies_to_expire(config: AuthKitConfig, query: Mapping[str, str]) -> list[SetCookie]:
    """The state cookie a callback response must expire (on success and on failure alike)."""
    state = query.get("state")
    if not state:
        return []
    return [_state_cookie(config, verifier_cookie_name(state), "", 0)]


def safe_return_path(value: str | None, default: str = "/") -> str:
    """``value`` when it is a path on this site, else ``default``.

    Refused: anything not starting with a single ``/`` (``//evil.example``, ``https:evil``, ``evil``), backslashes
    (``/\\evil``, which browsers read as ``//evil``), control characters, and values that only look safe before
    percent-decoding (``/%2F%2Fevil``, ``%2F%2Fevil``, ``/%5Cevil``). Spaces and non-ASCII characters of an
    accepted path are percent-encoded (UTF-8), so it can always be sent as a ``Location`` header.
    """
    if not isinstance(value, str) or not value:
        return default
    candidates = [value]
    decoded = value
    for _ in range(3):  # a few rounds catch double encoding; more is not needed for a same-origin check
        decoded = unquote(decoded)
        candidates.append(decoded)
    for text in candidates:
        if not text.startswith("/") or text.startswith("//") or "\\" in text or _CONTROL.search(text):
            return default
        parts = urlsplit(text)
        if parts.scheme or parts.netloc:
            return default
    try:
        return _NOT_HEADER_SAFE.sub(lambda match: quote(match.group(0), safe=""), value)
    except UnicodeEncodeError:  # a lone surrogate: not a path a browser could have asked for
        return default


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
