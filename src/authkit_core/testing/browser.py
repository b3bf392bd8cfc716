"""A signed-in browser for your own app's tests, without driving the sign-in page.

The emulator signs a seeded user in (:meth:`Emulator.issue_session`, no browser involved) and the app's own engine
stores that session and seals its cookie (:meth:`AuthKit.save_session`), exactly as the sign-in callback would. So
the cookie opens in the app like a real one, in any store, and the tokens in it are refreshed, verified and
revoked by the emulator like any other.

- :func:`signed_in_cookies`: the cookies, as ``{name: value}``.
- :func:`force_login`: put them in a test client: an ``httpx.Client`` (and Starlette's or FastAPI's
  ``TestClient``, which is one), an ``httpx.AsyncClient``, Flask's test client or Django's test client
  (``Client``/``AsyncClient``), the way Django's ``client.force_login(user)`` does.

The pytest plugin wraps both as fixtures (``authkit_cookies``, ``authkit_force_login``). The engine must be the
one the app runs with (the same cookie password and store), pointed at the emulator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from authkit_core.engine import AuthKit, AuthResult
from authkit_core.models import AuthenticationResponse, NoUserInfo, UserInfo

if TYPE_CHECKING:
    from .emulator import Emulator
    from .server import EmulatorServer

__all__ = ["force_login", "set_client_cookies", "signed_in_cookies", "signed_in_session"]


def signed_in_session(
    kit: AuthKit,
    emulator: Emulator | EmulatorServer,
    user: str,
    *,
    organization_id: str | None = None,
) -> tuple[UserInfo, dict[str, str]]:
    """Sign ``user`` (a seeded user's id or email) in through the emulator and store the session with ``kit``:
    the resulting :class:`UserInfo` and the cookies (``{name: value}``) carrying it. ``organization_id`` defaults to
    the user's first membership."""
    from .server import EmulatorServer

    directory = emulator.emulator if isinstance(emulator, EmulatorServer) else emulator
    answer = directory.issue_session(user, organization_id=organization_id)
    result = AuthResult(NoUserInfo())
    kit.save_session(result, AuthenticationResponse.from_api(answer), {})
    info = result.user_info
    if not isinstance(info, UserInfo):  # pragma: no cover - save_session raises instead
        raise RuntimeError("the emulator's session could not be stored")
    return info, {cookie.name: cookie.value for cookie in result.cookies if not cookie.is_deletion}


def signed_in_cookies(
    kit: AuthKit,
    emulator: Emulator | EmulatorServer,
    user: str,
    *,
    organization_id: str | None = None,
) -> dict[str, str]:
    """The session cookies (``{name: value}``) of a browser in which ``user`` (a seeded user's id or email) has
    just signed in to the app running with ``kit``."""
    return signed_in_session(kit, emulator, user, organization_id=organization_id)[1]


def set_client_cookies(client: Any, cookies: Mapping[str, str]) -> None:
    """Put ``cookies`` in a test client's jar: httpx (Starlette's/FastAPI's ``TestClient``), Flask's test client
    or Django's test client. Any other object is given ``cookies.set(name, value)`` calls."""
    jar = getattr(client, "cookies", None)
    if jar is not None and hasattr(jar, "extract_cookies") and str(getattr(client, "base_url", "")):
        _receive_httpx_cookies(client, cookies)
        return
    for name, value in cookies.items():
        if hasattr(client, "set_cookie") and hasattr(client, "get_cookie"):  # Flask/Werkzeug's test client
            client.set_cookie(name, value)
        elif jar is not None and hasattr(jar, "set"):  # httpx without a base URL: sent to every host
            jar.set(name, value)
        elif jar is not None:  # Django's test client: a SimpleCookie
            jar[name] = value
        else:
            raise TypeError(f"cannot set cookies on {type(client).__name__}")


def _receive_httpx_cookies(client: Any, cookies: Mapping[str, str]) -> None:
    """Store ``cookies`` in an httpx client's jar as if its base URL had set them (host-only, path ``/``), so the
    app's later ``Set-Cookie`` (a refresh, a sign-out) replaces them as it would in a browser."""
    import importlib

    # httpx, or a package with its API (Starlette's TestClient may be built on ``httpx2``)
    http = importlib.import_module(type(client.cookies).__module__.partition(".")[0])
    request = http.Request("GET", client.base_url)
    headers = [("set-cookie", f"{name}={value}; Path=/") for name, value in cookies.items()]
    client.cookies.extract_cookies(http.Response(200, headers=headers, request=request))


def force_login(
    client: Any,
    kit: AuthKit,
    emulator: Emulator | EmulatorServer,
    user: str,
    *,
    organization_id: str | None = None,
) -> UserInfo:
    """Make ``client`` (a test client, see :func:`set_client_cookies`) a browser signed in as ``user`` (a seeded
    user's id or email) to the app running with ``kit``; returns the session's :class:`UserInfo`."""
    info, cookies = signed_in_session(kit, emulator, user, organization_id=organization_id)
    set_client_cookies(client, cookies)
    return info
