"""The endpoints the middleware serves itself, as one table (path -> :class:`Endpoint`), shared by every face (ASGI,
WSGI, Django): the sign-in callback, and, opt-in (``access_token_endpoints``), the two JSON endpoints browser code
uses to call APIs with the signed-in user's access token (authkit-nextjs's ``useAccessToken``,
``getAccessTokenAction`` and ``refreshAccessTokenAction``):

- ``POST <prefix>/user``: the signed-in user's public information (:func:`user_json`): never a token, a refresh
  token or the session handle;
- ``POST <prefix>/access-token``: ``{"access_token": ..., "expires_at": <exp>}``, refreshed first when it is due
  (the request's authentication refreshes it, once for concurrent requests and across processes, as for any
  request); ``?refresh=true`` refreshes it now (``refreshAccessTokenAction``). The refreshed session cookie is
  written on that response.

Both are same-origin only: POST (a cross-site form cannot read the answer, and a cross-site ``fetch`` would need
CORS, which is never granted), refused with 403 when the request's ``Sec-Fetch-Site`` or ``Origin`` show another
site (:meth:`MiddlewareCore.is_cross_site`); any other method gets 405. Answers carry
``Cache-Control: no-store``; a signed-out request gets ``401 {"error": "sign_in_required"}``, a session that cannot
be refreshed now (WorkOS unreachable) a 503 with ``Retry-After``. See ``docs/api-auth.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from authkit_core.flow import Flow
from authkit_core.models import UserInfo
from authkit_core.tokens import get_token_claims

from ._context import RequestContext
from ._effects import engine_call
from ._routes import SIGN_IN_PATH, SIGN_OUT_PATH, SIGN_UP_PATH, sign_in_options
from ._types import CrossSiteRequestError, Response

if TYPE_CHECKING:
    from ._middleware import MiddlewareCore

__all__ = ["ACCESS_TOKEN_PATH", "DEFAULT_PREFIX", "USER_PATH", "Endpoint", "endpoint_table", "user_json"]

#: Where the JSON endpoints are served unless ``access_token_endpoints`` names another prefix.
DEFAULT_PREFIX = "/auth"
#: The JSON endpoints' paths, under the prefix.
USER_PATH = "/user"
ACCESS_TOKEN_PATH = "/access-token"  # noqa: S105 - a path, not a secret


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One path the middleware answers itself: ``flow(ctx)`` makes the response. ``authenticated``: it runs after
    the request's session was authenticated (and refreshed when due); the callback runs before (it makes one)."""

    flow: Callable[[RequestContext], Flow[Response]]
    authenticated: bool = True


def endpoint_table(core: MiddlewareCore, prefix: str | None, routes_prefix: str | None = None) -> dict[str, Endpoint]:
    """The middleware's endpoints: the callback, the JSON endpoints under ``prefix`` and the ready-made sign-in,
    sign-up and sign-out routes under ``routes_prefix`` (each when given)."""
    table = {core.callback_path: Endpoint(core._callback_flow, authenticated=False)}
    if prefix is not None:
        table[prefix + USER_PATH] = Endpoint(_user_flow)
        table[prefix + ACCESS_TOKEN_PATH] = Endpoint(_access_token_flow)
    if routes_prefix is not None:
        table[routes_prefix + SIGN_IN_PATH] = Endpoint(_sign_in_flow)
        table[routes_prefix + SIGN_UP_PATH] = Endpoint(_sign_up_flow)
        table[routes_prefix + SIGN_OUT_PATH] = Endpoint(_sign_out_flow)
    return table


def user_json(info: UserInfo) -> dict[str, Any]:
    """What browser code may know about the signed-in user: the profile, the organization and what the access
    token grants. No token of any kind."""
    user = info.user
    return {
        "user": {
            "id": user.id,
            "email": user.email,
            "email_verified": user.email_verified,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "profile_picture_url": user.profile_picture_url,
        },
        "session_id": info.session_id,
        "organization_id": info.organization_id,
        "role": info.role,
        "roles": list(info.roles) if info.roles is not None else None,
        "permissions": list(info.permissions) if info.permissions is not None else None,
        "entitlements": list(info.entitlements) if info.entitlements is not None else None,
        "feature_flags": list(info.feature_flags) if info.feature_flags is not None else None,
        "impersonator": info.impersonator.to_json() if info.impersonator is not None else None,
    }


