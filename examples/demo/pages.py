"""The demo's server-rendered HTML: the home page (signed out and signed in), the claims page and an error page.

Plain functions from data to an HTML string, with a little inline CSS and one small script (the "Call /api/me"
button shows the JSON answer in place; without scripts it is an ordinary link). Every value that comes from the
session, the emulator or the request is HTML-escaped. Elements a browser test reads or clicks have stable ids:
``#status`` (``data-state="signed-in|signed-out"``), ``#sign-in``, ``#sign-up``, ``#user-email``, ``#user-name``,
``#user-id``, ``#org-id``, ``#org-name``, ``#role``, ``#permissions``, ``#entitlements``, ``#feature-flags``,
``#session-id``, ``#token-expires``, ``#impersonation-banner`` and ``#impersonator-email`` (an impersonated
session), ``#switch-org`` (the form) with one ``#switch-to-ORG_ID`` button per
organization, ``#refresh-session``, ``#call-api``, ``#api-result``, ``#claims-link``, ``#sign-out``, ``#notice``
and ``#claims`` (the claims page).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any

from authkit_core.models import UserInfo

__all__ = ["Organization", "render_claims_page", "render_error_page", "render_home_page", "render_token_page"]

_STYLE = """
:root{--fg:#1c2024;--muted:#60646c;--line:#e0e1e6;--bg:#f6f7f9;--accent:#3e63dd;--accent-fg:#fff;--ok:#18794e}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:var(--bg);color:var(--fg);margin:0;
line-height:1.45}
header{background:#fff;border-bottom:1px solid var(--line)}
.bar{max-width:60rem;margin:0 auto;padding:.9rem 1.25rem;display:flex;align-items:center;gap:1rem}
.bar h1{font-size:1.05rem;margin:0;flex:1}.bar h1 a{color:inherit;text-decoration:none}
.pill{font-size:.8rem;padding:.2rem .65rem;border-radius:999px;background:#eef0f3;color:var(--muted)}
.pill[data-state=signed-in]{background:#e6f6eb;color:var(--ok)}
main{max-width:60rem;margin:0 auto;padding:1.5rem 1.25rem 3rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(26rem,1fr));gap:1.25rem;align-items:start}
a{color:var(--accent)}
section{background:#fff;border:1px solid var(--line);border-radius:12px;padding:1.25rem 1.5rem}
section h2{font-size:.8rem;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:0 0 .9rem}
dl{display:grid;grid-template-columns:9.5rem 1fr;gap:.45rem .75rem;margin:0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem}
pre{background:#f3f4f6;border-radius:8px;padding:.9rem;overflow:auto;margin:.75rem 0 0;white-space:pre-wrap;
overflow-wrap:anywhere}
.chip{display:inline-block;font-size:.8rem;background:#eef2ff;color:#3451b2;border-radius:6px;padding:.05rem .45rem;
margin:0 .3rem .3rem 0}.none{color:var(--muted)}
button,.button{font:inherit;font-size:.9rem;border:1px solid var(--line);background:#fff;color:var(--fg);
border-radius:8px;padding:.45rem .9rem;cursor:pointer;text-decoration:none;display:inline-block}
button:hover,.button:hover{background:#f0f0f3}
.primary{background:var(--accent);border-color:var(--accent);color:var(--accent-fg)}
.primary:hover{background:#3358d4}
.actions{display:flex;flex-wrap:wrap;gap:.6rem;align-items:center}
form{margin:0}
.orgs{list-style:none;padding:0;margin:0}
.orgs li{display:flex;align-items:center;justify-content:space-between;gap:1rem;padding:.6rem 0;
border-top:1px solid var(--line)}.orgs li:first-child{border-top:0}
.orgs small{color:var(--muted)}.current{font-size:.8rem;color:var(--ok);font-weight:600}
.notice{background:#e6f6eb;border:1px solid #b7e4c7;color:var(--ok);border-radius:8px;padding:.6rem .9rem;
margin-bottom:1.25rem}.notice.error{background:#fff0f0;border-color:#f4c4c4;color:#b42318}
.hero{text-align:center;padding:2.5rem 1.5rem}.hero h2{font-size:1.5rem;text-transform:none;letter-spacing:0;
color:var(--fg)}.hero p{color:var(--muted);max-width:36rem;margin:0 auto 1.5rem}
.hero .actions{justify-content:center}
footer{max-width:60rem;margin:0 auto;padding:0 1.25rem 2rem;color:var(--muted);font-size:.8rem}
"""

# Progressive enhancement of the "Call /api/me" link: fetch it and show the JSON answer below.
_SCRIPT = """
document.getElementById('call-api')?.addEventListener('click', async (event) => {
  event.preventDefault();
  const out = document.getElementById('api-result');
  const response = await fetch('/api/me', {headers: {accept: 'application/json'}});
  out.textContent = 'HTTP ' + response.status + '\\n' + JSON.stringify(await response.json(), null, 2);
  out.hidden = false;
});
"""

#: The messages a redirect may ask the home page to show (``?notice=KEY``); nothing from the URL is echoed.
NOTICES = {
    "signed-in": "Signed in.",
    "switched": "Switched organization: the session was refreshed into it.",
    "refreshed": "Session refreshed: new access and refresh tokens were stored.",
    "signed-out": "Signed out.",
}


@dataclass(frozen=True, slots=True)
class Organization:
    """One of the user's organizations, as the switcher lists it."""

    id: str
    name: str
    role: str | None = None


def _page(title: str, body: str, *, state: str, status_text: str, footer: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        '<header><div class="bar"><h1><a href="/">authkit-session demo</a></h1>'
        f'<span class="pill" id="status" data-state="{escape(state)}">{escape(status_text)}</span></div></header>'
        f"<main>{body}</main><footer>{footer}</footer><script>{_SCRIPT}</script></body></html>\n"
    )


def _footer(emulator_url: str, storage: str, metrics: bool = False) -> str:
    return (
        f'WorkOS emulator at <code id="emulator-url">{escape(emulator_url)}</code> · '
        f'sessions stored in <code id="storage">{escape(storage)}</code>'
        + (' · <a id="metrics" href="/metrics">metrics</a> (reload it after a refresh)' if metrics else "")
    )


def _chips(element_id: str, values: Iterable[str] | None) -> str:
    items = "".join(f'<span class="chip">{escape(v)}</span>' for v in values or ())
    return f'<dd id="{escape(element_id)}">{items or "<span class=none>none</span>"}</dd>'


def _notice(notice: str | None) -> str:
    if notice is None or notice not in NOTICES:
        return ""
    return f'<div class="notice" id="notice" role="status">{escape(NOTICES[notice])}</div>'


def _impersonation(info: UserInfo) -> str:
    """The banner of a session an admin started by impersonating the user (``UserInfo.impersonator``)."""
    who = info.impersonator
    if who is None:
        return ""
    reason = f" Reason: {escape(who.reason)}." if who.reason else ""
    return (
        '<div class="notice error" id="impersonation-banner" role="alert">'
        f"You are impersonating <strong>{escape(info.user.email)}</strong> (signed in by "
        f'<span id="impersonator-email">{escape(who.email)}</span>).{reason}</div>'
    )


def _expiry(claims: Mapping[str, Any], now: float) -> str:
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return "unknown"
    when = datetime.fromtimestamp(exp, UTC).strftime("%H:%M:%S UTC")
    left = int(exp - now)
    return f"{when} (in {left} s)" if left >= 0 else f"{when} (expired {-left} s ago)"


def render_home_page(
    info: UserInfo | None,
    *,
    claims: Mapping[str, Any],
    organizations: Sequence[Organization],
    organizations_error: str | None,
    notice: str | None,
    emulator_url: str,
    storage: str,
    now: float,
    metrics: bool = False,
) -> str:
    """The home page: sign-in and sign-up buttons when ``info`` is ``None``, else the session and its actions."""
    footer = _footer(emulator_url, storage, metrics)
    if info is None:
        body = (
            _notice(notice) + '<section class="hero"><h2>You are signed out</h2>'
            "<p>Sign in through the bundled WorkOS emulator: it lists seeded test users. Alice belongs to two "
            "organizations, so you can switch between them.</p>"
            '<div class="actions"><a class="button primary" id="sign-in" href="/sign-in">Sign in</a>'
            '<a class="button" id="sign-up" href="/sign-up">Sign up</a></div>'
            '<p style="margin-top:1.5rem"><a href="/api/me" id="api-link">/api/me</a> answers 401 while you are '
            'signed out; <a href="/account" id="claims-link">/account</a> sends you to sign in first.</p></section>'
        )
        return _page(
            "Signed out · authkit-session demo", body, state="signed-out", status_text="signed out", footer=footer
        )

    user = info.user
    name = " ".join(part for part in (user.first_name, user.last_name) if part) or user.email
    current = info.organization_id
    org_name = next((o.name for o in organizations if o.id == current), None)
    you = (
        "<section><h2>User</h2><dl>"
        f'<dt>Name</dt><dd id="user-name">{escape(name)}</dd>'
        f'<dt>Email</dt><dd id="user-email">{escape(user.email)}</dd>'
        f'<dt>User id</dt><dd><code id="user-id">{escape(user.id)}</code></dd>'
        "</dl></section>"
    )
    session = (
        "<section><h2>Session</h2><dl>"
        f'<dt>Organization</dt><dd><span id="org-name">{escape(org_name or "-")}</span> '
        f'<code id="org-id">{escape(current or "none")}</code></dd>'
        f'<dt>Role</dt><dd id="role">{escape(info.role or "none")}</dd>'
        "<dt>Permissions</dt>"
        + _chips("permissions", info.permissions)
        + "<dt>Entitlements</dt>"
        + _chips("entitlements", info.entitlements)
        + "<dt>Feature flags</dt>"
        + _chips("feature-flags", info.feature_flags)
        + f'<dt>Session id</dt><dd><code id="session-id">{escape(info.session_id)}</code></dd>'
        f'<dt>Token expires</dt><dd id="token-expires">{escape(_expiry(claims, now))}</dd>'
        "</dl></section>"
    )
    rows = []
    for org in organizations:
        role = f" · {escape(org.role)}" if org.role else ""
        label = f"<div><strong>{escape(org.name)}</strong><br><small><code>{escape(org.id)}</code>{role}</small></div>"
        if org.id == current:
            action = f'<span class="current" id="current-{escape(org.id)}">current</span>'
        else:
            action = (
                f'<button type="submit" name="organization_id" value="{escape(org.id)}" '
                f'id="switch-to-{escape(org.id)}">Switch</button>'
            )
        rows.append(f"<li>{label}{action}</li>")
    listing = "".join(rows) or '<li class="none">no organizations</li>'
    problem = f'<p class="notice error">{escape(organizations_error)}</p>' if organizations_error else ""
    switcher = (
        "<section><h2>Organizations</h2>"
        + problem
        + f'<form method="post" action="/switch-organization" id="switch-org"><ul class="orgs">{listing}</ul></form>'
        "</section>"
    )
    actions = (
        '<section><h2>Try it</h2><div class="actions">'
        '<form method="post" action="/refresh"><button type="submit" id="refresh-session">Refresh session</button>'
        "</form>"
        '<a class="button" id="call-api" href="/api/me">Call /api/me</a>'
        '<a class="button" id="claims-link" href="/account">All token claims</a>'
        '<a class="button" id="token-link" href="/token">Access token in the browser</a>'
        '<form method="post" action="/sign-out"><button type="submit" class="primary" id="sign-out">Sign out'
        "</button></form></div>"
        '<pre id="api-result" hidden></pre></section>'
    )
    body = _impersonation(info) + _notice(notice) + f'<div class="grid">{you}{session}{switcher}{actions}</div>'
    return _page(
        f"{user.email} · authkit-session demo",
        body,
        state="signed-in",
        status_text=f"signed in as {user.email}",
        footer=footer,
    )


def render_claims_page(
    info: UserInfo, claims: Mapping[str, Any], *, emulator_url: str, storage: str, metrics: bool = False
) -> str:
    """The page behind ``with_auth(ensure_signed_in=True)``: every claim of the access token (not verified here:
    the middleware verified the token when it read the session)."""
    body = (
        "<section><h2>Access token claims</h2>"
        "<p>This page calls <code>with_auth(ensure_signed_in=True)</code>: signed out, you are sent to sign in and "
        'brought back here.</p><pre id="claims">'
        + escape(json.dumps(dict(claims), indent=2, sort_keys=True))
        + '</pre><p><a class="button" href="/">Back</a></p></section>'
    )
    email = info.user.email
    return _page(
        "Claims · authkit-session demo",
        body,
        state="signed-in",
        status_text=f"signed in as {email}",
        footer=_footer(emulator_url, storage, metrics),
    )


def render_error_page(
    title: str, message: str, *, signed_in: bool, emulator_url: str, storage: str, metrics: bool = False
) -> str:
    """A page that says what went wrong, with a way back home."""
    body = (
        f'<section><h2>{escape(title)}</h2><p class="notice error" id="error">{escape(message)}</p>'
        '<p><a class="button" href="/">Back</a></p></section>'
    )
    state = "signed-in" if signed_in else "signed-out"
    return _page(
        f"{title} · authkit-session demo",
        body,
        state=state,
        status_text=state.replace("-", " "),
        footer=_footer(emulator_url, storage, metrics),
    )


def render_token_page(*, signed_in: bool, emulator_url: str, storage: str, metrics: bool = False) -> str:
    """Browser code with an access token: ``/static/authkit-access-token.js`` (the snippet of docs/api-auth.md)
    gets the token from ``POST /auth/access-token`` and calls ``/api/me`` with it as a bearer token, the
    session cookie left out (``credentials: "omit"``). ``#call-api-with-token`` shows the answer in
    ``#token-api-result``."""
    body = (
        "<section><h2>Access token in the browser</h2>"
        "<p>This page's script asks <code>POST /auth/access-token</code> for the signed-in user's access token "
        "(refreshed first when due) and calls <code>/api/me</code> with it as "
        "<code>Authorization: Bearer</code>, without the session cookie.</p>"
        '<p><button class="button" id="call-api-with-token" type="button">Call /api/me with the token</button></p>'
        '<pre id="token-api-result">(not called yet)</pre>'
        '<p><a class="button" href="/">Back</a></p></section>'
        '<script src="/static/authkit-access-token.js"></script>'
        "<script>document.getElementById('call-api-with-token').addEventListener('click', async () => {"
        "const out = document.getElementById('token-api-result');"
        "const response = await authkit.fetchWithToken('/api/me', {credentials: 'omit'});"
        "out.textContent = 'HTTP ' + response.status + '\\n' + await response.text();});</script>"
    )
    state = "signed-in" if signed_in else "signed-out"
    return _page(
        "Access token · authkit-session demo",
        body,
        state=state,
        status_text=state.replace("-", " "),
        footer=_footer(emulator_url, storage, metrics),
    )
