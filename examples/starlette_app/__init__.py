"""A minimal plain-Starlette app using authkit-session's helpers (see app.py)."""