def _json(ctx: RequestContext, status: int, payload: dict[str, Any], extra: Sequence[tuple[str, str]] = ()) -> Response:
    body = json.dumps(payload).encode("utf-8")
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *extra]
    return Response(status, ctx.decorate(headers, force_cache_headers=True), body)


def _refusal(ctx: RequestContext) -> Response | None:
    """405 for a method other than POST, 403 for a request another site made; else ``None``."""
    ctx.used = True
    if ctx.info.method.upper() != "POST":
        return _json(ctx, 405, {"error": "method_not_allowed"}, [("Allow", "POST")])
    if ctx.core.is_cross_site(ctx.info):
        ctx.core.log("%s refused: cross-site request", ctx.info.path)
        return _json(ctx, 403, {"error": "cross_site_request"})
    return None


def _signed_out(ctx: RequestContext) -> Response:
    unavailable = ctx.unavailable_response()
    if unavailable is not None:
        return unavailable
    return _json(ctx, 401, {"error": "sign_in_required"})


def _user_flow(ctx: RequestContext) -> Flow[Response]:
    yield from ()  # a flow like every endpoint, though this one needs no I/O
    refused = _refusal(ctx)
    if refused is not None:
        return refused
    info = ctx.auth.user_info
    return _json(ctx, 200, user_json(info)) if isinstance(info, UserInfo) else _signed_out(ctx)


def _access_token_flow(ctx: RequestContext) -> Flow[Response]:
    refused = _refusal(ctx)
    if refused is not None:
        return refused
    if ctx.info.query.get("refresh", "").lower() in ("1", "true") and ctx.auth.loaded is not None:
        yield engine_call(ctx.kit, "refresh", ctx.auth, ctx.cookies)
    info = ctx.auth.user_info
    if not isinstance(info, UserInfo):
        return _signed_out(ctx)
    exp = get_token_claims(info.access_token).get("exp")
    return _json(ctx, 200, {"access_token": info.access_token, "expires_at": exp})


# --- the ready-made routes, served by the middleware itself (``auth_routes``; see ``_routes.py``) -------------------


def _method_not_allowed(ctx: RequestContext, allowed: str) -> Response:
    body = b"Method not allowed.\n"
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), ("Allow", allowed)]
    return Response(405, ctx.decorate(headers, force_cache_headers=True), body)


def _screen_flow(ctx: RequestContext, screen: Literal["sign-in", "sign-up"]) -> Flow[Response]:
    yield from ()  # a flow like every endpoint, though this one needs no I/O
    if ctx.info.method.upper() not in ("GET", "HEAD"):
        return _method_not_allowed(ctx, "GET, HEAD")
    ctx.redirect_to(ctx.sign_in_url_for(screen, sign_in_options(ctx.info.query)), provider=True)
    return ctx.pending_response() or Response(500, [])


def _sign_in_flow(ctx: RequestContext) -> Flow[Response]:
    return (yield from _screen_flow(ctx, "sign-in"))


def _sign_up_flow(ctx: RequestContext) -> Flow[Response]:
    return (yield from _screen_flow(ctx, "sign-up"))


def _sign_out_flow(ctx: RequestContext) -> Flow[Response]:
    if ctx.info.method.upper() != "POST":
        return _method_not_allowed(ctx, "POST")
    try:
        ctx.check_sign_out(always=True)
    except CrossSiteRequestError:
        return ctx.pending_response() or Response(403, [])
    return_to = ctx.info.query.get("return_to")
    url = yield engine_call(ctx.kit, "sign_out", ctx.auth, ctx.cookies, return_to=return_to)
    ctx.after_sign_out(url, return_to)
    return ctx.pending_response() or Response(500, [])
