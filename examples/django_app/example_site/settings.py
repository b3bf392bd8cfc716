"""Settings of the example site: no database, the AuthKit middleware, and its options in ``AUTHKIT``.

The engine is configured from the ``WORKOS_*`` variables (see README.md); put ``"authkit": AuthKit(...)`` in
``AUTHKIT`` to build it in code instead.
"""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "example_site.urls"
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "authkit_adapters.django.AuthKitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]

# the middleware's options (all optional): e.g. {"middleware_auth": True, "unauthenticated_paths": ["/"]}
AUTHKIT: dict[str, object] = {}

WSGI_APPLICATION = "example_site.wsgi.application"
ASGI_APPLICATION = "example_site.asgi.application"
