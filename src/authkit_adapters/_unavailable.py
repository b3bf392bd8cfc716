"""The answer to a request that requires sign-in while its session cannot be refreshed or verified right now.

When WorkOS (or the session store) cannot be reached, a session whose access token expired is kept but cannot
be used. Sending the browser to sign in would land it on an unreachable page, so a page that requires sign-in
gets a 503 with ``Retry-After`` instead: a short HTML page for a browser navigation ("sign-in is temporarily
unavailable; your session is kept"), a JSON error for anything else. No cookie is deleted.

:func:`unavailable_error` tells whether a request is in that state; :func:`unavailable_response` builds the
answer. ``RequestContext`` (``_core.py``) records it like the cross-site refusal, so the middleware sends it in
place of whatever the app answers.
"""

from __future__ import annotations

import html
import json
from urllib.parse import urlsplit

from authkit_core.engine import AuthKit, AuthResult
from authkit_core.errors import AuthKitError, TokenRefreshError, WorkOSAPIError
from authkit_core.models import UserInfo

from ._access import is_navigation
from ._types import RequestInfo, Response

__all__ = ["DEFAULT_RETRY_AFTER", "MESSAGE", "unavailable_error", "unavailable_host", "unavailable_response"]

#: ``Retry-After`` (seconds) when the engine does not know better (no circuit breaker, a storage outage).
DEFAULT_RETRY_AFTER = 5
#: What the page and the JSON error say.
MESSAGE = "Sign-in is temporarily unavailable; your session is kept. Try again in a moment."

_PAGE = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
    "<title>Sign-in temporarily unavailable</title></head>"
    "<body><h1>Sign-in is temporarily unavailable</h1>"
    "<p>Your session is kept. Try again in a moment.</p>"
    "<p>Error code: <code>{code}</code></p></body></html>\n"
)


def unavailable_error(auth: AuthResult) -> AuthKitError | None:
    """The transient error that leaves ``auth`` signed out although its session exists and is kept (a refresh or
    a verification that failed, or was held back, for a transient reason); ``None`` otherwise."""
    error = auth.error
    if error is None or not error.is_transient or auth.loaded is None or isinstance(auth.user_info, UserInfo):
        return None
    return error


def unavailable_host(kit: AuthKit, error: AuthKitError) -> str:
    """What could not be reached, for the log line: WorkOS's ``host[:port]``, or ``the session store``."""
    cause = error.cause if isinstance(error, TokenRefreshError) else error
    if isinstance(cause, WorkOSAPIError):
        return "WorkOS at " + urlsplit(kit.config.api_base_url).netloc
    return "the session store"


def unavailable_response(info: RequestInfo, error: AuthKitError, retry_after: int | None) -> Response:
    """The 503: the page for a browser navigation, the JSON error otherwise (``Retry-After`` on both)."""
    seconds = retry_after if retry_after is not None and retry_after > 0 else DEFAULT_RETRY_AFTER
    if is_navigation(info):
        body = _PAGE.format(code=html.escape(error.code)).encode("utf-8")
        kind = "text/html; charset=utf-8"
    else:
        payload = {"error": MESSAGE, "code": "sign_in_unavailable", "cause": error.code, "retry_after": seconds}
        body = json.dumps(payload).encode("utf-8")
        kind = "application/json"
    headers = [("Content-Type", kind), ("Content-Length", str(len(body))), ("Retry-After", str(seconds))]
    return Response(503, headers, body)
