"""The middleware's warm path: a repeated request with the same session cookie, answered from the engine's memory.

It must behave exactly like the full path (same user, same headers), build the request's details only when the
app asks for them, and leave nothing for the garbage collector: a context that referred back to the scope or
environ holding it would make every request a reference cycle.
"""

from __future__ import annotations

import asyncio
import gc
import io
import sys
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from authkit_adapters import _core
from authkit_adapters import asgi as authkit
from authkit_adapters import wsgi as authkit_sync
from authkit_adapters._scope_user import ScopeAuth, ScopeUser
from authkit_core.cache import BoundedCache
from authkit_core.engine import AuthKit, AuthResult
from authkit_core.models import AuthenticationResponse, NoUserInfo, UserInfo
from authkit_core.signin import NO_STORE_CACHE_CONTROL
from authkit_core.storage import CookieSessionStore
from authkit_core.testing import EmulatorServer


@pytest.fixture
def kit(workos_emulator_server: EmulatorServer) -> Iterator[AuthKit]:
    workos_emulator_server.emulator.reset()
    kit = AuthKit(workos_emulator_server.config(), store=CookieSessionStore())
    yield kit
    kit.close()


def cookie_header(kit: AuthKit, emulator_server: EmulatorServer) -> str:
    result = AuthResult(NoUserInfo())
    response = emulator_server.emulator.issue_session("user_alice")
    kit.save_session(result, AuthenticationResponse.from_api(response), {})
    return "; ".join(f"{c.name}={c.value}" for c in result.cookies if not c.is_deletion)


def scope(cookie: str, path: str = "/page") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"x=1",
        "headers": [(b"host", b"app.test"), (b"user-agent", b"pytest"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 5000),
    }


def environ(cookie: str, path: str = "/page") -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "x=1",
        "HTTP_HOST": "app.test",
        "HTTP_USER_AGENT": "pytest",
        "HTTP_COOKIE": cookie,
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
    }


def run_asgi(app: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(request, receive, send))
    return sent


def test_asgi_warm_request_sees_the_user_and_leaves_no_cycle(
    kit: AuthKit, workos_emulator_server: EmulatorServer
) -> None:
    cookie = cookie_header(kit, workos_emulator_server)
    seen: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        info = await authkit.with_auth(ensure_signed_in=True)
        seen.append((info, weakref.ref(scope[_core.CONTEXT_KEY])))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = authkit.AuthKitMiddleware(app, authkit=kit)
    first = run_asgi(middleware, scope(cookie))  # authenticates: the next one is warm
    assert kit.peek(authkit.request_info(scope(cookie)).cookies) is not None
    gc.disable()
    try:
        warm = run_asgi(middleware, scope(cookie))
        assert seen[1][1]() is None, "the request context outlived its request (a reference cycle)"
    finally:
        gc.enable()
    assert [m["status"] for m in (first[0], warm[0])] == [200, 200]
    assert dict(warm[0]["headers"]) == dict(first[0]["headers"])
    assert dict(warm[0]["headers"])[b"cache-control"] == NO_STORE_CACHE_CONTROL.encode()
    assert all(isinstance(info, UserInfo) and info.user.email == "alice@example.com" for info, _ in seen)


def test_wsgi_warm_request_sees_the_user_and_leaves_no_cycle(
    kit: AuthKit, workos_emulator_server: EmulatorServer
) -> None:
    cookie = cookie_header(kit, workos_emulator_server)
    seen: list[Any] = []
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        info = authkit_sync.with_auth(ensure_signed_in=True)
        seen.append((info, weakref.ref(environ[_core.CONTEXT_KEY])))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, headers))
        return lambda data: None

    def request() -> None:
        body = middleware(environ(cookie), start_response)
        assert b"".join(body) == b"ok"
        body.close()  # type: ignore[attr-defined]

    middleware = authkit_sync.AuthKitWSGIMiddleware(app, authkit=kit)
    request()
    gc.disable()
    try:
        request()
        assert seen[1][1]() is None, "the request context outlived its request (a reference cycle)"
    finally:
        gc.enable()
    assert [s for s, _ in started] == ["200 OK", "200 OK"]
    assert dict(started[1][1]) == dict(started[0][1])
    assert all(isinstance(info, UserInfo) and info.user.email == "alice@example.com" for info, _ in seen)


