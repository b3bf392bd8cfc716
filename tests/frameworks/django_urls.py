"""The test site's routes: the example site's, the admin, a ``LOGIN_URL`` view, views using Django's own
decorators on ``request.user`` (sync and async), and Django REST Framework views."""

import warnings
from typing import Any, ClassVar

from django.contrib import admin
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from authkit_adapters.django import accept_bearer
from authkit_adapters.django import login_required as authkit_login_required
from authkit_adapters.django.drf import AuthKitAuthentication, HasWorkOSPermissions, HasWorkOSRoles
from authkit_adapters.django.views import sign_in


def describe(user: Any) -> dict[str, Any]:
    return {
        "type": user.__class__.__name__,
        "is_authenticated": user.is_authenticated,
        "is_anonymous": user.is_anonymous,
        "username": user.get_username(),
        "email": getattr(user, "email", ""),
        "first_name": getattr(user, "first_name", ""),
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "org": getattr(getattr(user, "authkit", None), "organization_id", None),
        "posts_write": user.has_perm("posts:write"),
        "change_post": user.has_perm("blog.change_post"),
        "view_user": user.has_perm("auth.view_user"),
    }


def whoami(request: HttpRequest) -> HttpResponse:
    return JsonResponse(describe(request.user))


async def whoami_async(request: HttpRequest) -> HttpResponse:
    user = await request.auser()  # type: ignore[attr-defined]
    data = describe(user) if not getattr(user, "_meta", None) else {"username": user.get_username()}
    return JsonResponse({**data, "posts_write": await user.ahas_perm("posts:write"), "async": True})


@login_required
def account(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"email": request.user.email})


@login_required
async def account_async(request: HttpRequest) -> HttpResponse:
    user = await request.auser()  # type: ignore[attr-defined]
    return JsonResponse({"email": user.email, "async": True})


@permission_required("posts:write", raise_exception=True)
def write(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"writing": request.user.email})


@permission_required("posts:write", raise_exception=True)
async def write_async(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"writing": True, "async": True})


@permission_required("auth.view_user", raise_exception=True)
def users_page(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"users": True})


def legacy_auth(request: HttpRequest) -> HttpResponse:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        email = request.auth.user.email if request.auth.user else None  # type: ignore[attr-defined]
    return JsonResponse({"email": email, "warned": [str(w.category.__name__) for w in caught]})


@accept_bearer
@authkit_login_required
def bearer_whoami(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"id": request.authkit.user.id, "org": request.authkit.organization_id})  # type: ignore[attr-defined]


@accept_bearer
@authkit_login_required
async def bearer_whoami_async(request: HttpRequest) -> HttpResponse:
    user = await request.auser()  # type: ignore[attr-defined]
    return JsonResponse({"id": user.authkit.user.id, "async": True})


class PostsAPI(APIView):  # type: ignore[misc]
    authentication_classes: ClassVar = [AuthKitAuthentication]
    permission_classes: ClassVar = [IsAuthenticated, HasWorkOSPermissions.require("posts:write")]

    def get(self, request: Request) -> Response:
        return Response(
            {"user": request.user.email, "auth": type(request.auth).__name__, "org": request.auth.organization_id}
        )

    def post(self, request: Request) -> Response:
        return Response({"created": True}, status=201)


class AdminsAPI(APIView):  # type: ignore[misc]
    permission_classes: ClassVar = [HasWorkOSRoles]
    workos_roles = ("admin",)

    def get(self, request: Request) -> Response:
        return Response({"admin": request.user.email})


#: A second admin whose login page is the WorkOS sign-in (the quickstart's recipe).
sso_admin = admin.AdminSite(name="sso_admin")

urlpatterns = [
    path("sign-in", sign_in),
    path("admin/", admin.site.urls),
    path("sso-admin/login/", sign_in),
    path("sso-admin/", sso_admin.urls),
    path("dj/whoami", whoami),
    path("dj/whoami-async", whoami_async),
    path("dj/account", account),
    path("dj/account-async", account_async),
    path("dj/write", write),
    path("dj/write-async", write_async),
    path("dj/users", users_page),
    path("dj/legacy-auth", legacy_auth),
    path("dj/bearer", bearer_whoami),
    path("dj/bearer-async", bearer_whoami_async),
    path("api/posts", PostsAPI.as_view()),
    path("api/admins", AdminsAPI.as_view()),
    path("", include("example_site.urls")),
]
