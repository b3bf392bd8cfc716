"""The built wheel works on its own: ``python -m build`` makes a wheel of the checkout, which is installed with its
real dependencies (from the package index) into a clean venv; there, outside the checkout, a smoke script imports
the public names, finds ``py.typed``, and signs a user in to a tiny WSGI app through the emulator the wheel ships.

Slow (about a minute, mostly the install): ``pytest -m wheel`` runs it alone. It needs the package index (PyPI) that
CI's machine reaches; without it the test fails, it is never skipped.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SMOKE = r"""
import json, pathlib, sys
import authkit_core, authkit_adapters
from authkit_core import AuthKit, AuthKitConfig, UserInfo, Organization, BearerRequestError
from authkit_core.storage import CookieSessionStore, MemorySessionStore, SQLSessionStore
from authkit_adapters.wsgi import AuthKitWSGIMiddleware, with_auth
from authkit_core.testing import Emulator, EmulatorServer
from authkit_core.testing.browser import signed_in_cookies

assert "site-packages" in authkit_core.__file__, authkit_core.__file__  # the wheel, not the checkout
typed = [p for p in (pathlib.Path(authkit_core.__file__).parent, pathlib.Path(authkit_adapters.__file__).parent)
         if (p / "py.typed").is_file()]
assert len(typed) == 2, "py.typed missing"

def app(environ, start_response):
    info = with_auth()
    body = json.dumps({"email": info.user.email if isinstance(info, UserInfo) else None}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]

with EmulatorServer(Emulator()) as server:
    kit = AuthKit(server.config(redirect_uri="http://127.0.0.1:8000/callback"))
    wrapped = AuthKitWSGIMiddleware(app, authkit=kit)
    cookies = signed_in_cookies(kit, server, "alice@example.com")
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1:8000", "wsgi.url_scheme": "http",
               "HTTP_COOKIE": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    out = b"".join(wrapped(environ, lambda status, headers, exc_info=None: None))
    assert json.loads(out) == {"email": "alice@example.com"}, out
    kit.close()
print("wheel smoke ok")
"""


def run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.wheel
@pytest.mark.timeout(900)
def test_the_wheel_installs_and_works_in_a_clean_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--wheel", "--outdir", dist, ROOT, cwd=tmp_path)
    (wheel,) = dist.glob("authkit_session-*.whl")
    run(sys.executable, "-m", "venv", tmp_path / "venv", cwd=tmp_path)
    python = tmp_path / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", f"{wheel}[testing]", cwd=tmp_path)
    script = tmp_path / "smoke.py"
    script.write_text(SMOKE)
    assert "wheel smoke ok" in run(python, script, cwd=tmp_path)