def test_warm_request_builds_its_details_when_the_app_asks(
    kit: AuthKit, workos_emulator_server: EmulatorServer
) -> None:
    cookie = cookie_header(kit, workos_emulator_server)
    details: list[_core.RequestInfo] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        details.append(_core.current_context().info)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = authkit.AuthKitMiddleware(app, authkit=kit)
    run_asgi(middleware, scope(cookie))
    request = scope(cookie)
    run_asgi(middleware, request)
    warm = details[1]
    assert (warm.method, warm.path, warm.target, warm.client_ip) == ("GET", "/page", "/page?x=1", "127.0.0.1")
    assert warm.user_agent == "pytest" and warm.cookies == details[0].cookies
    assert _core.CONTEXT_KEY not in warm.headers and request[_core.CONTEXT_KEY].info is warm


def test_asgi_warm_request_fills_scope_user_lazily(kit: AuthKit, workos_emulator_server: EmulatorServer) -> None:
    """``scope["user"]``/``scope["auth"]``: two small objects per request that read nothing until used (and then mark
    the response session-dependent), and hold no reference back to the scope."""
    cookie = cookie_header(kit, workos_emulator_server)
    seen: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        ctx = scope[_core.CONTEXT_KEY]
        untouched = not ctx.used
        user, auth = scope["user"], scope["auth"]
        seen.append((untouched, user.is_authenticated, ctx.used, auth.scopes[0], weakref.ref(ctx)))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = authkit.AuthKitMiddleware(app, authkit=kit)
    run_asgi(middleware, scope(cookie))
    gc.disable()
    try:
        run_asgi(middleware, scope(cookie))
        assert seen[1][4]() is None, "the request context outlived its request (a reference cycle)"
    finally:
        gc.enable()
    assert [entry[:4] for entry in seen] == [(True, True, True, "authenticated")] * 2


def test_asgi_hot_requests_behave_like_the_full_path(kit: AuthKit, workos_emulator_server: EmulatorServer) -> None:
    """A request the engine answers from its header cache (``AuthKit.peek_header``) gets a context that builds its
    result only when asked: a refresh, a sign-in link, the app's own headers and a sign-out inside it come out as on
    the full path, and a signed-out header is never answered from memory again."""
    cookie = cookie_header(kit, workos_emulator_server)
    name = kit.config.cookie_name
    hot: list[bool] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        hot.append(scope[_core.CONTEXT_KEY]._warm is not None)
        headers: list[tuple[bytes, bytes]] = [(b"content-type", b"text/plain")]
        if scope["path"] == "/refresh":
            info = await authkit.refresh_session()
            assert isinstance(info, UserInfo) and scope["user"].authkit is info
        elif scope["path"] == "/link":
            assert (await authkit.get_sign_in_url()).startswith(workos_emulator_server.base_url)
        elif scope["path"] == "/own-headers":
            headers += [(b"Set-Cookie", b"theme=dark; Path=/"), (b"Cache-Control", b"max-age=60")]
        elif scope["path"] == "/sign-out":
            await authkit.sign_out()
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    def set_cookies(messages: list[dict[str, Any]]) -> list[str]:
        return [v.decode() for k, v in messages[0]["headers"] if k.lower() == b"set-cookie"]

    middleware = authkit.AuthKitMiddleware(app, authkit=kit)
    # the first request takes the full path; the header is answered from memory from then on
    paths = ("/page", "/refresh", "/link", "/own-headers", "/sign-out")

    async def requests() -> list[list[dict[str, Any]]]:  # one event loop: the engine's HTTP client lives in it
        answers = []
        for path in paths:
            sent: list[dict[str, Any]] = []

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
                sent.append(message)

            await middleware(scope(cookie, path), receive, send)
            answers.append(sent)
            if path == "/page":
                assert kit.peek_header(cookie.encode()) is not None
        await kit.aclose()
        return answers

    answers = dict(zip(paths, asyncio.run(requests()), strict=True))
    refreshed = set_cookies(answers["/refresh"])
    assert workos_emulator_server.emulator.grant_count("refresh_token") == 1
    assert len(refreshed) == 1 and refreshed[0].startswith(f"{name}=") and cookie not in refreshed[0]

    linked = set_cookies(answers["/link"])
    assert len(linked) == 1 and not linked[0].startswith(f"{name}=")  # the sign-in's state cookie only

    own = answers["/own-headers"][0]["headers"]
    assert [v for k, v in own if k.lower() == b"set-cookie"] == [b"theme=dark; Path=/"]
    assert [v for k, v in own if k.lower() == b"cache-control"] == [NO_STORE_CACHE_CONTROL.encode()]

    signed_out = answers["/sign-out"]
    assert signed_out[0]["status"] in (302, 303, 307)
    assert any(c.startswith(f"{name}=;") and "Max-Age=0" in c for c in set_cookies(signed_out))
    assert kit.peek_header(cookie.encode()) is None
    assert hot == [False, True, True, True, True]


