"""Django REST Framework (``pip install djangorestframework``): an authentication class and permission classes.

::

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["authkit_adapters.django.drf.AuthKitAuthentication"],
    }

    class Posts(APIView):
        permission_classes = [HasWorkOSPermissions.require("posts:write")]   # or IsAuthenticated, HasWorkOSRoles ...

:class:`AuthKitAuthentication` authenticates the request's WorkOS session (the ``wos-session`` cookie the
:class:`~authkit_adapters.django.AuthKitMiddleware` already read): ``request.user`` is the same user as Django's
(stateless :class:`~authkit_adapters.django.users.AuthKitUser`, or the synced local user) and ``request.auth`` is
the session's :class:`~authkit_core.models.UserInfo`. Like DRF's ``SessionAuthentication``, a cookie-authenticated
unsafe request (POST ...) must pass Django's CSRF check. A signed-out request is not authenticated: DRF answers
401 with ``WWW-Authenticate: Cookie realm="api"`` when a permission class needs a user.

Bearer tokens: a request with ``Authorization: Bearer <WorkOS access token>`` is authenticated by the token
(:meth:`AuthKitAuthentication.authenticate_bearer`), whether or not the middleware's ``accept_bearer`` is set:
``request.auth`` is the token's ``UserInfo``, no CSRF check applies (no cookie is involved), and a refused token is
401 with ``WWW-Authenticate: Bearer error="invalid_token"``. In synced mode the token finds the local user already
linked to its WorkOS user (it creates none: a token carries no profile).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, CSRFCheck
from rest_framework.permissions import BasePermission

from authkit_core.bearer import bearer_token
from authkit_core.models import UserInfo

from .._core import NoRequestContextError, current_context
from . import get_user
from .users import workos_user

__all__ = ["AuthKitAuthentication", "HasWorkOSPermissions", "HasWorkOSRoles", "workos_info"]


#: Where a refused bearer token's reason is kept on the Django request, for :meth:`authenticate_header`.
_REFUSED = "_authkit_bearer_refused"


def _django_request(request: Any) -> Any:
    return getattr(request, "_request", request)


class AuthKitAuthentication(BaseAuthentication):  # type: ignore[misc]
    """DRF authentication by the request's WorkOS session: ``(user, UserInfo)`` or ``None`` (see the module)."""

    #: Refuse cookie-authenticated unsafe requests without Django's CSRF token, as ``SessionAuthentication`` does.
    enforce_csrf_checks: ClassVar[bool] = True
    #: The realm of the ``WWW-Authenticate`` header of a 401.
    www_authenticate_realm: ClassVar[str] = "api"

    def authenticate(self, request: Any) -> tuple[Any, UserInfo] | None:
        """A bearer token (:meth:`authenticate_bearer`) first, then the session cookie."""
        token = self.bearer_token(request)
        if token is not None:
            result = self.authenticate_bearer(request, token)
            if result is not None:
                return result
        return self.authenticate_session(request)

    def bearer_token(self, request: Any) -> str | None:
        """The ``Authorization: Bearer`` value of ``request``, if any (``""`` when it holds no token)."""
        return bearer_token(_django_request(request).META.get("HTTP_AUTHORIZATION"))

    def authenticate_bearer(self, request: Any, token: str) -> tuple[Any, UserInfo] | None:
        """A WorkOS access token (see :mod:`authkit_core.bearer`): ``(user, UserInfo)`` when it verifies (the
        stateless user, or in synced mode the local user already linked to it: a token creates no user), else
        ``AuthenticationFailed`` (401 with ``WWW-Authenticate: Bearer error="invalid_token"``). The middleware's
        ``accept_bearer`` did it already when set; otherwise it is done here, for the views using this class. A
        token the engine cannot verify now (the JWKS unreachable) raises ``AuthenticationFailed`` too. Override to
        accept other tokens (return ``None`` to leave the request to the cookie session)."""
        django_request = _django_request(request)
        try:
            ctx = current_context(django_request)
        except NoRequestContextError as exc:
            raise ImproperlyConfigured(
                "AuthKitAuthentication needs authkit_adapters.django.AuthKitMiddleware in MIDDLEWARE"
            ) from exc
        if not ctx.auth.bearer:
            ctx.adopt(ctx.kit.verify_bearer(token))
        info = ctx.auth.user_info
        if not isinstance(info, UserInfo):
            reason = ctx.auth.reason or "invalid_token"
            django_request.__dict__[_REFUSED] = reason  # DRF asks a new instance for the 401's header
            raise exceptions.AuthenticationFailed(f"The bearer token was refused ({reason}).")
        user = workos_user(django_request)
        if user is None:
            raise exceptions.AuthenticationFailed("No active local user is linked to this token.")
        return user, info

    def authenticate_session(self, request: Any) -> tuple[Any, UserInfo] | None:
        """The WorkOS session's user and ``UserInfo``, CSRF-checked for unsafe methods; ``None`` when signed out."""
        django_request = _django_request(request)
        try:
            info = get_user(django_request)
        except NoRequestContextError as exc:
            raise ImproperlyConfigured(
                "AuthKitAuthentication needs authkit_adapters.django.AuthKitMiddleware in MIDDLEWARE"
            ) from exc
        if not isinstance(info, UserInfo):
            return None
        user = workos_user(django_request)
        if user is None:  # synced mode: the local user is inactive; another class may still authenticate
            return None
        if self.enforce_csrf_checks:
            self.enforce_csrf(django_request)
        return user, info

    def enforce_csrf(self, request: Any) -> None:
        """Django's CSRF check for a cookie-authenticated request (``PermissionDenied`` when it fails)."""

        def no_response(request: Any) -> None:
            return None

        check = CSRFCheck(no_response)
        check.process_request(request)
        reason = check.process_view(request, None, (), {})
        if reason:
            raise exceptions.PermissionDenied(f"CSRF Failed: {reason}")

    def authenticate_header(self, request: Any) -> str:
        """The ``WWW-Authenticate`` of a 401: RFC 6750's ``Bearer error="invalid_token"`` after a refused bearer
        token, else ``Cookie realm="api"`` (which makes DRF answer a signed-out request 401 rather than 403)."""
        refused = _django_request(request).__dict__.get(_REFUSED)
        if refused is not None:
            return f'Bearer error="invalid_token", error_description="{refused}"'
        return f'Cookie realm="{self.www_authenticate_realm}"'


