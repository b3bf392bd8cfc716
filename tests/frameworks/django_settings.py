"""The Django settings the framework tests run under (Django is configured once per process): the example site,
plus ``django.contrib.auth``, the admin, Django REST Framework and ``authkit_adapters.django`` on a SQLite file.

Django's ``AuthenticationMiddleware`` comes after ours on purpose: ours must take ``request.user`` back (and keep
Django's user as the signed-out fallback). Which mode ``request.user`` is in follows ``AUTHENTICATION_BACKENDS``:
``ModelBackend`` only (stateless, the default here) or with ``AuthKitBackend`` (synced; the tests switch).
"""

import tempfile
from pathlib import Path

from example_site.settings import *  # noqa: F403

ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]  # testserver: Django's test clients
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "authkit_adapters.django",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(Path(tempfile.mkdtemp(prefix="authkit-django-")) / "db.sqlite3"),
    }
}
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "authkit_adapters.django.AuthKitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
ROOT_URLCONF = "frameworks.django_urls"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/sign-in"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": ["authkit_adapters.django.drf.AuthKitAuthentication"]}
