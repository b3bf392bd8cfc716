"""The smallest complete Flask app: ``flask --app examples.minimal.flask_app run``."""

from flask import Flask

from authkit_adapters.flask import FlaskAuthKit, authkit_blueprint, current_user, login_required, permission_required

app = Flask(__name__)
FlaskAuthKit(app)  # the engine from WORKOS_*; serves the sign-in callback
app.register_blueprint(authkit_blueprint())  # GET /auth/sign-in, GET /auth/sign-up, POST /auth/sign-out


@app.get("/account")
@login_required
def account() -> dict[str, str]:
    return {"email": current_user.user.email}


@app.post("/posts")
@permission_required("posts:write")
def create_post() -> dict[str, bool]:
    return {"created": True}
