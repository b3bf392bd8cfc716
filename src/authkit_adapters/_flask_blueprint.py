"""The ready-made sign-in, sign-up and sign-out routes as a Flask blueprint (see :mod:`._routes`)."""

from __future__ import annotations

from flask import Blueprint, redirect, request
from werkzeug.wrappers import Response

from . import wsgi
from ._routes import SIGN_IN_PATH, SIGN_OUT_PATH, SIGN_UP_PATH, sign_in_location, sign_out_allowed

__all__ = ["authkit_blueprint"]


def _sign_in() -> Response:
    return redirect(sign_in_location(request, "sign-in", request.args), 307)


def _sign_up() -> Response:
    return redirect(sign_in_location(request, "sign-up", request.args), 307)


def _sign_out() -> Response | tuple[str, int]:
    if sign_out_allowed(request) is None:
        return "Sign-out refused: the request did not come from this site.\n", 403
    return redirect(wsgi.sign_out(return_to=request.args.get("return_to"), request=request), 303)


def authkit_blueprint(url_prefix: str = "/auth", *, sign_out_get: bool = False, name: str = "authkit") -> Blueprint:
    """A blueprint with ``GET <url_prefix>/sign-in``, ``GET <url_prefix>/sign-up`` and ``POST
    <url_prefix>/sign-out`` (also ``GET`` with ``sign_out_get``): ``app.register_blueprint(authkit_blueprint())``.
    Endpoints: ``authkit.sign_in``, ``authkit.sign_up``, ``authkit.sign_out`` (for ``url_for``)."""
    blueprint = Blueprint(name, __name__, url_prefix=url_prefix)
    blueprint.add_url_rule(SIGN_IN_PATH, "sign_in", _sign_in, methods=["GET"])
    blueprint.add_url_rule(SIGN_UP_PATH, "sign_up", _sign_up, methods=["GET"])
    methods = ["POST", "GET"] if sign_out_get else ["POST"]
    blueprint.add_url_rule(SIGN_OUT_PATH, "sign_out", _sign_out, methods=methods)
    return blueprint