def test_the_shells_inlined_warm_context_is_what_request_context_warm_makes(
    kit: AuthKit, workos_emulator_server: EmulatorServer
) -> None:
    """The ASGI shell makes its hot-path context and scope objects without calling their constructors (a call costs
    more than the stores inside a server): they must stay exactly what ``RequestContext.warm`` and
    ``ScopeUser(ctx)``/``ScopeAuth(ctx)`` make."""
    cookie = cookie_header(kit, workos_emulator_server)
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(dict(scope))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = authkit.AuthKitMiddleware(app, authkit=kit)
    run_asgi(middleware, scope(cookie))
    run_asgi(middleware, scope(cookie))
    hot = seen[1]
    ctx = hot[_core.CONTEXT_KEY]
    assert ctx._warm is not None, "the second request was not answered on the hot path"
    made = _core.RequestContext.warm(middleware, ctx._make_info, ctx._warm)
    built = {name: value for name, value in vars(ctx).items() if name != "started"}  # "started": the response's
    assert type(ctx) is type(made) and built.keys() == vars(made).keys()
    assert all(getattr(ctx, name) is getattr(made, name) for name in vars(made))
    user, auth = hot["user"], hot["auth"]
    assert type(user) is ScopeUser and type(auth) is ScopeAuth and user._ctx is ctx and auth._ctx is ctx
    assert user.is_authenticated and auth.scopes[0] == "authenticated"


def test_wsgi_hot_requests_behave_like_the_full_path(
    kit: AuthKit, workos_emulator_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The WSGI shell answers a repeated ``Cookie`` header through ``AuthKit.peek_header`` too (in
    ``begin_warm``): a refresh, a sign-in link, the app's own headers and a sign-out come out as on the full path,
    and a hot request writes nothing to the header cache (it is written once, when the header first missed)."""
    cookie = cookie_header(kit, workos_emulator_server)
    name = kit.config.cookie_name
    hot: list[bool] = []
    writes: list[object] = []
    put = BoundedCache.put

    def counted_put(cache: BoundedCache[Any, Any], key: Any, *args: Any) -> bool:
        if cache is kit._warm_headers:
            writes.append(key)
        return put(cache, key, *args)

    monkeypatch.setattr(BoundedCache, "put", counted_put)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        hot.append(environ[_core.CONTEXT_KEY]._warm is not None)
        headers = [("Content-Type", "text/plain")]
        if environ["PATH_INFO"] == "/refresh":
            info = authkit_sync.refresh_session()
            assert isinstance(info, UserInfo) and info.user.email == "alice@example.com"
        elif environ["PATH_INFO"] == "/link":
            assert authkit_sync.get_sign_in_url().startswith(workos_emulator_server.base_url)
        elif environ["PATH_INFO"] == "/own-headers":
            headers += [("Set-Cookie", "theme=dark; Path=/"), ("Cache-Control", "max-age=60")]
        elif environ["PATH_INFO"] == "/sign-out":
            authkit_sync.sign_out()
        start_response("200 OK", headers)
        return [b"ok"]

    middleware = authkit_sync.AuthKitWSGIMiddleware(app, authkit=kit)
    answers: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for path in ("/page", "/again", "/refresh", "/link", "/own-headers", "/sign-out"):
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started.append((status, headers))  # noqa: B023 (called before the loop moves on)
            return lambda data: None

        body = middleware(environ(cookie, path), start_response)
        b"".join(body)
        body.close()  # type: ignore[attr-defined]
        answers[path] = started[-1]
        if path == "/page":
            assert kit.peek_header(cookie) is not None and len(writes) == 1
        if path == "/again":
            assert len(writes) == 1, "a hot request wrote to the header cache"

    def set_cookies(path: str) -> list[str]:
        return [v for k, v in answers[path][1] if k.lower() == "set-cookie"]

    assert hot == [False, True, True, True, True, True]
    assert dict(answers["/again"][1]) == dict(answers["/page"][1])
    refreshed = set_cookies("/refresh")
    assert workos_emulator_server.emulator.grant_count("refresh_token") == 1
    assert len(refreshed) == 1 and refreshed[0].startswith(f"{name}=") and cookie not in refreshed[0]
    linked = set_cookies("/link")
    assert len(linked) == 1 and not linked[0].startswith(f"{name}=")
    own = answers["/own-headers"][1]
    assert [v for k, v in own if k.lower() == "set-cookie"] == ["theme=dark; Path=/"]
    assert [v for k, v in own if k.lower() == "cache-control"] == [NO_STORE_CACHE_CONTROL]
    assert answers["/sign-out"][0].startswith(("302", "303", "307"))
    assert any(c.startswith(f"{name}=;") and "Max-Age=0" in c for c in set_cookies("/sign-out"))
    assert kit.peek_header(cookie) is None
