"""A ``LOGIN_URL`` view: Django's own ``login_required``/``permission_required`` (and the admin, when routed) send
signed-out users to ``settings.LOGIN_URL?next=...``; :func:`sign_in` turns that into the WorkOS sign-in.

::

    # urls.py
    from authkit_adapters.django.views import sign_in
    urlpatterns = [path("sign-in", sign_in, name="sign-in"), ...]
    # settings.py
    LOGIN_URL = "sign-in"
"""

from __future__ import annotations

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect

from authkit_core.models import UserInfo

from .. import _core

__all__ = ["sign_in"]


def sign_in(request: HttpRequest) -> HttpResponseRedirect:
    """Redirect to the WorkOS sign-in, coming back to ``?next=`` (a same-site path; anything else becomes ``/``).

    Already signed in with WorkOS, the user was sent here because a page refused them (not staff, a permission
    missing): that is a 403 (``PermissionDenied``), not another sign-in that would come straight back."""
    if isinstance(_core.with_auth(request=request), UserInfo):
        raise PermissionDenied("Signed in, but not allowed there.")
    target = request.GET.get(REDIRECT_FIELD_NAME) or "/"
    return HttpResponseRedirect(_core.get_sign_in_url(request=request, return_to=target))


# Django 5.1's LoginRequiredMiddleware must let signed-out users reach the sign-in page (``@login_not_required``).
sign_in.login_required = False  # type: ignore[attr-defined]
