"""The :class:`Emulator` itself: its constructor, the ASGI entry point, routing and ``Idempotency-Key`` replay.

The endpoints and test controls live in one mixin per concern (``state``, ``keys``, ``sessions``, ``oauth``,
``management``, ``faults``); this class combines them and adds :meth:`Emulator.config` for apps under test.
"""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import anyio

from ...config import AuthKitConfig
from ..page import render_message_page
from ..seed import Seed
from .asgi import (
    _AUTHENTICATE,
    _MAX_BODY,
    Receive,
    Scope,
    Send,
    _api_error,
    _drop,
    _make_request,
    _oauth_error,
    _Request,
    _Response,
    _send,
)
from .faults import RecordedRequest, _FaultLog
from .keys import _pool_key, _SigningKey
from .management import _Management
from .oauth import _OAuth

__all__ = ["IDEMPOTENCY_TTL_SECONDS", "Emulator"]

#: How long a response is replayed for a repeated ``Idempotency-Key``.
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
_IDEMPOTENCY_MAX = 10_000


class Emulator(_OAuth, _Management, _FaultLog):
    """The local WorkOS API, as an ASGI 3 app (``await emu(scope, receive, send)``).

    ``seed`` is a :class:`~authkit_core.testing.seed.Seed`, its JSON shape as a mapping, or ``None`` for
    :meth:`Seed.default`; an invalid redirect or logout URI in it raises ``ValueError``. Serve it with
    :class:`~authkit_core.testing.server.EmulatorServer` (which sets :attr:`base_url`) or any ASGI server.
    """

    def __init__(
        self,
        seed: Seed | Mapping[str, Any] | None = None,
        *,
        client_id: str = "client_emulator",
        api_key: str = "sk_test_emulator",
        access_token_ttl: int = 300,
        issuer: str | None = None,
    ) -> None:
        if seed is None:
            seed = Seed.default()
        elif not isinstance(seed, Seed):
            seed = Seed.from_dict(seed)
        self._seed = copy.deepcopy(seed)
        self.client_id = client_id
        self.api_key = api_key
        self.access_token_ttl = access_token_ttl
        self._initial_ttl = access_token_ttl
        self._issuer = issuer
        self.base_url = None
        self._lock = threading.RLock()
        self._key_index = 0
        self._keys: list[_SigningKey] = [_SigningKey(*_pool_key(0))]
        self._init_redirects()
        self._reset_state()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI 3 entry point."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body.extend(message.get("body", b""))
            if len(body) > _MAX_BODY:
                await _send(send, _api_error(413, "payload_too_large", "Request body too large."))
                return
            if not message.get("more_body", False):
                break
        request = _make_request(scope, bytes(body))
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=request.query,
            json=request.params if request.params is not None else None,
            headers=request.headers,
            time=time.time(),
            body=request.body,
        )
        with self._lock:
            if self.base_url is None and scope.get("server"):
                host, port = scope["server"][0], scope["server"][1]
                self.base_url = f"{scope.get('scheme', 'http')}://{host}:{port}"
            self._requests.append(record)
            fault = self._take_fault(request.method, request.path)
        if fault is not None:
            record.faulted = True
            if fault.delay > 0:
                await anyio.sleep(fault.delay)
            if fault.drop_connection:
                await _drop(send)
                return
            if fault.status is not None:
                response = self._fault_response(fault)
                record.status = response.status
                await _send(send, response)
                return
        with self._lock:
            response = self._handle(request, record)
            record.status = response.status
        await _send(send, response)

    def _handle(self, request: _Request, record: RecordedRequest) -> _Response:
        method, path = request.method, request.path
        key = request.headers.get("idempotency-key")
        if method == "POST" and key:
            digest = hashlib.sha256(request.body).hexdigest()
            cache_key = (key, method, path, digest)
            now = time.time()
            while self._idempotent:
                oldest_key, (stored_at, _) = next(iter(self._idempotent.items()))
                if stored_at > now - IDEMPOTENCY_TTL_SECONDS and len(self._idempotent) <= _IDEMPOTENCY_MAX:
                    break
                del self._idempotent[oldest_key]
            stored = self._idempotent.get(cache_key)
            if stored is not None:
                record.replayed = True
                return stored[1]
            response = self._route(request)
            if response.status < 500:
                self._idempotent[cache_key] = (now, response)
            return response
        return self._route(request)

    def _route(self, request: _Request) -> _Response:
        method, path = request.method, request.path
        if request.params is None and method in ("POST", "PUT"):
            return _oauth_error(400, "invalid_request", "The request body is not valid JSON or form data.")
        routes: dict[str, dict[str, Callable[[_Request], _Response]]] = {
            "/user_management/authorize": {"GET": self._authorize},
            "/user_management/authorize/complete": {"GET": self._authorize_complete},
            _AUTHENTICATE: {"POST": self._authenticate},
            "/user_management/sessions/logout": {"GET": self._logout},
            "/user_management/sessions/revoke": {"POST": self._revoke},
            "/api_keys/validations": {"POST": self._validate_api_key},
            "/user_management/organization_memberships": {"GET": self._list_memberships},
            "/": {"GET": self._index},
        }
        handlers = routes.get(path)
        if handlers is None:
            if path.startswith("/sso/jwks/"):
                handlers = {"GET": self._jwks}
            elif path.startswith("/user_management/organization_memberships/"):
                handlers = {"GET": self._get_membership, "PUT": self._update_membership}
            elif path.startswith("/user_management/users/"):
                handlers = {"GET": self._get_user}
            elif path.startswith("/organizations/"):
                handlers = {"GET": self._get_organization}
            else:
                return _api_error(404, "not_found", f"No route for {path}.")
        handler = handlers.get(method)
        if handler is None:
            return _api_error(405, "method_not_allowed", f"{method} is not allowed on {path}.")
        return handler(request)

    def _index(self, request: _Request) -> _Response:
        return _Response.html(200, render_message_page("WorkOS emulator", f"Client {self.client_id}."))

    def config(self, **overrides: Any) -> AuthKitConfig:
        """An :class:`~authkit_core.config.AuthKitConfig` pointing at this emulator (once served), with a test
        cookie password and redirect URI ``http://127.0.0.1:8000/callback``; ``overrides`` win.

        The configuration's redirect URI is registered (:meth:`register_redirect_uri`), and every page of its site
        as a logout URI (``<scheme>://<host>:<port>/*``), so an app under test on a random port signs in and out
        without more setup, while a browser sent to another host or port is still refused.
        """
        if self.base_url is None:
            raise RuntimeError("the emulator is not served yet (start an EmulatorServer first)")
        parts = urlsplit(self.base_url)
        kwargs: dict[str, Any] = {
            "client_id": self.client_id,
            "api_key": self.api_key,
            "redirect_uri": "http://127.0.0.1:8000/callback",
            "cookie_password": "emulator-test-cookie-password-0123456789abcdef",
            "api_hostname": parts.hostname or "127.0.0.1",
            "api_https": parts.scheme == "https",
            "api_port": parts.port,
        }
        kwargs.update(overrides)
        config = AuthKitConfig(**kwargs)
        self._register_site(config.redirect_uri)
        return config
