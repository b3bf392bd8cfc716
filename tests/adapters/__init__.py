"""Tests of the ASGI and WSGI middleware and of the sign-in state (``authkit_core.signin``)."""
