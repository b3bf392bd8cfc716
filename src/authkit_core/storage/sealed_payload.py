"""Handle-keyed payload encryption shared by the server-side stores (SQL, Redis), with no database import.

A stored session is AES-256-GCM under a key derived (HKDF-SHA256) from the browser's random handle, with the
record's id (the handle's SHA-256, see ``handles.py``) as associated data. The store keeps only the id and the
ciphertext, so a copy of the store's data without the cookies opens no session.
"""

from __future__ import annotations

import hashlib
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..cache import BoundedCache, shared_capacity
from ..errors import InvalidResponseError, TokenError
from ..models import Session
from ..tokens import get_token_claims

__all__ = ["OWNER_MAX", "decrypt_session", "encrypt_session", "forget_cipher", "lease_owner", "session_id_of"]

# The HKDF info string stays "sql v1" for every store: SQL rows written before this module existed still open.
_HKDF_INFO = b"authkit-session sql v1"
_FORMAT = b"\x01"  # first byte of a payload: the encryption format, so it can change later
_NONCE_BYTES = 12
#: The longest lease owner stored as is; longer ones are stored as their SHA-256.
OWNER_MAX = 64


# handle -> its record's cipher; dropped when the session is deleted (see ``cache.py``)
_ciphers: BoundedCache[str, AESGCM] = shared_capacity(BoundedCache("record_ciphers", 4096))


def _aead(handle: str) -> AESGCM:
    """The cipher of one handle's record. Remembered: a refresh decrypts (``load``) and encrypts (``update``) under
    the same handle, and a browser sends it again and again (the handles themselves are remembered as long, see
    ``handles.py``)."""
    cipher = _ciphers.get(handle)
    if cipher is None:
        cipher = AESGCM(HKDF(algorithm=SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(handle.encode()))
        _ciphers.put(handle, cipher)
    return cipher


def forget_cipher(handle: str) -> None:
    """Forget a deleted session's record cipher."""
    _ciphers.discard(handle)


def encrypt_session(handle: str, record_id: str, session: Session) -> bytes:
    """``session`` encrypted under ``handle``'s key, bound to ``record_id`` (format byte, nonce, ciphertext)."""
    plaintext = json.dumps(session.to_json(), separators=(",", ":")).encode()
    nonce = os.urandom(_NONCE_BYTES)
    return _FORMAT + nonce + _aead(handle).encrypt(nonce, plaintext, record_id.encode())


def decrypt_session(handle: str, record_id: str, data: bytes) -> Session | None:
    """The session in ``data``; ``None`` when it does not open with ``handle`` and ``record_id`` (or is not one)."""
    data = bytes(data)
    if data[:1] != _FORMAT or len(data) < 1 + _NONCE_BYTES + 16:
        return None
    nonce, ciphertext = data[1 : 1 + _NONCE_BYTES], data[1 + _NONCE_BYTES :]
    try:
        plaintext = _aead(handle).decrypt(nonce, ciphertext, record_id.encode())
        return Session.from_json(json.loads(plaintext))
    except (InvalidTag, ValueError, RecursionError, InvalidResponseError):
        return None


def session_id_of(session: Session) -> str | None:
    """The WorkOS session id (``sid`` claim) of ``session``'s access token, at most 255 characters."""
    try:
        sid = get_token_claims(session.access_token).get("sid")
    except TokenError:
        return None
    return sid[:255] if isinstance(sid, str) else None


def lease_owner(owner: str) -> str:
    """``owner`` as stored: as is up to :data:`OWNER_MAX` characters, else its SHA-256 (still one value per owner)."""
    return owner if len(owner) <= OWNER_MAX else hashlib.sha256(owner.encode()).hexdigest()
