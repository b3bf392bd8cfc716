"""After a sign-in: what the middleware's ``on_success`` hook receives (:class:`SignInSuccess`), what it may return,
and the error a hook that refuses the sign-in turns into (:class:`SignInRefusedError`).

The hook runs after the code exchange and before the session is stored, so a sign-in is all or nothing: either the
hook returns, the session is stored and the browser redirected, or it raises and neither happens (the error page,
or ``on_error``, answers instead, and no session cookie is set).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authkit_core.errors import AuthKitError
from authkit_core.models import AuthenticationResponse, Impersonator, OAuthTokens, User
from authkit_core.tokens import get_token_claims

from ._types import RequestInfo, Response

__all__ = ["SignInRefusedError", "SignInSuccess", "SuccessHook", "success_outcome"]


@dataclass(frozen=True, slots=True)
class SignInSuccess:
    """A completed code exchange, handed to ``on_success`` before the session is stored.

    Its ``repr`` never shows a token (the tokens of :attr:`auth_response` are hidden too)."""

    #: The WorkOS user who signed in.
    user: User
    #: The organization the session is in (``None`` when the user signed in to none).
    organization_id: str | None
    #: The whole answer of WorkOS's code exchange (tokens, impersonator, authentication method, OAuth tokens).
    auth_response: AuthenticationResponse
    #: Where the browser goes next unless the hook says otherwise (a checked same-origin path).
    return_pathname: str
    #: The ``state`` the app passed to ``get_sign_in_url(state=...)``, verified (it travelled sealed).
    custom_state: str | None
    #: The callback request.
    request_info: RequestInfo

    @property
    def access_token(self) -> str:
        """The new session's access token."""
        return self.auth_response.access_token

    @property
    def refresh_token(self) -> str:
        """The new session's refresh token (it rotates: store the session, not this value)."""
        return self.auth_response.refresh_token

    @property
    def impersonator(self) -> Impersonator | None:
        """The admin impersonating the user, if any."""
        return self.auth_response.impersonator

    @property
    def authentication_method(self) -> str | None:
        """How the user signed in (``Password``, ``GoogleOAuth``, ``SSO`` ...), when WorkOS says."""
        return self.auth_response.authentication_method

    @property
    def oauth_tokens(self) -> OAuthTokens | None:
        """The identity provider's own tokens, when WorkOS returned them (a sign-in through an OAuth provider)."""
        return self.auth_response.oauth_tokens

    @property
    def claims(self) -> dict[str, Any]:
        """The access token's claims (``sid``, ``role``, ``permissions``, ``auth_time`` ...), decoded without
        verification (the token comes straight from WorkOS's token endpoint)."""
        return get_token_claims(self.access_token)


#: ``on_success(success)``: called with a :class:`SignInSuccess` once the code is exchanged, before the session is
#: stored. It returns ``None`` (go to the return path), a redirect target (a same-origin path or a URL on an allowed
#: origin; anything else becomes ``/``) or a :class:`Response` (sent with the session cookie); raising refuses the
#: sign-in. On the ASGI middleware it may be a coroutine function.
SuccessHook = Callable[[SignInSuccess], Any]


class SignInRefusedError(AuthKitError):
    """The ``on_success`` hook refused a sign-in (it raised): the session was not stored. The middleware answers
    with ``on_error`` or a 403 error page.

    Raise it yourself from ``on_success`` to refuse with a message shown on the error page
    (``SignInRefusedError("Only example.com accounts may sign in")``); any other exception the hook raises is
    wrapped in one (``cause`` is that exception, and the page says only that the sign-in was refused).
    """

    code = "sign_in_refused"
    status = 403

    def __init__(self, message: str = "", *, cause: BaseException | None = None) -> None:
        self.cause = cause
        super().__init__(message)

    @classmethod
    def wrap(cls, error: Exception) -> SignInRefusedError:
        """``error`` when it is already a refusal, else a refusal caused by it (its text is not kept: it may say
        more than a browser should see)."""
        if isinstance(error, SignInRefusedError):
            return error
        return cls(cause=error)


def success_outcome(value: object) -> str | Response | None:
    """Check what ``on_success`` returned: ``None``, a redirect target (``str``) or a :class:`Response`; raise
    :class:`SignInRefusedError` for anything else (the sign-in is not completed half-way)."""
    if value is None or isinstance(value, str | Response):
        return value
    if inspect.iscoroutine(value):  # an async hook on the blocking (WSGI) middleware: nothing awaits it
        value.close()
        raise SignInRefusedError(cause=TypeError("on_success is a coroutine function: use it with the ASGI middleware"))
    raise SignInRefusedError(cause=TypeError(f"on_success returned a {type(value).__name__}"))
