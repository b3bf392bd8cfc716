"""A minimal Flask app protected by authkit-session.

Run it against the local WorkOS emulator with the environment variables of README.md, from the repository
root: ``flask --app examples.flask_app.app:create_app run --port 8000``.
Then open http://127.0.0.1:8000/account and sign in as alice (an admin) or bob (a member).
"""

from __future__ import annotations

from typing import Any, Unpack

from flask import Flask, redirect, render_template_string

from authkit_adapters import AuthKitOptions
from authkit_adapters.flask import FlaskAuthKit, current_user, login_required, permission_required, role_required
from authkit_adapters.wsgi import get_sign_in_url, sign_out

HOME = """<!doctype html><title>Flask example</title>
{% if current_user.is_signed_in %}<p>Signed in as {{ current_user.user.email }}.</p>
<p><a href="/sign-out">Sign out</a></p>
{% else %}<p><a href="{{ sign_in_url }}">Sign in</a></p>{% endif %}
"""


def create_app(**options: Unpack[AuthKitOptions]) -> Flask:
    """The app; ``options`` go to the middleware (else ``app.config["AUTHKIT"]``, the engine from ``WORKOS_*``)."""
    app = Flask(__name__)
    FlaskAuthKit(app, **options)

    @app.get("/")
    def home() -> str:
        sign_in_url = None if current_user.is_signed_in else get_sign_in_url(return_to="/account")
        return render_template_string(HOME, sign_in_url=sign_in_url)

    @app.get("/account")
    @login_required
    def account() -> dict[str, Any]:
        return {"email": current_user.user.email, "role": current_user.role}

    @app.get("/editor")
    @permission_required("posts:write")
    def editor() -> dict[str, Any]:
        return {"editing_as": current_user.user.email}

    @app.get("/admin")
    @role_required("admin")
    def admin() -> dict[str, Any]:
        return {"admin": True}

    @app.get("/sign-out")
    def sign_out_route() -> Any:
        return redirect(sign_out(return_to="/"))

    return app
