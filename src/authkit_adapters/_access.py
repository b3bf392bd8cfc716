"""The one decision behind every framework helper: may this request go on, and if not, what does it get?

:func:`authorize` answers for the Starlette/FastAPI dependencies, the Flask decorators and the Django decorators
alike; each of those only turns a :class:`Denial` into its framework's native answer (an ``HTTPException``,
``abort``, ``PermissionDenied`` ...). It asks nothing new of the session: it calls ``with_auth`` on the request's
context, and a sign-in redirect is the one the middleware already records and sends.

The rule, the same in every framework:

- signed out, and the request is a browser navigation (:func:`authkit_core.signin.is_navigation`:
  ``Sec-Fetch-Mode: navigate``, else an ``Accept`` that names ``text/html`` ...): a redirect to sign-in that comes
  back here (307, or 303 after a POST);
- signed out otherwise (``fetch``, an API client): 401;
- signed out only because the session could not be refreshed or verified now (WorkOS or the store unreachable):
  503 with ``Retry-After``, a page for a navigation and a JSON error otherwise, the session kept;
- signed in without every permission asked for, or with none of the roles asked for: 403.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from authkit_core.errors import SignInRequiredError, SignInUnavailableError
from authkit_core.models import UserInfo
from authkit_core.signin import is_navigation as navigation

from ._context import current_context
from ._types import RequestInfo

__all__ = ["Denial", "authorize", "is_navigation"]


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a request may not go on: the status to answer with, a short message, and for a sign-in redirect the
    ``Location`` (the middleware sends that redirect, with its state cookie, whatever the framework answers)."""

    status: int
    message: str
    location: str | None = None
    #: ``Retry-After`` seconds of a 503 (the middleware sends its own 503 with it, whatever the framework answers).
    retry_after: int | None = None


def is_navigation(info: RequestInfo) -> bool:
    """Whether a browser is loading a page (so a sign-in redirect makes sense) rather than a script or API client
    fetching data (which gets a 401 it can act on): :func:`authkit_core.signin.is_navigation`, the rule the
    middleware's own sign-in redirects follow."""
    return navigation(info.headers)


def authorize(request: object, *, permissions: Sequence[str] = (), roles: Sequence[str] = ()) -> UserInfo | Denial:
    """The signed-in user of ``request`` when they hold every one of ``permissions`` and (when ``roles`` is given)
    at least one of ``roles``; else the :class:`Denial` to answer with (see the module's rule)."""
    ctx = current_context(request)
    try:
        ctx.used = True
        if not isinstance(ctx.auth.user_info, UserInfo):
            ctx.refuse_if_unavailable()
        user = ctx.with_auth(ensure_signed_in=is_navigation(ctx.info))
    except SignInUnavailableError as exc:
        return Denial(503, "Sign-in is temporarily unavailable; your session is kept.", retry_after=exc.retry_after)
    except SignInRequiredError:
        assert ctx.redirect is not None  # recorded by with_auth before raising
        location, status = ctx.redirect
        return Denial(status, "Sign-in required.", location)
    if not isinstance(user, UserInfo):
        return Denial(401, "Sign-in required.")
    missing = [name for name in permissions if name not in (user.permissions or ())]
    if missing:
        return Denial(403, "Missing permission: " + ", ".join(missing) + ".")
    held = {user.role, *(user.roles or ())}
    if roles and not held.intersection(roles):
        return Denial(403, "Requires one of the roles: " + ", ".join(roles) + ".")
    return user
