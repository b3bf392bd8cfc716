"""The small HTML pages the local WorkOS emulator serves in place of the hosted AuthKit sign-in screen.

Every element a browser test may click has a stable ``id`` and ``data-*`` attributes:
``<a class="user" id="sign-in-user_alice" data-user-id="user_alice" data-user-email="alice@example.com">``.
Everything inserted is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["render_message_page", "render_sign_in_page"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#f6f7f9;margin:0;padding:3rem 1rem;color:#1c2024}"
    "main{max-width:26rem;margin:0 auto;background:#fff;border-radius:12px;padding:2rem;"
    "box-shadow:0 1px 4px rgba(0,0,0,.08)}"
    "h1{font-size:1.25rem;margin:0 0 .25rem}p{color:#60646c;margin:0 0 1.5rem}"
    "ul{list-style:none;padding:0;margin:0}li{margin:.5rem 0}"
    "a.user{display:block;padding:.75rem 1rem;border:1px solid #d9d9e0;border-radius:8px;color:inherit;"
    "text-decoration:none}a.user:hover{background:#f0f0f3}.email{color:#60646c;font-size:.875rem}"
    "#details li{font-size:.875rem;overflow-wrap:anywhere}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def render_sign_in_page(users: Sequence[tuple[str, str, str, str]], *, screen_hint: str = "sign-in") -> str:
    """The sign-in page: one link per ``(user_id, email, display name, href)``."""
    heading = "Sign up" if screen_hint == "sign-up" else "Sign in"
    items = "".join(
        f'<li><a class="user" id="sign-in-{escape(uid)}" href="{escape(href)}" data-user-id="{escape(uid)}" '
        f'data-user-email="{escape(email)}"><strong>{escape(name)}</strong><br>'
        f'<span class="email">{escape(email)}</span></a></li>'
        for uid, email, name, href in users
    )
    body = (
        f'<h1 id="heading">{heading}</h1><p>WorkOS emulator: choose a test user.</p>'
        f'<ul id="users" data-screen-hint="{escape(screen_hint)}">{items}</ul>'
    )
    return _page(f"{heading} - WorkOS emulator", body)


def render_message_page(title: str, message: str, details: Sequence[str] = (), *, error: str | None = None) -> str:
    """A page with a heading, one sentence and optional detail lines (signed out, errors).

    ``error`` is a machine-readable code put in ``data-error`` of the ``#message`` paragraph.
    """
    code = f' data-error="{escape(error)}"' if error else ""
    items = "".join(f"<li>{escape(line)}</li>" for line in details)
    listing = f'<ul id="details">{items}</ul>' if details else ""
    return _page(title, f'<h1 id="heading">{escape(title)}</h1><p id="message"{code}>{escape(message)}</p>{listing}')
