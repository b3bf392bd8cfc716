"""Adapters that put authkit-session in front of ASGI and WSGI apps (and thin framework helpers)."""
