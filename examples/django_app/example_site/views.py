"""The example site's views, sync and async: the decorators, ``request.authkit``, and the request-scoped functions
(blocking ones from ``authkit_adapters.wsgi`` in sync views, awaitable ones from ``authkit_adapters.asgi`` in
async views; both work whether Django is served by WSGI or ASGI)."""

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse

from authkit_adapters import asgi, wsgi
from authkit_adapters.django import get_user, login_required, permission_required, role_required


def describe(user: Any) -> dict[str, Any]:
    return {"email": user.user.email if user.user else None, "role": user.role, "org": user.organization_id}


def home(request: HttpRequest) -> HttpResponse:
    """Public: who is signed in, if anyone."""
    return JsonResponse(describe(request.authkit))  # type: ignore[attr-defined]


def me(request: HttpRequest) -> HttpResponse:
    """``request.user``: the WorkOS user as a Django user (stateless here: no database), or ``AnonymousUser``."""
    user = request.user
    return JsonResponse(
        {"user": str(user), "is_authenticated": user.is_authenticated, "posts:write": user.has_perm("posts:write")}
    )


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """Signed-in users only (a sync view)."""
    return JsonResponse(describe(get_user(request)))


@login_required
async def account_async(request: HttpRequest) -> HttpResponse:
    """Signed-in users only (an async view)."""
    return JsonResponse({**describe(get_user(request)), "async": True})


@permission_required("posts:write")
def editor(request: HttpRequest) -> HttpResponse:
    """Users holding ``posts:write`` only; others get Django's 403 page."""
    return JsonResponse({"editing_as": get_user(request).user.email})


@role_required("admin")
async def admin_async(request: HttpRequest) -> HttpResponse:
    """Admins only (an async view)."""
    return JsonResponse({"admin": True, "async": True})


def profile(request: HttpRequest) -> HttpResponse:
    """No decorator: ``with_auth(ensure_signed_in=True)`` raises when signed out; the middleware redirects."""
    return JsonResponse(describe(wsgi.with_auth(ensure_signed_in=True)))


async def refresh_async(request: HttpRequest) -> HttpResponse:
    """Refresh the session now (into ``?org=`` when given); the middleware writes the new cookie."""
    user = await asgi.refresh_session(request.GET.get("org"), ensure_signed_in=True)
    return JsonResponse(describe(user))


def sign_out_view(request: HttpRequest) -> HttpResponse:
    """End the session and go through WorkOS's logout."""
    return HttpResponseRedirect(wsgi.sign_out(return_to="/"))
