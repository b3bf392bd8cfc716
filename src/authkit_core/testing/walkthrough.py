"""``make walkthrough``: a scripted sign-in, refresh, organization switch and sign-out against the bundled emulator.

It starts the local WorkOS emulator on 127.0.0.1, uses the session engine with SQLite storage (a file in a temporary
directory, or ``--database URL``), and prints each step as a browser would see it. No WorkOS account and no network
are needed. Run ``python -m authkit_core.testing.walkthrough --help`` for options.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from ..cookies import apply_set_cookies
from ..engine import AuthKit, AuthResult
from ..models import UserInfo
from ..pkce import code_challenge, generate_code_verifier, generate_state
from ..storage.base import SessionStore
from ..storage.cookie import CookieSessionStore
from ..workos_api import authorization_url
from .emulator import Emulator
from .server import EmulatorServer

__all__ = ["main"]


def _show(title: str, result: AuthResult) -> None:
    info = result.user_info
    print(f"\n== {title}")
    if isinstance(info, UserInfo):
        print(f"   signed in as {info.user.email} ({info.user.first_name} {info.user.last_name})")
        print(f"   session {info.session_id}, organization {info.organization_id}, role {info.role}")
        print(f"   permissions: {', '.join(info.permissions or ()) or '-'}")
        print(f"   entitlements: {', '.join(info.entitlements or ()) or '-'}")
        print(f"   feature flags: {', '.join(info.feature_flags or ()) or '-'}")
    else:
        print("   signed out" + (f" ({result.reason})" if result.reason else ""))
    if result.refreshed:
        print("   (the session was refreshed: new access and refresh tokens were stored)")
    for cookie in result.cookies:
        action = "expire" if cookie.is_deletion else f"set ({len(cookie.header_value())} bytes)"
        print(f"   Set-Cookie {cookie.name}: {action}")


def _store(database: str | None, tmp: Path) -> SessionStore:
    if database == "cookie":
        return CookieSessionStore()
    from ..storage.sql import SQLSessionStore

    url = database or f"sqlite:///{tmp / 'authkit-demo.sqlite3'}"
    return SQLSessionStore(url, create_tables=True)


def main(argv: list[str] | None = None) -> int:
    """Run the walk-through; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", help="SQLAlchemy URL for session storage, or 'cookie' (default: SQLite file)")
    parser.add_argument("--email", default="alice@example.com", help="the seeded user to sign in as")
    args = parser.parse_args(argv)

    emulator = Emulator(access_token_ttl=20)  # short-lived tokens, so the refresh is visible right away
    with EmulatorServer(emulator) as server, tempfile.TemporaryDirectory() as tmpdir:
        print(f"WorkOS emulator listening on {server.base_url}")
        store = _store(args.database, Path(tmpdir))
        print(f"session store: {type(store).__name__}")
        kit = AuthKit(server.config(), store=store)
        try:
            verifier, state = generate_code_verifier(), generate_state()
            url = authorization_url(
                kit.config, state=state, code_challenge=code_challenge(verifier), login_hint=args.email
            )
            print(f"\n== sign in: the browser goes to {urlsplit(url).path}?... (PKCE S256, state)")
            location = httpx.get(url, follow_redirects=False).headers["location"]
            query = parse_qs(urlsplit(location).query)
            if query.get("state") != [state]:
                print("state mismatch: refusing the callback")
                return 1
            print(f"   WorkOS redirects back to {urlsplit(location).path} with a code; state checked")
            result = kit.exchange_code(query["code"][0], verifier, {})
            jar = apply_set_cookies({}, result.cookies)
            _show("callback: code exchanged, session stored", result)

            emulator.access_token_ttl = 300
            result = kit.authenticate(jar)
            jar = apply_set_cookies(jar, result.cookies)
            _show("next request: the 20 s token is inside the refresh buffer, so it is refreshed", result)

            result = kit.authenticate(jar)
            _show("next request: valid token, nothing to do", result)

            result = kit.refresh(result, jar, organization_id="org_globex")
            jar = apply_set_cookies(jar, result.cookies)
            _show("refresh_session(organization_id='org_globex')", result)

            result = kit.refresh(kit.authenticate(jar), jar, organization_id="org_sso")
            print("\n== refresh_session(organization_id='org_sso')")
            print(f"   refused: {result.error}")

            result = kit.authenticate(jar)
            logout = kit.sign_out(result, jar, return_to="http://127.0.0.1:8000/")
            jar = apply_set_cookies(jar, result.cookies)
            _show("sign out", result)
            print(f"   then the browser goes to WorkOS's logout URL: {urlsplit(logout or '').path}")
            _show("a request with the old cookie after sign-out", kit.authenticate(jar))
            print(f"\nrefresh grants WorkOS saw: {emulator.grant_count('refresh_token')}")
        finally:
            kit.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