def workos_info(request: Any) -> UserInfo | None:
    """The WorkOS session of a DRF request's authenticated user: ``request.auth`` when :class:`AuthKitAuthentication`
    authenticated it, else the user's ``authkit`` (our users carry it); ``None`` otherwise (signed out, or
    authenticated by another class: a WorkOS cookie alongside does not lend its permissions)."""
    auth = getattr(request, "auth", None)
    if isinstance(auth, UserInfo):
        return auth
    user_info = getattr(getattr(request, "user", None), "authkit", None)
    return user_info if isinstance(user_info, UserInfo) else None


class HasWorkOSPermissions(BasePermission):  # type: ignore[misc]
    """Allows a request whose WorkOS session holds every permission of ``required_permissions`` (or, when that is
    empty, of the view's ``workos_permissions`` attribute). ``HasWorkOSPermissions.require("posts:write")`` makes
    the class for a list. Signed out: DRF's 401 (with :class:`AuthKitAuthentication`)."""

    required_permissions: ClassVar[tuple[str, ...]] = ()
    message = "You do not have the WorkOS permissions this needs."

    @classmethod
    def require(cls, *permissions: str) -> type[HasWorkOSPermissions]:
        """A subclass requiring every one of ``permissions``."""
        return type(f"{cls.__name__}Require", (cls,), {"required_permissions": tuple(permissions)})

    def has_permission(self, request: Any, view: Any) -> bool:
        """Whether the session holds them all."""
        info = workos_info(request)
        if info is None:
            return False
        needed = self.required_permissions or tuple(getattr(view, "workos_permissions", ()))
        return set(needed).issubset(info.permissions or ())


class HasWorkOSRoles(BasePermission):  # type: ignore[misc]
    """Allows a request whose WorkOS session has one of ``required_roles`` (or of the view's ``workos_roles``)
    in its organization. ``HasWorkOSRoles.require("admin", "owner")`` makes the class for a list."""

    required_roles: ClassVar[tuple[str, ...]] = ()
    message = "You do not have a WorkOS role this needs."

    @classmethod
    def require(cls, *roles: str) -> type[HasWorkOSRoles]:
        """A subclass requiring one of ``roles``."""
        return type(f"{cls.__name__}Require", (cls,), {"required_roles": tuple(roles)})

    def has_permission(self, request: Any, view: Any) -> bool:
        """Whether the session has one of them."""
        info = workos_info(request)
        if info is None:
            return False
        wanted = self.required_roles or tuple(getattr(view, "workos_roles", ()))
        held = {info.role, *(info.roles or ())}
        return bool(held.intersection(wanted))
