"""PKCE (RFC 7636) and the random values of a sign-in: code verifier, S256 code challenge, state and nonce.

Everything random comes from :mod:`secrets`. The verifier uses only RFC 7636's unreserved characters
(base64url), and the challenge is ``BASE64URL(SHA256(verifier))`` without padding, the only method
(``S256``) this library sends.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

__all__ = [
    "CODE_CHALLENGE_METHOD",
    "code_challenge",
    "generate_code_verifier",
    "generate_nonce",
    "generate_state",
]

#: The PKCE method this library uses (``plain`` is never sent).
CODE_CHALLENGE_METHOD = "S256"

# RFC 7636 section 4.1: 43 to 128 characters of [A-Z] [a-z] [0-9] "-" "." "_" "~".
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def generate_code_verifier(nbytes: int = 64) -> str:
    """A fresh code verifier: ``nbytes`` random bytes as base64url (64 bytes give 86 characters).

    ``nbytes`` must be 32 to 96 so the verifier has RFC 7636's 43 to 128 characters.
    """
    if not 32 <= nbytes <= 96:
        raise ValueError("a PKCE code verifier needs 32 to 96 random bytes (43 to 128 characters)")
    return secrets.token_urlsafe(nbytes)


def code_challenge(verifier: str) -> str:
    """The S256 challenge of ``verifier``: base64url of its SHA-256, without ``=`` padding.

    Raises :class:`ValueError` when ``verifier`` is not a valid RFC 7636 code verifier.
    """
    if not isinstance(verifier, str) or _VERIFIER.fullmatch(verifier) is None:
        raise ValueError("a PKCE code verifier is 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def generate_state(nbytes: int = 32) -> str:
    """A random, URL-safe OAuth ``state`` value (``nbytes`` random bytes, at least 16)."""
    if nbytes < 16:
        raise ValueError("state needs at least 16 random bytes")
    return secrets.token_urlsafe(nbytes)


def generate_nonce(nbytes: int = 16) -> str:
    """A random, URL-safe nonce (``nbytes`` random bytes, at least 16), e.g. for the sign-in state cookie."""
    if nbytes < 16:
        raise ValueError("a nonce needs at least 16 random bytes")
    return secrets.token_urlsafe(nbytes)
