"""The ready-made sign-in, sign-up and sign-out endpoints for Starlette and FastAPI (see :mod:`._routes`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from . import asgi
from ._routes import SIGN_IN_PATH, SIGN_OUT_PATH, SIGN_UP_PATH, sign_in_location, sign_out_allowed

__all__ = ["authkit_mount", "authkit_routes", "sign_in", "sign_out", "sign_up"]


async def sign_in(request: Request) -> Response:
    """``GET /sign-in``: redirect to WorkOS's sign-in screen (query: ``return_to``, ``organization_id``,
    ``login_hint``)."""
    return RedirectResponse(sign_in_location(request, "sign-in", request.query_params), status_code=307)


async def sign_up(request: Request) -> Response:
    """``GET /sign-up``: like :func:`sign_in`, opening the sign-up screen."""
    return RedirectResponse(sign_in_location(request, "sign-up", request.query_params), status_code=307)


async def sign_out(request: Request) -> Response:
    """``POST /sign-out``: end the session and redirect to WorkOS's logout URL (then ``return_to``); 403 when
    another site made the request."""
    if sign_out_allowed(request) is None:
        return PlainTextResponse("Sign-out refused: the request did not come from this site.\n", status_code=403)
    location = await asgi.sign_out(return_to=request.query_params.get("return_to"), request=request)
    return RedirectResponse(location, status_code=303)


def authkit_routes(*, sign_out_get: bool = False) -> list[BaseRoute]:
    """The three routes (``GET /sign-in``, ``GET /sign-up``, ``POST /sign-out``; also ``GET /sign-out`` with
    ``sign_out_get``), to mount under a prefix."""
    methods = ["POST", "GET"] if sign_out_get else ["POST"]
    return [
        Route(SIGN_IN_PATH, sign_in, methods=["GET"], name="authkit_sign_in"),
        Route(SIGN_UP_PATH, sign_up, methods=["GET"], name="authkit_sign_up"),
        Route(SIGN_OUT_PATH, sign_out, methods=methods, name="authkit_sign_out"),
    ]


def authkit_mount(path: str = "/auth", *, sign_out_get: bool = False) -> Mount:
    """The routes mounted at ``path``, for ``Starlette(routes=[authkit_mount(), ...])`` or
    ``app.routes.append(authkit_mount())``."""
    return Mount(path, routes=authkit_routes(sign_out_get=sign_out_get), name="authkit")
