"""The example site's routes. The sign-in callback needs none: the AuthKit middleware answers it."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home),
    path("me", views.me),
    path("account", views.account),
    path("account-async", views.account_async),
    path("editor", views.editor),
    path("admin-async", views.admin_async),
    path("profile", views.profile),
    path("refresh-async", views.refresh_async),
    path("sign-out", views.sign_out_view),
]
