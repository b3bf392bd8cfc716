"""The ``authkit-emulator`` command (also ``python -m authkit_core.testing``): serve the local WorkOS emulator.

Example: ``authkit-emulator --port 8001 --seed seed.json``, then point an app at it with
``WORKOS_API_HOSTNAME=127.0.0.1 WORKOS_API_HTTPS=false WORKOS_API_PORT=8001 WORKOS_CLIENT_ID=client_emulator``.
The app's ``WORKOS_REDIRECT_URI`` must be registered: by the seed (``redirect_uris``; the default registers
``http://127.0.0.1:8000/callback``) or with ``--redirect-uri URI``; sign-out return URLs likewise (``logout_uris``,
``--logout-uri URI``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .emulator import Emulator
from .seed import Seed

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="authkit-emulator", description="Serve a local WorkOS API emulator.")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on (default 8001)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--seed", metavar="FILE", help="JSON seed file (default: the built-in test users)")
    parser.add_argument("--access-token-ttl", type=int, default=300, metavar="S", help="access token lifetime")
    parser.add_argument("--client-id", default="client_emulator", help="client id (default client_emulator)")
    parser.add_argument("--api-key", default="sk_test_emulator", help="API key the emulator accepts")
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        metavar="URI",
        help="register a sign-in redirect URI besides the seed's (repeatable; exact match)",
    )
    parser.add_argument(
        "--logout-uri",
        action="append",
        default=[],
        metavar="URI",
        help="register a sign-out return URL besides the seed's (repeatable; a trailing * allows a prefix)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and serve until interrupted."""
    args = _parser().parse_args(argv)
    try:
        seed = Seed.from_file(args.seed) if args.seed else Seed.default()
    except (OSError, ValueError, TypeError) as exc:
        print(f"authkit-emulator: cannot load seed {args.seed!r}: {exc}", file=sys.stderr)
        return 2
    try:
        emulator = Emulator(
            seed, client_id=args.client_id, api_key=args.api_key, access_token_ttl=args.access_token_ttl
        )
        for uri in args.redirect_uri:
            emulator.register_redirect_uri(uri)
        for uri in args.logout_uri:
            emulator.register_logout_uri(uri)
    except ValueError as exc:
        print(f"authkit-emulator: {exc}", file=sys.stderr)
        return 2
    host = f"[{args.host}]" if ":" in args.host else args.host
    emulator.base_url = f"http://{host}:{args.port}"

    import uvicorn

    print(f"WorkOS emulator on {emulator.base_url} (client id {emulator.client_id})", file=sys.stderr)
    print(f"redirect URIs: {', '.join(emulator.redirect_uris) or 'none'}", file=sys.stderr)
    print(f"logout URIs: {', '.join(emulator.logout_uris) or 'none'}", file=sys.stderr)
    uvicorn.run(emulator, host=args.host, port=args.port, log_level="info", lifespan="on")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
