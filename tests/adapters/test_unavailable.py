"""The 503 of a request that requires sign-in while its kept session cannot be refreshed (issue item 8), decided
without I/O: ``with_auth(ensure_signed_in=True)``, the framework helpers' ``authorize`` and the ``middleware_auth``
gate, on a request context whose engine result is "signed out, session kept, transient error"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import pytest

from authkit_adapters import _core
from authkit_adapters._access import Denial, authorize
from authkit_adapters._core import MiddlewareCore, RequestContext, RequestInfo
from authkit_core import AuthKitConfig, NoUserInfo, ProviderBackoffError, SignInUnavailableError, TokenRefreshError
from authkit_core.engine import AuthKit, AuthResult
from authkit_core.errors import SignInRequiredError
from authkit_core.storage.base import LoadedSession

PAGE = {"accept": "text/html", "sec-fetch-mode": "navigate"}
API = {"accept": "application/json"}


@pytest.fixture
def core() -> MiddlewareCore:
    config = AuthKitConfig(
        client_id="client_test",
        api_key="sk_test",
        redirect_uri="http://127.0.0.1:8000/callback",
        cookie_password="unavailable-test-cookie-password-0123456789",
    )
    return MiddlewareCore(authkit=AuthKit(config), middleware_auth=True)


def kept_but_unusable(retry_after: int | None = 7) -> AuthResult:
    """Signed out, the session kept, a transient refresh error (held back by the breaker)."""
    held = ProviderBackoffError("held back", retry_after=retry_after or 1)
    error = TokenRefreshError.wrap(held)
    return AuthResult(NoUserInfo(), loaded=cast(LoadedSession, object()), error=error, retry_after=retry_after)


@pytest.fixture
def context(core: MiddlewareCore, request: pytest.FixtureRequest) -> Iterator[RequestContext]:
    headers, auth = request.param
    info = RequestInfo("GET", "/account", "/account", "x=1", headers, {})
    ctx = RequestContext(core, info, auth=auth)
    token = _core.enter_context(ctx)
    yield ctx
    _core.leave_context(token)


def _body(ctx: RequestContext) -> tuple[int, dict[str, str], bytes]:
    response = ctx.pending_response()
    assert response is not None
    return response.status, dict(response.headers), response.body


@pytest.mark.parametrize("context", [(PAGE, kept_but_unusable())], indirect=True)
def test_with_auth_ensure_signed_in_on_a_page_gets_the_503_page(context: RequestContext) -> None:
    with pytest.raises(SignInUnavailableError) as caught:
        context.with_auth(ensure_signed_in=True)
    assert caught.value.retry_after == 7 and caught.value.is_transient
    status, headers, body = _body(context)
    assert status == 503 and headers["Retry-After"] == "7"
    assert headers["Content-Type"].startswith("text/html")
    assert b"Sign-in is temporarily unavailable" in body and b"session is kept" in body
    assert "Location" not in headers and context.redirect is None
    assert not any(name == "Set-Cookie" for name in headers)  # nothing deleted
    assert context.swallows(caught.value)  # the middleware sends the 503 in place of the app's error


@pytest.mark.parametrize("context", [(API, kept_but_unusable(None))], indirect=True)
def test_an_api_request_gets_a_json_503_with_a_default_retry_after(context: RequestContext) -> None:
    with pytest.raises(SignInUnavailableError):
        context.with_auth(ensure_signed_in=True)
    status, headers, body = _body(context)
    assert status == 503 and headers["Retry-After"] == "5"
    answer: dict[str, Any] = json.loads(body)
    assert answer["code"] == "sign_in_unavailable" and answer["cause"] == "provider_unavailable"
    assert "temporarily unavailable" in answer["error"]


@pytest.mark.parametrize("context", [(PAGE, kept_but_unusable())], indirect=True)
def test_refresh_session_with_ensure_signed_in_gets_the_503(context: RequestContext) -> None:
    with pytest.raises(SignInUnavailableError):
        context.after_refresh(True)
    assert _body(context)[0] == 503


@pytest.mark.parametrize("context", [(PAGE, kept_but_unusable())], indirect=True)
def test_refresh_session_without_ensure_signed_in_raises_the_refresh_error(context: RequestContext) -> None:
    with pytest.raises(TokenRefreshError) as caught:
        context.after_refresh(False)
    assert caught.value.code == "provider_unavailable" and context.pending_response() is None


@pytest.mark.parametrize("context", [(PAGE, kept_but_unusable()), (API, kept_but_unusable())], indirect=True)
def test_framework_helpers_deny_with_503(context: RequestContext) -> None:
    denial = authorize(None)
    assert isinstance(denial, Denial) and denial.status == 503 and denial.retry_after == 7
    assert _body(context)[0] == 503


@pytest.mark.parametrize("context", [(PAGE, kept_but_unusable())], indirect=True)
def test_the_middleware_auth_gate_answers_503(core: MiddlewareCore, context: RequestContext) -> None:
    response = core.gate(context)
    assert response is not None and response.status == 503


@pytest.mark.parametrize(
    "context",
    [
        (PAGE, AuthResult(NoUserInfo())),  # no session at all
        (PAGE, AuthResult(NoUserInfo(), loaded=cast(LoadedSession, object()), reason="token_expired")),  # no error
        (
            PAGE,
            AuthResult(  # a terminal error: the session ended
                NoUserInfo(), error=TokenRefreshError("refused", code="invalid_grant"), reason="invalid_grant"
            ),
        ),
    ],
    indirect=True,
)
def test_without_a_kept_session_it_is_still_the_sign_in_redirect(context: RequestContext) -> None:
    with pytest.raises(SignInRequiredError):
        context.with_auth(ensure_signed_in=True)
    status, headers, _ = _body(context)
    assert status == 307 and "/user_management/authorize?" in headers["Location"]
