"""What the engine answers for one request: :class:`AuthResult` (the user, the session, the cookies to write, and
why a request is signed out), and :func:`log_fields`, the structured fields of every outcome's log record."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .cookies import SetCookie
from .errors import AuthKitError
from .models import NoUserInfo, Session, UserInfo
from .storage.base import LoadedSession

__all__ = ["AuthResult", "log_fields"]


def log_fields(event: str, code: str | None = None, transient: bool | None = None) -> dict[str, Any]:
    """The structured fields of an outcome's log record (``logger.warning(..., extra=log_fields(...))``), so a JSON
    log formatter sees them as attributes: ``authkit_event`` (``refreshed``, ``refresh_failed``,
    ``session_rejected``, ``storage_unavailable``, ``bearer_rejected``, ``sign_in_failed`` ...), ``authkit_code``
    (the error's stable code) and ``authkit_transient``. Never a user id, email, token or handle."""
    fields: dict[str, Any] = {"authkit_event": event}
    if code is not None:
        fields["authkit_code"] = code
    if transient is not None:
        fields["authkit_transient"] = transient
    return fields


#: Every signed-out answer shares this one (immutable) value.
_SIGNED_OUT = NoUserInfo()


@dataclass(slots=True)
class AuthResult:
    """The authentication state of one request, and the cookies its response must carry."""

    user_info: UserInfo | NoUserInfo
    loaded: LoadedSession | None = None
    cookies: list[SetCookie] = field(default_factory=list)
    #: The error met on the way (a transient refresh failure, a JWKS outage ...), if any.
    error: AuthKitError | None = None
    #: Whether the session was refreshed while handling this request.
    refreshed: bool = False
    #: Why the request is signed out although it carried a cookie (``invalid_seal``, ``token_expired`` ...).
    reason: str | None = None
    #: After a transient refresh failure (or one held back by the circuit breaker): in how many seconds the session
    #: may be refreshed again, when the breaker knows.
    retry_after: int | None = None
    #: Whether the request was authenticated by an ``Authorization: Bearer`` access token
    #: (:meth:`AuthKit.verify_bearer`) rather than a session: there is no session to refresh, switch or sign out.
    bearer: bool = False

    @property
    def session(self) -> Session | None:
        """The stored session, when signed in."""
        return None if self.loaded is None else self.loaded.session

    def add_cookies(self, cookies: Iterable[SetCookie]) -> None:
        """Add cookies to write; a later write of a cookie (a name in one scope: domain and path) replaces an
        earlier one."""
        new = list(cookies)
        scopes = {c.scope for c in new}
        self.cookies = [c for c in self.cookies if c.scope not in scopes] + new
