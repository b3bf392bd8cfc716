"""The plain types both middleware faces share: what a request looks like to the middleware (:class:`RequestInfo`),
a response it sends itself (:class:`Response`), its options (:class:`AuthKitOptions`), the hook and URL option
types, and the errors of the request-scoped API."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal, TypedDict
from urllib.parse import parse_qsl

from authkit_core.engine import AuthKit
from authkit_core.errors import (
    AuthKitError,
)
from authkit_core.redirects import request_origin

if TYPE_CHECKING:
    from ._success import SuccessHook

__all__ = [
    "AUTHORIZATION_OPTION_NAMES",
    "CONTEXT_KEY",
    "AuthKitOptions",
    "CrossSiteRequestError",
    "ErrorHook",
    "NoRequestContextError",
    "RequestInfo",
    "Response",
    "SignInOptions",
    "SignInUrlOptions",
]

#: Where the middleware puts the request context in the ASGI scope or WSGI environ (for ``request=`` lookups).
CONTEXT_KEY = "authkit_session.context"


class NoRequestContextError(AuthKitError):
    """A request-scoped function was called outside a request handled by the authkit-session middleware."""

    code = "no_request_context"


class CrossSiteRequestError(AuthKitError):
    """``sign_out()`` was refused because the request came from another site (``csrf_protect_sign_out``). The
    middleware answers 403 in place of the app's response; the session is left as it was."""

    code = "cross_site_request"


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The parts of a request the middleware looks at, whatever the server interface."""

    method: str
    #: The decoded path (matched against the callback path and the path patterns).
    path: str
    #: The path as sent (still percent-encoded), used to build return URLs.
    raw_path: str
    query_string: str
    #: Lower-case header names; repeated headers joined with ``", "``.
    headers: Mapping[str, str] = field(repr=False)
    cookies: Mapping[str, str] = field(repr=False)
    client_ip: str | None = None
    #: ``http`` or ``https``, as the server saw it (a proxy's ``X-Forwarded-Proto`` is not read).
    scheme: str = "http"

    @property
    def target(self) -> str:
        """Path and query as sent: where a sign-in started here should come back to."""
        return self.raw_path + ("?" + self.query_string if self.query_string else "")

    @property
    def query(self) -> dict[str, str]:
        """The query parameters (the first of a repeated name wins)."""
        out: dict[str, str] = {}
        for name, value in parse_qsl(self.query_string, keep_blank_values=True):
            out.setdefault(name, value)
        return out

    @property
    def user_agent(self) -> str | None:
        """The ``User-Agent`` header."""
        return self.headers.get("user-agent")

    @property
    def origin(self) -> str | None:
        """``scheme://host[:port]`` this request was made to (from the scheme and ``Host``), when it has a host."""
        return request_origin(self.scheme, self.headers.get("host"))


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response the middleware sends itself (a redirect, the sign-in error page)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""

    @property
    def status_line(self) -> str:
        """``"307 Temporary Redirect"``: the WSGI status string."""
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Unknown"
        return f"{self.status} {phrase}"


#: ``on_error(error, request_info)`` for a failed sign-in callback. It returns ``None`` (the default error page),
#: a URL to redirect to, or a :class:`Response`; on the ASGI middleware it may be a coroutine function.
ErrorHook = Callable[[Exception, RequestInfo], Any]


class SignInOptions(TypedDict, total=False):
    """The authorization options WorkOS accepts on the sign-in URL (any left out, or ``None``, is not sent): the
    middleware's ``sign_in_options`` defaults, and part of :class:`SignInUrlOptions`."""

    #: Sign in to this organization.
    organization_id: str | None
    #: Pre-fill the email address.
    login_hint: str | None
    #: Pre-select the SSO connection of this email domain.
    domain_hint: str | None
    #: Sign in through this SSO connection (``conn_...``).
    connection_id: str | None
    #: ``authkit`` (the default: the hosted sign-in page) or an OAuth provider (``GoogleOAuth``, ``MicrosoftOAuth``,
    #: ``GitHubOAuth``, ``AppleOAuth`` ...) to go straight to it.
    provider: str | None
    #: ``login``: sign in again even with a live AuthKit session; ``consent``: passed to the identity provider.
    prompt: str | None
    #: The sign-in must be at most this many seconds old, else the user signs in again (``0``: always). Pair it
    #: with ``check_recent_auth(max_age)``.
    max_age: int | None


class SignInUrlOptions(SignInOptions, total=False):
    """The options of ``get_sign_in_url`` and ``get_sign_up_url``: every authorization option WorkOS accepts
    (:class:`SignInOptions`), the screen, where to come back to and your own state. Any left out, or ``None``, is
    not sent (the middleware's ``sign_in_options`` then apply); a value of the wrong type raises
    :class:`ValueError` (see :func:`authkit_core.workos_api.check_authorization_options`)."""

    #: The path to come back to after signing in (a same-origin path; anything else becomes ``/``).
    return_to: str | None
    #: Your own string, sealed into the sign-in state and handed back to ``on_success`` (``custom_state``).
    state: str | None
    #: ``sign-in`` or ``sign-up`` screen (``get_sign_up_url`` always opens ``sign-up``).
    screen_hint: Literal["sign-in", "sign-up"] | None


#: The :class:`SignInOptions` names: sent to WorkOS as they are (``return_to`` and ``state`` are sealed into the
#: state instead).
AUTHORIZATION_OPTION_NAMES = (
    "organization_id",
    "login_hint",
    "domain_hint",
    "connection_id",
    "provider",
    "prompt",
    "max_age",
)


class AuthKitOptions(TypedDict, total=False):
    """The middleware's options (the same for ASGI and WSGI; see :class:`MiddlewareCore`)."""

    authkit: AuthKit | None
    middleware_auth: bool
    unauthenticated_paths: Sequence[str]
    sign_up_paths: Sequence[str]
    redirect_uri: str | None
    debug: bool
    on_error: ErrorHook | None
    on_success: SuccessHook | None
    sign_in_options: SignInOptions | None
    csrf_protect_sign_out: bool
    accept_bearer: bool
    access_token_endpoints: bool | str
    auth_routes: bool | str
