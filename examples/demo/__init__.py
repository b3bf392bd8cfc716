"""The authkit-session demo: a Starlette app behind the ASGI middleware, against the bundled WorkOS emulator.

Run it with ``make demo`` or ``python -m examples.demo`` from the repository root (see ``docs/demo.md``).
:func:`examples.demo.app.create_app` builds the app; :mod:`examples.demo.__main__` serves it.
"""
