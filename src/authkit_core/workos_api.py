"""The WorkOS API, sans I/O: every request this library sends, how answers are read, and the retry policy.

Nothing here opens a socket or sleeps. URLs are pure functions; requests are built as ``httpx.Request`` objects;
:func:`classify_error` turns a failed answer into the right :class:`~authkit_core.errors.WorkOSAPIError`; and the
``*_flow`` functions are effect flows (see :mod:`authkit_core.flow`) that yield
:class:`~authkit_core.http.HttpCall` and :class:`~authkit_core.flow.Sleep` and return parsed results. The sync and
async clients in :mod:`authkit_core.workos_client` only drive these flows.

Secrets stay out of messages: no error built here contains an API key, an authorization code, a code verifier, an
access token or a refresh token, and a successful body (which holds tokens) is never attached to an error.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import Any, Literal, TypedDict, TypeGuard, TypeVar, Unpack
from urllib.parse import quote, urlencode

import httpx

from .config import AuthKitConfig
from .errors import (
    AUTHENTICATION_ERROR_CODES,
    AuthenticationError,
    InvalidResponseError,
    OAuthError,
    ProviderUnavailableError,
    RateLimitError,
    WorkOSAPIError,
)
from .flow import Flow, Sleep
from .http import HttpCall
from .models import AuthenticationResponse
from .pkce import CODE_CHALLENGE_METHOD

__all__ = [
    "API_KEY_VALIDATIONS_PATH",
    "AUTHENTICATE_PATH",
    "AUTHORIZE_PATH",
    "BACKOFF_BASE_SECONDS",
    "BACKOFF_CAP_SECONDS",
    "DEFAULT_PROVIDER",
    "JWKS_PATH",
    "LOGOUT_PATH",
    "RETRY_AFTER_CAP_SECONDS",
    "RETRY_STATUSES",
    "SCREEN_HINTS",
    "USER_AGENT",
    "AuthorizationOptions",
    "ClientMetadata",
    "CodeExchangeOptions",
    "authenticate_with_code_flow",
    "authenticate_with_code_request",
    "authenticate_with_refresh_token_flow",
    "authenticate_with_refresh_token_request",
    "authorization_url",
    "backoff_delay",
    "check_authorization_options",
    "call_flow",
    "classify_error",
    "fetch_jwks_flow",
    "is_authentication_error_code",
    "jwks_request",
    "jwks_url",
    "logout_url",
    "parse_json_response",
    "parse_retry_after",
    "refresh_idempotency_key",
    "validate_api_key_flow",
    "validate_api_key_request",
]

T = TypeVar("T")

#: Where the browser is sent to sign in.
AUTHORIZE_PATH = "/user_management/authorize"
#: The token endpoint (code and refresh-token grants).
AUTHENTICATE_PATH = "/user_management/authenticate"
#: Where the browser is sent to end its WorkOS session.
LOGOUT_PATH = "/user_management/sessions/logout"
#: The signing keys of access tokens: ``JWKS_PATH.format(client_id=...)``.
JWKS_PATH = "/sso/jwks/{client_id}"
#: API key validation.
API_KEY_VALIDATIONS_PATH = "/api_keys/validations"

#: The statuses the official SDKs retry (with transport failures: timeouts and network errors).
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: The longest ``Retry-After`` the retry flow waits; a longer one stops the retries and raises.
RETRY_AFTER_CAP_SECONDS = 10.0
#: The first back-off; each later one doubles, up to :data:`BACKOFF_CAP_SECONDS`.
BACKOFF_BASE_SECONDS = 0.5
#: The longest back-off between two attempts (before jitter).
BACKOFF_CAP_SECONDS = 8.0
#: The ``screen_hint`` values WorkOS accepts.
SCREEN_HINTS = frozenset({"sign-in", "sign-up"})

_MESSAGE_LIMIT = 300
_system_random = random.SystemRandom()


def _library_version() -> str:
    try:
        return _dist_version("authkit-session")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


#: The ``User-Agent`` of every request: this library, Python and httpx versions.
USER_AGENT = (
    f"authkit-session/{_library_version()} python/{sys.version_info.major}.{sys.version_info.minor} "
    f"httpx/{httpx.__version__}"
)


# --------------------------------------------------------------------------------------------------- URLs


class AuthorizationOptions(TypedDict, total=False):
    """The optional parameters of the sign-in URL (any left out, or ``None``, is not sent)."""

    #: Where WorkOS sends the browser back; defaults to ``config.redirect_uri``.
    redirect_uri: str | None
    #: Open AuthKit on the sign-in or the sign-up screen.
    screen_hint: Literal["sign-in", "sign-up"] | None
    #: Sign in to this organization.
    organization_id: str | None
    #: Pre-fill the email address.
    login_hint: str | None
    #: ``login`` asks the user to sign in again even with a live AuthKit session; ``consent`` is passed through to
    #: the identity provider. Any other value is sent as it is.
    prompt: str | None
    #: Require a sign-in no older than this many seconds (``0``: always sign in again).
    max_age: int | None
    #: Pre-select the SSO connection of this domain.
    domain_hint: str | None
    #: Sign in through this SSO connection (``conn_...``); without ``provider``, no ``provider`` is sent.
    connection_id: str | None
    #: The identity provider: ``authkit`` (the default, the hosted sign-in page) or an OAuth provider such as
    #: ``GoogleOAuth``, ``MicrosoftOAuth``, ``GitHubOAuth``, ``AppleOAuth`` to go straight to it.
    provider: str | None


# The optional query parameters, in the order they are written (``provider`` is written with the required ones).
_AUTHORIZE_OPTIONAL = (
    "screen_hint",
    "organization_id",
    "connection_id",
    "login_hint",
    "prompt",
    "max_age",
    "domain_hint",
)
#: The identity provider of a sign-in URL that names none (and no ``connection_id``): AuthKit's hosted page.
DEFAULT_PROVIDER = "authkit"


def _check_options(options: Mapping[str, object], kind: Any) -> None:
    # ``**options`` typed with a TypedDict is only checked statically; refuse misspelt names at run time too.
    unknown = set(options) - (kind.__required_keys__ | kind.__optional_keys__)
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")


def authorization_url(
    config: AuthKitConfig, *, state: str, code_challenge: str, **options: Unpack[AuthorizationOptions]
) -> str:
    """The AuthKit sign-in URL to redirect the browser to (PKCE with S256, ``provider=authkit`` unless
    ``provider`` or ``connection_id`` says otherwise).

    ``screen_hint`` must be ``"sign-in"`` or ``"sign-up"``, ``max_age`` a whole number of seconds (0 or more), and
    every other option a non-empty string without control characters; anything else raises :class:`ValueError`,
    and an unknown option :class:`TypeError`.
    """
    _check_options(options, AuthorizationOptions)
    if not state:
        raise ValueError("state is empty")
    if not code_challenge:
        raise ValueError("code_challenge is empty")
    check_authorization_options(options)
    provider = options.get("provider")
    if provider is None and options.get("connection_id") is None:
        provider = DEFAULT_PROVIDER
    params: dict[str, str] = {
        "client_id": config.client_id,
        "redirect_uri": options.get("redirect_uri") or config.redirect_uri,
        "response_type": "code",
    }
    if provider is not None:
        params["provider"] = provider
    params.update(state=state, code_challenge=code_challenge, code_challenge_method=CODE_CHALLENGE_METHOD)
    for name in _AUTHORIZE_OPTIONAL:
        value = options.get(name)
        if value is not None:
            params[name] = str(value)
    return f"{config.api_base_url}{AUTHORIZE_PATH}?{urlencode(params)}"


def check_authorization_options(options: Mapping[str, object]) -> None:
    """Raise :class:`ValueError` unless every given (non-``None``) sign-in option has the type WorkOS accepts:
    ``screen_hint`` ``"sign-in"``/``"sign-up"``, ``max_age`` a whole number of seconds (0 or more, not a bool),
    every other one a non-empty string without control characters (``prompt`` is not limited to known values:
    WorkOS passes unknown ones to the identity provider)."""
    for name, value in options.items():
        if value is None:
            continue
        if name == "max_age":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError("max_age must be a whole number of seconds, 0 or more")
        elif name == "screen_hint":
            if value not in SCREEN_HINTS:
                raise ValueError(f"screen_hint must be 'sign-in' or 'sign-up', not {value!r}")
        elif not isinstance(value, str) or not value or _CONTROL_CHARS.search(value):
            raise ValueError(f"{name} must be a non-empty string without control characters")


_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def logout_url(config: AuthKitConfig, session_id: str, return_to: str | None = None) -> str:
    """The URL that ends the WorkOS session ``session_id`` (the access token's ``sid``), then goes to
    ``return_to`` when given."""
    if not session_id:
        raise ValueError("session_id is empty")
    params = {"session_id": session_id}
    if return_to is not None:
        params["return_to"] = return_to
    return f"{config.api_base_url}{LOGOUT_PATH}?{urlencode(params)}"


def jwks_url(config: AuthKitConfig) -> str:
    """The URL of the JSON Web Key Set that signs this client's access tokens."""
    return config.api_base_url + JWKS_PATH.format(client_id=quote(config.client_id, safe=""))


# ----------------------------------------------------------------------------------------------- requests


def _headers(config: AuthKitConfig | None) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if config is not None:
        headers["Authorization"] = f"Bearer {config.api_key}"
    return headers


def _timeout(config: AuthKitConfig) -> dict[str, Any]:
    # Carried by the request, so the configured timeout holds even with a caller's own httpx client.
    return {"timeout": httpx.Timeout(config.http_timeout_seconds).as_dict()}


def _post_json(config: AuthKitConfig, path: str, body: Mapping[str, Any]) -> httpx.Request:
    return httpx.Request(
        "POST", config.api_base_url + path, json=body, headers=_headers(config), extensions=_timeout(config)
    )


class ClientMetadata(TypedDict, total=False):
    """The end user's browser, sent with a token request when given (WorkOS shows it with the session)."""

    #: The browser's IP address.
    ip_address: str | None
    #: The browser's ``User-Agent``.
    user_agent: str | None


class CodeExchangeOptions(ClientMetadata, total=False):
    """The optional fields of the ``authorization_code`` grant."""

    #: The PKCE verifier whose S256 challenge was in the sign-in URL.
    code_verifier: str | None


def _authenticate_request(
    config: AuthKitConfig, grant_type: str, grant: Mapping[str, Any], options: Mapping[str, Any], kind: Any
) -> httpx.Request:
    _check_options(options, kind)
    fields = {"grant_type": grant_type, "client_id": config.client_id, "client_secret": config.api_key}
    fields.update(grant)
    fields.update(options)
    return _post_json(config, AUTHENTICATE_PATH, {name: value for name, value in fields.items() if value is not None})


def authenticate_with_code_request(
    config: AuthKitConfig, code: str, **options: Unpack[CodeExchangeOptions]
) -> httpx.Request:
    """``POST /user_management/authenticate`` with the ``authorization_code`` grant: ``{grant_type, client_id,
    client_secret, code, code_verifier}``, then ``ip_address``/``user_agent`` when given."""
    if not code:
        raise ValueError("the authorization code is empty")
    grant = {"code": code, "code_verifier": options.get("code_verifier")}
    return _authenticate_request(config, "authorization_code", grant, options, CodeExchangeOptions)


def authenticate_with_refresh_token_request(
    config: AuthKitConfig,
    refresh_token: str,
    organization_id: str | None = None,
    *,
    idempotency_key: str | None = None,
    **options: Unpack[ClientMetadata],
) -> httpx.Request:
    """``POST /user_management/authenticate`` with the ``refresh_token`` grant: ``{grant_type, client_id,
    client_secret, refresh_token, organization_id?}``, then ``ip_address``/``user_agent`` when given.

    ``idempotency_key`` fixes the ``Idempotency-Key`` header (otherwise :func:`call_flow` draws one per grant);
    see :func:`refresh_idempotency_key`."""
    if not refresh_token:
        raise ValueError("the refresh token is empty")
    grant = {"refresh_token": refresh_token, "organization_id": organization_id}
    request = _authenticate_request(config, "refresh_token", grant, options, ClientMetadata)
    if idempotency_key is not None:
        request.headers["Idempotency-Key"] = idempotency_key
    return request


def refresh_idempotency_key(client_id: str, refresh_token: str, organization_id: str | None = None) -> str:
    """An ``Idempotency-Key`` derived from what a refresh grant spends (a UUID made of a SHA-256 of the client,
    the refresh token and the organization) rather than drawn at random; the token cannot be recovered from it.

    Every attempt to spend one refresh token, in any process and after any crash, then carries the same key: when
    a grant was processed but its answer was lost (every attempt timed out, the process died, or the database
    failed before the new tokens were saved), the next attempt is answered from WorkOS's replay store with the
    same new tokens instead of being refused as a reuse. The engine uses it only with stores that keep the
    tokens server-side (memory, SQL), where a refresh token never comes from the browser: with the cookie store a
    stale cookie copied before a refresh could otherwise be replayed back to life.
    """
    material = "\0".join(("authkit-session refresh grant v1", client_id, refresh_token, organization_id or ""))
    return str(uuid.UUID(bytes=hashlib.sha256(material.encode()).digest()[:16], version=4))


def validate_api_key_request(config: AuthKitConfig, value: str) -> httpx.Request:
    """``POST /api_keys/validations`` asking WorkOS whether ``value`` is a live API key."""
    if not value:
        raise ValueError("the API key to validate is empty")
    return _post_json(config, API_KEY_VALIDATIONS_PATH, {"value": value})


def jwks_request(config: AuthKitConfig) -> httpx.Request:
    """``GET /sso/jwks/{client_id}`` (a public endpoint: no API key is sent)."""
    return httpx.Request("GET", jwks_url(config), headers=_headers(None), extensions=_timeout(config))


# -------------------------------------------------------------------------------------------------- errors


def is_authentication_error_code(code: object) -> TypeGuard[str]:
    """Whether ``code`` is one WorkOS uses for "the user must take another step" (incl. ``radar_*``)."""
    return isinstance(code, str) and (code in AUTHENTICATION_ERROR_CODES or code.startswith("radar_"))


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date (``None`` if unreadable).

    ``now`` (a Unix time, default the current time) is what an HTTP-date is measured from; a date in the past
    gives ``0.0``.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _where(response: httpx.Response) -> str:
    try:
        request = response.request
    except RuntimeError:
        return "WorkOS"
    return f"{request.method} {request.url.path}"  # the path only: never the query or the body


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None
    return data if isinstance(data, dict) else None


def _workos_message(body: Mapping[str, Any] | None) -> str | None:
    if body is None:
        return None
    for key in ("message", "error_description"):
        text = body.get(key)
        if isinstance(text, str) and text.strip():
            flat = " ".join(text.split())
            return flat if len(flat) <= _MESSAGE_LIMIT else flat[: _MESSAGE_LIMIT - 3] + "..."
    return None


def classify_error(response: httpx.Response) -> WorkOSAPIError:
    """The error for a WorkOS answer that is not a success.

    - 429: :class:`RateLimitError`, with ``retry_after`` from ``Retry-After`` (seconds or HTTP-date);
    - 408 and 5xx, whatever the body: :class:`ProviderUnavailableError` (``timeout`` for 408, else
      ``server_error``);
    - a JSON ``code`` (or ``error``, as ``sso_required`` sometimes comes) that asks for another step:
      :class:`AuthenticationError` with that code;
    - a JSON ``error``: :class:`OAuthError` (``invalid_grant``, ...);
    - any other JSON ``code``: :class:`WorkOSAPIError` with it;
    - any other JSON object: :class:`WorkOSAPIError` ``http_<status>``, not transient;
    - a 4xx that is not a JSON object (an HTML page, no body, broken JSON), which WorkOS never sends:
      :class:`InvalidResponseError` ``http_<status>``, transient (a proxy's page must not end sessions).

    Every error keeps ``status``, the decoded JSON ``body`` and ``request_id`` (``X-Request-ID``).
    """
    status = response.status_code
    body = _json_object(response)
    detail = _workos_message(body)
    if detail is None:
        if body is None and response.content:
            kind = response.headers.get("content-type", "unknown type").split(";")[0].strip() or "unknown type"
            detail = f"a body that is not a JSON object ({kind})"
        elif body is None:
            detail = "an empty body"
        else:
            detail = "no message"
    message = f"{_where(response)} answered {status}: {detail}"
    common: dict[str, Any] = {"status": status, "body": body, "request_id": response.headers.get("x-request-id")}
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return RateLimitError(message, retry_after=retry_after, **common)
    if status == 408 or status >= 500:
        return ProviderUnavailableError(message, code="timeout" if status == 408 else "server_error", **common)
    if body is not None:
        code, error = body.get("code"), body.get("error")
        for candidate in (code, error):
            if is_authentication_error_code(candidate):
                return AuthenticationError(message, code=candidate, **common)
        if isinstance(error, str) and error:
            return OAuthError(message, code=error, **common)
        if isinstance(code, str) and code:
            return WorkOSAPIError(message, code=code, **common)
        return WorkOSAPIError(message, code=f"http_{status}", **common)
    # WorkOS answers every error in JSON: an HTML page or a broken body came from something in between (a proxy,
    # a firewall, a wrong hostname). Nothing says the session is over, so it is kept (transient).
    return InvalidResponseError(message, code=f"http_{status}", **common)


def parse_json_response(response: httpx.Response, parse: Callable[[dict[str, Any]], T]) -> T:
    """Read a successful answer: its body must be a JSON object that ``parse`` accepts.

    Raises :class:`InvalidResponseError` (with ``status`` and ``request_id`` but never the body, which may hold
    tokens) when the body is not JSON, not an object, or lacks what ``parse`` needs.
    """
    common: dict[str, Any] = {"status": response.status_code, "request_id": response.headers.get("x-request-id")}
    where = f"{_where(response)} answered {response.status_code}"
    body = _json_object(response)
    if body is None:
        raise InvalidResponseError(f"{where} with a body that is not a JSON object", **common)
    try:
        return parse(body)
    except InvalidResponseError as exc:
        raise InvalidResponseError(f"{where}: {exc.message}", **common) from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise InvalidResponseError(f"{where} with an unreadable body ({type(exc).__name__})", **common) from None


# --------------------------------------------------------------------------------------------------- flows


def backoff_delay(
    attempt: int,
    *,
    base: float = BACKOFF_BASE_SECONDS,
    cap: float = BACKOFF_CAP_SECONDS,
    rand: Callable[[], float] = _system_random.random,
) -> float:
    """The pause before retry number ``attempt + 1``: ``min(cap, base * 2**attempt)`` with "equal jitter", i.e.
    a value between half of it and all of it (``rand`` returns a float in [0, 1))."""
    full = min(cap, base * 2.0 ** max(0, attempt))
    return full / 2 + rand() * full / 2


def call_flow(
    request: httpx.Request,
    *,
    max_retries: int,
    retry_after_cap: float = RETRY_AFTER_CAP_SECONDS,
    backoff_base: float = BACKOFF_BASE_SECONDS,
    backoff_cap: float = BACKOFF_CAP_SECONDS,
    rand: Callable[[], float] = _system_random.random,
) -> Flow[httpx.Response]:
    """Send ``request`` until it succeeds; return the 2xx response or raise the classified error.

    Retries (at most ``max_retries`` times) on 408/429/500/502/503/504 and on a transport failure
    (:class:`ProviderUnavailableError` thrown in by the shell), pausing with :class:`Sleep`: ``Retry-After``
    when the answer has one, else an exponential back-off with jitter (:func:`backoff_delay`). A
    ``Retry-After`` longer than ``retry_after_cap`` stops the retries at once. A POST gets one
    ``Idempotency-Key`` (a UUID4, unless it already has one) shared by all of its attempts.
    """
    if request.method == "POST" and "idempotency-key" not in request.headers:
        request.headers["Idempotency-Key"] = str(uuid.uuid4())
    attempt = 0
    while True:
        try:
            response: httpx.Response = yield HttpCall(request)
        except ProviderUnavailableError:
            if attempt >= max_retries:
                raise
            delay = backoff_delay(attempt, base=backoff_base, cap=backoff_cap, rand=rand)
        else:
            if response.is_success:
                return response
            error = classify_error(response)
            if response.status_code not in RETRY_STATUSES or attempt >= max_retries:
                raise error
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after is None:
                delay = backoff_delay(attempt, base=backoff_base, cap=backoff_cap, rand=rand)
            elif retry_after > retry_after_cap:
                raise error
            else:
                delay = retry_after
        attempt += 1
        yield Sleep(delay)


def _request_flow(
    config: AuthKitConfig,
    request: httpx.Request,
    parse: Callable[[dict[str, Any]], T],
    max_retries: int | None = None,
) -> Flow[T]:
    retries = config.max_retries if max_retries is None else max_retries
    response = yield from call_flow(request, max_retries=retries)
    return parse_json_response(response, parse)


def authenticate_with_code_flow(
    config: AuthKitConfig, code: str, **options: Unpack[CodeExchangeOptions]
) -> Flow[AuthenticationResponse]:
    """Exchange an authorization code (and its PKCE verifier) for a session."""
    request = authenticate_with_code_request(config, code, **options)
    return (yield from _request_flow(config, request, AuthenticationResponse.from_api))


def authenticate_with_refresh_token_flow(
    config: AuthKitConfig,
    refresh_token: str,
    organization_id: str | None = None,
    *,
    idempotency_key: str | None = None,
    max_retries: int | None = None,
    **options: Unpack[ClientMetadata],
) -> Flow[AuthenticationResponse]:
    """Trade a refresh token (which then stops working) for new tokens, optionally in ``organization_id``
    (``idempotency_key``: see :func:`authenticate_with_refresh_token_request`; ``max_retries`` overrides the
    configuration's)."""
    request = authenticate_with_refresh_token_request(
        config, refresh_token, organization_id, idempotency_key=idempotency_key, **options
    )
    return (yield from _request_flow(config, request, AuthenticationResponse.from_api, max_retries))


def _api_key_result(body: dict[str, Any]) -> dict[str, Any] | None:
    if "api_key" not in body:
        raise InvalidResponseError("the API key validation has no api_key field")
    api_key = body["api_key"]
    if api_key is None:
        return None
    if not isinstance(api_key, dict):
        raise InvalidResponseError("api_key is neither an object nor null")
    return api_key


def validate_api_key_flow(
    config: AuthKitConfig, value: str, *, max_retries: int | None = None
) -> Flow[dict[str, Any] | None]:
    """Ask WorkOS about an API key: its description (``api_key`` object) when valid, ``None`` when not
    (``max_retries`` overrides the configuration's)."""
    request = validate_api_key_request(config, value)
    return (yield from _request_flow(config, request, _api_key_result, max_retries))


def _jwks_result(body: dict[str, Any]) -> dict[str, Any]:
    keys = body.get("keys")
    if not isinstance(keys, list) or not all(isinstance(key, dict) for key in keys):
        raise InvalidResponseError("the JWKS has no list of key objects in keys")
    return body


def fetch_jwks_flow(config: AuthKitConfig) -> Flow[dict[str, Any]]:
    """Fetch the JWKS (``{"keys": [...]}``), validated to hold a list of key objects."""
    return (yield from _request_flow(config, jwks_request(config), _jwks_result))
