"""What the ready-made sign-in, sign-up and sign-out routes do, once for every framework (the Starlette routes, the
FastAPI router, the Flask blueprint only turn the answers into their framework's responses; the middleware's
``auth_routes`` option serves them itself, on every face, through :mod:`authkit_adapters._endpoints`).

- ``GET <prefix>/sign-in`` and ``GET <prefix>/sign-up``: a redirect to WorkOS (the sign-in or sign-up screen).
  Query: ``return_to`` (where the callback sends the browser; checked by
  :func:`~authkit_core.redirects.safe_return_path` like every return path, so a foreign URL becomes ``/``),
  ``organization_id``, ``login_hint``. The sign-in state cookie is set by the middleware.
- ``POST <prefix>/sign-out`` (and ``GET`` when enabled): ends the session and redirects to WorkOS's logout URL, then
  to ``return_to`` (checked by the engine). Always CSRF-checked, whatever ``csrf_protect_sign_out`` says: a request
  another site made (:meth:`~authkit_adapters._middleware.MiddlewareCore.is_cross_site`) gets 403 and the session is
  kept. A plain GET without ``Sec-Fetch-Site`` or ``Origin`` (an old browser, a script) counts as cross-site.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from ._context import RequestContext, current_context
from ._types import CrossSiteRequestError, SignInUrlOptions

__all__ = ["SIGN_IN_PATH", "SIGN_OUT_PATH", "SIGN_UP_PATH", "sign_in_location", "sign_in_options", "sign_out_allowed"]

#: The routes' paths, under the prefix they are mounted at.
SIGN_IN_PATH = "/sign-in"
SIGN_UP_PATH = "/sign-up"
SIGN_OUT_PATH = "/sign-out"


def sign_in_options(query: Mapping[str, str]) -> SignInUrlOptions:
    """The sign-in options a ready-made route takes from its query: ``return_to``, ``organization_id``,
    ``login_hint``."""
    options: SignInUrlOptions = {}
    for name in ("return_to", "organization_id", "login_hint"):
        value = query.get(name)
        if value:
            options[name] = value
    return options


def sign_in_location(request: object, screen: Literal["sign-in", "sign-up"], query: Mapping[str, str]) -> str:
    """The WorkOS URL ``GET /sign-in`` (or ``/sign-up``) redirects to, from the request's query."""
    return current_context(request).sign_in_url_for(screen, sign_in_options(query))


def sign_out_allowed(request: object) -> RequestContext | None:
    """The request's context when it may sign out; ``None`` when it is cross-site (the 403 is then recorded, and
    the middleware sends it whatever the route answers)."""
    ctx = current_context(request)
    try:
        ctx.check_sign_out(always=True)
    except CrossSiteRequestError:
        return None
    return ctx
