"""The emulator's signing keys: a per-process RSA key pool, the JWKS document, key rotation and token signing.

RSA-2048 generation is slow-ish, so keys are generated once per process and shared by every emulator.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from joserfc import jwt
from joserfc.jwk import RSAKey

from .asgi import _api_error, _Request, _Response
from .state import _State

_KEY_POOL: list[tuple[str, RSAKey, str]] = []
_KEY_POOL_LOCK = threading.Lock()


def _self_signed_certificate(private_key: rsa.RSAPrivateKey) -> bytes:
    """A DER self-signed certificate for the key: WorkOS's JWKS carries ``x5c``/``x5t#S256`` and the Python SDK
    requires them."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "WorkOS emulator")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(private_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def _pool_key(index: int) -> tuple[str, RSAKey, str]:
    """The ``index``-th (kid, key, DER certificate as base64) of this process, generated on first use."""
    with _KEY_POOL_LOCK:
        while len(_KEY_POOL) <= index:
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            key = RSAKey.import_key(private_key)
            kid = f"key_{key.thumbprint()[:20]}"
            _KEY_POOL.append((kid, key, base64.b64encode(_self_signed_certificate(private_key)).decode()))
        return _KEY_POOL[index]


@dataclass(slots=True)
class _SigningKey:
    """One key of this emulator: ``published`` keys are in the JWKS."""

    kid: str
    key: RSAKey
    certificate: str  # base64 DER
    published: bool = True


class _SigningKeys(_State):
    """Key rotation, the JWKS (document and endpoint) and RS256 signing."""

    _keys: list[_SigningKey]  # oldest first; the last one signs
    _key_index: int  # the pool index of the newest key

    def rotate_signing_key(self, *, retire_old: bool = False) -> str:
        """Sign new tokens with a fresh key and return its ``kid``. The old keys stay in the JWKS unless
        ``retire_old`` (tokens they signed then fail verification with an unknown ``kid``)."""
        with self._lock:
            self._key_index += 1
            new = _SigningKey(*_pool_key(self._key_index))
            if retire_old:
                for k in self._keys:
                    k.published = False
            self._keys.append(new)
        return new.kid

    @property
    def current_kid(self) -> str:
        """The ``kid`` new tokens are signed with."""
        with self._lock:
            return self._keys[-1].kid

    def jwks(self) -> dict[str, Any]:
        """The JWKS document: the public parts of the published keys, newest first."""
        with self._lock:
            published = [k for k in reversed(self._keys) if k.published]
        keys = []
        for k in published:
            public = k.key.as_dict(private=False)
            thumb = base64.urlsafe_b64encode(hashlib.sha256(base64.b64decode(k.certificate)).digest())
            keys.append(
                {
                    "alg": "RS256",
                    "kty": "RSA",
                    "use": "sig",
                    "x5c": [k.certificate],
                    "n": public["n"],
                    "e": public["e"],
                    "kid": k.kid,
                    "x5t#S256": thumb.rstrip(b"=").decode(),
                }
            )
        return {"keys": keys}

    def _sign(self, claims: Mapping[str, Any], kid: str | None = None) -> str:
        with self._lock:
            if kid is None:
                key = self._keys[-1]
            else:
                found = [k for k in self._keys if k.kid == kid]
                if not found:
                    raise ValueError(f"unknown kid {kid!r}")
                key = found[0]
        return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": key.kid}, dict(claims), key.key)

    def _jwks(self, request: _Request) -> _Response:
        client_id = request.path.removeprefix("/sso/jwks/")
        if client_id != self.client_id:
            return _api_error(404, "entity_not_found", f"No JWKS for client {client_id!r}.")
        return _Response.json(200, self.jwks(), [("cache-control", "public, max-age=60")])
