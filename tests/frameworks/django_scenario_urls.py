"""Django views with the routes of the shared middleware scenarios (``tests/adapters/conftest.py``: ``/``,
``/protected``, ``/refresh``, ``/switch``, ``/sign-out`` ...), written with the blocking request-scoped functions
of ``authkit_adapters.wsgi`` as a Django app would, so the Django face runs the same scenarios as the ASGI and WSGI
ones (``test_django_scenarios.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.urls import path

from adapters.conftest import SENSITIVE_MAX_AGE, sign_in_options, user_json
from authkit_adapters import wsgi as authkit
from authkit_core.errors import BearerRequestError, TokenRefreshError


def home(request: HttpRequest) -> HttpResponse:
    return JsonResponse(user_json(authkit.with_auth()))


def protected(request: HttpRequest) -> HttpResponse:
    return JsonResponse(user_json(authkit.with_auth(ensure_signed_in=True)))


def protected_explicit(request: HttpRequest) -> HttpResponse:
    return JsonResponse(user_json(authkit.with_auth(ensure_signed_in=True, request=request)))


def refresh(request: HttpRequest) -> HttpResponse:
    try:
        info = authkit.refresh_session(request.GET.get("org"), ensure_signed_in=bool(request.GET.get("ensure")))
    except (TokenRefreshError, BearerRequestError) as exc:
        return JsonResponse({"error": exc.code}, status=409)
    return JsonResponse(user_json(info))


def switch(request: HttpRequest) -> HttpResponse:
    info = authkit.switch_to_organization(request.GET["org"], return_to=request.GET.get("return_to"))
    return JsonResponse(user_json(info))


def sign_in_url(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"url": authkit.get_sign_in_url(**sign_in_options(request.GET.dict()))})


def sign_up_url(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"url": authkit.get_sign_up_url(**sign_in_options(request.GET.dict()))})


def sensitive(request: HttpRequest) -> HttpResponse:
    user = authkit.with_auth(ensure_signed_in=True)
    if not authkit.check_recent_auth(SENSITIVE_MAX_AGE):
        url = authkit.get_sign_in_url(max_age=SENSITIVE_MAX_AGE, login_hint=user.user.email, return_to=request.path)
        return HttpResponseRedirect(url, status=303)
    return JsonResponse({"sensitive": True, "auth_time": authkit.get_token_claims()["auth_time"]})


def sign_out(request: HttpRequest) -> HttpResponse:
    authkit.sign_out(return_to=request.GET.get("return_to"))
    return HttpResponse("still here")


def claims(request: HttpRequest) -> HttpResponse:
    return JsonResponse(authkit.get_token_claims())


def recent(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"recent": authkit.check_recent_auth(float(request.GET["max_age"]))})


def save(request: HttpRequest) -> HttpResponse:
    return JsonResponse(user_json(authkit.save_session(json.loads(request.body))))


def api(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"key": authkit.validate_api_key()})


def cached(request: HttpRequest) -> HttpResponse:
    authkit.with_auth()
    return HttpResponse("c", headers={"Vary": "Accept-Encoding", "Cache-Control": "public, max-age=60"})


def public(request: HttpRequest) -> HttpResponse:
    return HttpResponse("public")


def static_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("static")


def stream(request: HttpRequest) -> HttpResponse:
    def chunks() -> Iterator[str]:
        yield "a"
        yield user_json(authkit.with_auth())["email"] or "nobody"

    return StreamingHttpResponse(chunks())


def raw(request: HttpRequest) -> HttpResponse:
    """The exception of ``ensure_signed_in`` reaches the middleware (nothing catches it on the way)."""
    authkit.with_auth(ensure_signed_in=True)
    return HttpResponse("raw")


urlpatterns = [
    path("", home),
    path("protected", protected),
    path("protected-explicit", protected_explicit),
    path("refresh", refresh),
    path("switch", switch),
    path("sign-in-url", sign_in_url),
    path("sign-up-url", sign_up_url),
    path("sensitive", sensitive),
    path("sign-out", sign_out),
    path("claims", claims),
    path("recent", recent),
    path("save", save),
    path("api", api),
    path("cached", cached),
    path("public/page", public),
    path("static", static_page),
    path("stream", stream),
    path("raw", raw),
]
