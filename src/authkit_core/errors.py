"""Every error this library raises, in one tree under :class:`AuthKitError`.

Each class carries a stable machine-readable ``.code`` (like joserfc's ``.error``), and ``str(error)`` starts with
that code, so ``"sso_required" in str(error)`` works exactly as in the authkit-nextjs documentation.
No message built here ever includes a token, a refresh token, a code or a cookie value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AUTHENTICATION_ERROR_CODES",
    "AuthKitError",
    "AuthenticationError",
    "ConfigurationError",
    "InvalidResponseError",
    "OAuthError",
    "ProviderBackoffError",
    "ProviderUnavailableError",
    "RateLimitError",
    "SealError",
    "SessionError",
    "SessionUnavailableError",
    "SignInRequiredError",
    "SignInUnavailableError",
    "TokenError",
    "TokenRefreshError",
    "WorkOSAPIError",
]

#: The ``code`` values WorkOS answers on ``/user_management/authenticate`` when more steps are needed.
AUTHENTICATION_ERROR_CODES = frozenset(
    {
        "email_verification_required",
        "organization_selection_required",
        "mfa_enrollment",
        "mfa_challenge",
        "mfa_verification",
        "sso_required",
        "organization_authentication_methods_required",
    }
)


class AuthKitError(Exception):
    """Base class of every error raised by authkit-session.

    ``code`` is stable and meant for programs; ``message`` is for people.
    """

    code: str = "authkit_error"
    #: Whether retrying later may succeed (network trouble, rate limits, provider outages).
    is_transient: bool = False

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        if code is not None:
            self.code = code
        self.message = message
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code


class ConfigurationError(AuthKitError):
    """A setting is missing or invalid. ``variable`` names the environment variable (or option) to fix."""

    code = "configuration_error"

    def __init__(self, message: str, *, variable: str | None = None) -> None:
        self.variable = variable
        super().__init__(message)


class SealError(AuthKitError):
    """A sealed value (cookie, state) could not be opened.

    Codes: ``invalid_seal`` (malformed), ``bad_mac`` (tampered or wrong password), ``unknown_password``
    (sealed with a password id this app does not have), ``expired_seal``.
    """

    code = "invalid_seal"


class TokenError(AuthKitError):
    """An access token failed verification.

    Codes: ``invalid_token`` (malformed), ``unsupported_algorithm``, ``invalid_signature``, ``unknown_key``,
    ``token_expired``, ``token_not_yet_valid``, ``invalid_issuer``, ``invalid_audience``, ``subject_mismatch``.
    """

    code = "invalid_token"


class BearerRequestError(AuthKitError):
    """Raised by ``refresh_session()`` and ``switch_to_organization()`` (and anything else that needs a stored
    session) on a request authenticated by an ``Authorization: Bearer`` access token: such a request has no session
    to refresh or move (the token's holder refreshes it where it got it)."""

    code = "bearer_request"


class SessionError(AuthKitError):
    """The session could not be loaded or stored (storage failure, oversized cookie, ...)."""

    code = "session_error"


class SessionUnavailableError(SessionError):
    """The session store cannot be reached right now (database down, lock timeout). Transient: nothing is deleted."""

    code = "storage_unavailable"
    is_transient = True


class WorkOSAPIError(AuthKitError):
    """An answer from the WorkOS API that is not a success.

    ``status`` is the HTTP status (``None`` when no answer arrived), ``body`` the decoded JSON body when there was
    one, and ``request_id`` the ``X-Request-ID`` header when present.
    """

    code = "workos_api_error"

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        status: int | None = None,
        body: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        self.status = status
        self.body: Mapping[str, Any] = body if body is not None else {}
        self.request_id = request_id
        super().__init__(message, code=code)


class AuthenticationError(WorkOSAPIError):
    """WorkOS needs the user to take another step (``sso_required``, ``mfa_enrollment``, ...).

    The extra fields WorkOS sends are exposed as attributes; the full body stays in ``body``.
    """

    code = "authentication_error"

    @property
    def pending_authentication_token(self) -> str | None:
        """The token to continue the authentication with, when WorkOS sent one."""
        return _str_or_none(self.body.get("pending_authentication_token"))

    @property
    def organizations(self) -> list[dict[str, Any]]:
        """Organizations to choose from (``organization_selection_required``)."""
        orgs = self.body.get("organizations")
        return [dict(o) for o in orgs if isinstance(o, Mapping)] if isinstance(orgs, list) else []

    @property
    def authkit_redirect_url(self) -> str | None:
        """Where to send the browser to finish the step, when WorkOS sent one."""
        return _str_or_none(self.body.get("authkit_redirect_url"))

    @property
    def email(self) -> str | None:
        """The email address WorkOS names in the error, if any."""
        return _str_or_none(self.body.get("email"))

    @property
    def connection_ids(self) -> list[str]:
        """SSO connection ids (``sso_required``)."""
        ids = self.body.get("connection_ids")
        return [str(i) for i in ids] if isinstance(ids, list) else []

    @property
    def email_verification_id(self) -> str | None:
        """The email verification id (``email_verification_required``)."""
        return _str_or_none(self.body.get("email_verification_id"))

    @property
    def user(self) -> dict[str, Any] | None:
        """The raw user object WorkOS sent with the error, if any."""
        user = self.body.get("user")
        return dict(user) if isinstance(user, Mapping) else None


class OAuthError(WorkOSAPIError):
    """An OAuth-style error (``invalid_grant``, ``invalid_request``, ``invalid_client``, ...)."""

    code = "oauth_error"

    @property
    def error_description(self) -> str | None:
        """WorkOS's ``error_description``."""
        return _str_or_none(self.body.get("error_description"))


class RateLimitError(WorkOSAPIError):
    """WorkOS answered 429. ``retry_after`` is in seconds when WorkOS said."""

    code = "rate_limit_exceeded"
    is_transient = True

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ProviderUnavailableError(WorkOSAPIError):
    """WorkOS could not be reached or failed (network error, timeout, 408 or 5xx). Codes: ``network_error``,
    ``timeout``, ``server_error``."""

    code = "server_error"
    is_transient = True


class ProviderBackoffError(ProviderUnavailableError):
    """The call was not made: the circuit breaker holds it back after recent failures (the session's back-off,
    or the provider-wide circuit is open). ``retry_after`` says in how many seconds it may be tried again."""

    code = "provider_unavailable"

    def __init__(self, message: str = "", *, retry_after: int, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class InvalidResponseError(WorkOSAPIError):
    """WorkOS (or a proxy in front of it) answered with a body this library cannot read (an HTML error page,
    malformed JSON, a missing field). Treated as transient: the session is kept."""

    code = "invalid_response"
    is_transient = True


class TokenRefreshError(AuthKitError):
    """Refreshing a session failed. Wraps the cause in ``__cause__`` and ``cause``.

    ``code`` is the underlying WorkOS code (``invalid_grant``, ``sso_required``, ``server_error``, ...),
    ``is_transient`` says whether the session was kept and a later retry may succeed.
    """

    code = "token_refresh_error"

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        is_transient: bool = False,
        user_id: str | None = None,
        session_id: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        self.is_transient = is_transient
        self.user_id = user_id
        self.session_id = session_id
        self.cause = cause
        super().__init__(message, code=code)

    @classmethod
    def wrap(
        cls, cause: BaseException, *, user_id: str | None = None, session_id: str | None = None
    ) -> TokenRefreshError:
        """Build the refresh error for ``cause``, keeping its code and transience."""
        code = getattr(cause, "code", None) if isinstance(cause, AuthKitError) else "refresh_failed"
        transient = bool(getattr(cause, "is_transient", False))
        detail = cause.message if isinstance(cause, AuthKitError) else type(cause).__name__
        err = cls(
            f"failed to refresh session: {detail}",
            code=code,
            is_transient=transient,
            user_id=user_id,
            session_id=session_id,
            cause=cause,
        )
        err.__cause__ = cause
        return err


class SignInRequiredError(AuthKitError):
    """Raised by ``with_auth(ensure_signed_in=True)`` and friends on a signed-out request.

    The middleware turns it into a redirect to sign-in that returns to ``return_pathname``.
    """

    code = "sign_in_required"

    def __init__(self, message: str = "sign-in required", *, return_pathname: str | None = None) -> None:
        self.return_pathname = return_pathname
        super().__init__(message)


class SignInUnavailableError(AuthKitError):
    """Raised like :class:`SignInRequiredError` when a request that requires a session has one that cannot be
    refreshed or verified now for a transient reason (WorkOS or the session store unreachable).

    The middleware answers 503 with ``Retry-After`` (``retry_after`` seconds): a short page for a browser
    navigation, a JSON error otherwise. The session is kept; ``cause`` is the transient error."""

    code = "sign_in_unavailable"
    is_transient = True

    def __init__(
        self,
        message: str = "sign-in is temporarily unavailable; the session is kept",
        *,
        retry_after: int,
        cause: AuthKitError | None = None,
    ) -> None:
        self.retry_after = retry_after
        self.cause = cause
        super().__init__(message)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
