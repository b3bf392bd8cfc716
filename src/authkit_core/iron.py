"""Iron ``Fe26.2`` sealing, byte-compatible with the npm packages iron-session 8 and @workos-inc/node 8.

This is what makes a ``wos-session`` cookie written by authkit-nextjs open here and the reverse. A seal is::

    Fe26.2*<password id>*<encryption salt>*<iv>*<ciphertext>*<expiry ms or empty>*<hmac salt>*<hmac>~2

Salts are 32 random bytes written as 64 hex characters, and that hex *text* is the PBKDF2 salt. Both keys are
PBKDF2-HMAC-SHA1 with one iteration and 32 bytes; the payload is the ``JSON.stringify`` text of the data,
encrypted with AES-256-CBC (PKCS#7) and authenticated with HMAC-SHA256 over the first six ``*``-joined fields.
Binary fields are base64url without padding. The ``~2`` suffix is iron-session's format version.

Every way a sealed string can fail to open raises :class:`~authkit_core.errors.SealError` with one of the codes
``invalid_seal`` (malformed), ``bad_mac`` (tampered or wrong password), ``unknown_password`` (a password id
this application does not have) or ``expired_seal``. Messages never contain the sealed value or a password.

Where iron-session and @workos-inc/node differ, the choices made here are:

* a single password has id ``"1"``; with a map, new seals use the highest numeric id (iron-session's
  ``Math.max`` over the ids) and any listed id opens; a seal without an id needs the id ``"default"``;
* the MAC is checked before the expiry, so ``expired_seal`` is only reported for genuine seals;
* a seal without a version suffix opens to its data as @workos-inc/node and iron-webcrypto do (iron-session 8
  would read it as a version 1 seal); a suffix other than ``2`` is a version 1 seal whose data is the
  ``persistent`` member, as in iron-session.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import math
import os
import re
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import msgspec
import pybase64
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .cache import BoundedCache, shared_capacity
from .errors import ConfigurationError, InvalidResponseError, SealError
from .models import Session

__all__ = [
    "MAC_PREFIX",
    "MIN_PASSWORD_LENGTH",
    "TIMESTAMP_SKEW_SECONDS",
    "seal",
    "seal_session",
    "unseal",
    "unseal_session",
]

#: The first field of every seal this module reads or writes.
MAC_PREFIX = "Fe26.2"
#: Passwords shorter than this (in UTF-16 code units, as JavaScript counts) are refused, as by iron.
MIN_PASSWORD_LENGTH = 32
#: A seal still opens up to this many seconds after its expiry (iron's ``timestampSkewSec``).
TIMESTAMP_SKEW_SECONDS = 60

_VERSION_DELIMITER = "~"
_NOT_JSON = object()
_SINGLE_ID = "1"  # iron-session's id for a lone password
_CURRENT_VERSION = 2
_SALT_BYTES = 32
_IV_BYTES = 16
_KEY_BYTES = 32
_BLOCK = 16
_SKEW_MS = TIMESTAMP_SKEW_SECONDS * 1000
_STD_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
# The "=" padding an unpadded base64url field of length n needs, by n % 4 (1 is never valid, and stays refused).
_B64_PADDING = ("", "===", "==", "=")
# The PKCS#7 padding of n bytes, by n.
_PKCS7 = tuple(bytes((n,)) * n for n in range(_BLOCK + 1))
_JS_PARSE_INT = re.compile(r"[ \t\n\r\f\v]*([+-]?[0-9]+)")
_SURROGATE = re.compile("[\ud800-\udfff]")


# --------------------------------------------------------------------------------------------------------------
# Public API


def seal(data: Any, passwords: str | Mapping[str, str], *, ttl: int = 0, now: float | None = None) -> str:
    """Seal ``data`` the way iron-session's ``sealData(data, {password, ttl})`` does.

    ``data`` is any JSON value (dicts, lists, str, int, float, bool, ``None``); it is serialised exactly like
    JavaScript's ``JSON.stringify``. ``passwords`` is one password (id ``"1"``) or a map of numeric ids to
    passwords, in which case the highest id seals. ``ttl`` is the lifetime in seconds (``0``: no expiry, as
    authkit-nextjs writes its session cookie); ``now`` overrides the current time (seconds since the epoch).

    Raises :class:`~authkit_core.errors.ConfigurationError` for an unusable password and :class:`TypeError` for
    data that is not JSON.
    """
    password_id, password = _sealing_password(passwords)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0:
        raise ValueError("ttl must be a whole number of seconds >= 0")
    plaintext = _to_utf8(_js_stringify(data))

    encryption_salt = os.urandom(_SALT_BYTES).hex()
    iv = os.urandom(_IV_BYTES)
    pad = _BLOCK - len(plaintext) % _BLOCK
    encryptor = Cipher(algorithms.AES(_derive_key(password, encryption_salt)), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(plaintext + bytes((pad,)) * pad) + encryptor.finalize()

    expiration = str(_now_ms(now) + ttl * 1000) if ttl else ""
    mac_base = "*".join(
        (MAC_PREFIX, password_id, encryption_salt, _b64url_encode(iv), _b64url_encode(ciphertext), expiration)
    )
    hmac_salt = os.urandom(_SALT_BYTES).hex()
    digest = hmac.new(_derive_key(password, hmac_salt), mac_base.encode("ascii"), hashlib.sha256).digest()
    return f"{mac_base}*{hmac_salt}*{_b64url_encode(digest)}{_VERSION_DELIMITER}{_CURRENT_VERSION}"


def unseal(sealed: str, passwords: str | Mapping[str, str], *, now: float | None = None) -> Any:
    """Open a seal written by :func:`seal`, iron-session or @workos-inc/node and return its JSON value.

    ``passwords`` is one password (id ``"1"``) or the map of every id that may have sealed. ``now`` overrides
    the current time (seconds since the epoch). A seal with an expiry is refused once
    ``expiry <= now - 60 s``.

    Raises :class:`~authkit_core.errors.SealError` (and nothing else) for any sealed string that does not open:
    code ``invalid_seal``, ``bad_mac``, ``unknown_password`` or ``expired_seal``. An unusable password raises
    :class:`~authkit_core.errors.ConfigurationError`.
    """
    if not isinstance(sealed, str) or not sealed.isascii():
        raise SealError("the seal is not an ASCII string", code="invalid_seal")
    body, _, version_text = sealed.partition(_VERSION_DELIMITER)
    parts = body.split("*")
    if len(parts) != 8:
        raise SealError("the seal does not have 8 fields", code="invalid_seal")
    prefix, password_id, encryption_salt, iv_b64, ciphertext_b64, expiration, hmac_salt, mac = parts
    if prefix != MAC_PREFIX:
        raise SealError("the seal does not start with Fe26.2", code="invalid_seal")
    if expiration and not expiration.isdigit():
        raise SealError("the seal's expiry is not a number", code="invalid_seal")
    if not encryption_salt or not hmac_salt:
        raise SealError("the seal has an empty salt", code="invalid_seal")

    password = _opening_password(passwords, password_id or "default")

    mac_base = body[: len(body) - len(hmac_salt) - len(mac) - 2]
    mac_state = _mac_state(password, hmac_salt).copy()
    mac_state.update(mac_base.encode("ascii"))
    if not hmac.compare_digest(_b64url_encode(mac_state.digest()), mac):
        raise SealError("the seal's MAC does not match (tampered, or sealed with another password)", code="bad_mac")

    if expiration and _expired(expiration, now):
        raise SealError("the seal has expired", code="expired_seal")

    data = _decrypt_json(_aes_key(password, encryption_salt), iv_b64, ciphertext_b64)
    if not version_text:
        return data
    if version_text == "2" or _js_parse_int(version_text.split(_VERSION_DELIMITER, 1)[0]) == _CURRENT_VERSION:
        return data
    # A version 1 seal (iron-session 6/7) keeps the data in ``persistent``; iron-session 8 spreads it.
    persistent = data.get("persistent") if isinstance(data, dict) else None
    return dict(persistent) if isinstance(persistent, dict) else {}


def seal_session(
    session: Session, passwords: str | Mapping[str, str], *, ttl: int = 0, now: float | None = None
) -> str:
    """Seal ``session`` into the camelCase payload authkit-nextjs keeps in its ``wos-session`` cookie."""
    return seal(session.to_json(), passwords, ttl=ttl, now=now)


def unseal_session(sealed: str, passwords: str | Mapping[str, str], *, now: float | None = None) -> Session:
    """Open a ``wos-session`` cookie value (from authkit-nextjs, @workos-inc/node or :func:`seal_session`).

    Raises :class:`~authkit_core.errors.SealError` when the seal does not open or its payload is not a session
    (code ``invalid_seal``).
    """
    data = unseal(sealed, passwords, now=now)
    try:
        return Session.from_json(data)
    except (InvalidResponseError, TypeError, ValueError):
        raise SealError("the sealed payload is not a session", code="invalid_seal") from None


# --------------------------------------------------------------------------------------------------------------
# Passwords and keys


def _sealing_password(passwords: str | Mapping[str, str]) -> tuple[str, str]:
    """The (id, password) iron-session seals with: ``"1"`` for one password, else the highest numeric id."""
    if isinstance(passwords, str):
        _check_password(passwords)
        return _SINGLE_ID, passwords
    if not isinstance(passwords, Mapping) or not passwords:
        raise ConfigurationError("no sealing password given")
    highest = -1
    for key in passwords:
        # iron-session picks the id with Number(); past 15 digits that is no longer exact.
        if not isinstance(key, str) or not key.isascii() or not key.isdigit() or len(key) > 15:
            raise ConfigurationError("to seal with a password map, every password id must be a whole number")
        highest = max(highest, int(key))
    password_id = str(highest)
    password = passwords.get(password_id)
    if password is None:
        # iron-session looks the highest id up by its number, so "02" never matches 2.
        raise ConfigurationError("the highest password id must be written without leading zeros")
    _check_password(password)
    return password_id, password


def _opening_password(passwords: str | Mapping[str, str], password_id: str) -> str:
    """The password for ``password_id``, as iron-session looks it up (one password is id ``"1"``)."""
    if isinstance(passwords, str):
        password: str | None = passwords if password_id == _SINGLE_ID else None
    elif (type(passwords) is MappingProxyType or isinstance(passwords, Mapping)) and passwords:  # skip the ABC check
        password = passwords.get(password_id)
    else:
        raise ConfigurationError("no password given to open seals with")
    if password is None:
        raise SealError("the seal names a password id this application does not have", code="unknown_password")
    _check_password(password)
    return password


def _check_password(password: object) -> None:
    if not isinstance(password, str):
        raise ConfigurationError("a sealing password must be a string")
    # JavaScript counts UTF-16 code units; that count is never below the number of code points.
    if len(password) < MIN_PASSWORD_LENGTH and (
        len(password.encode("utf-16-le", "surrogatepass")) // 2 < MIN_PASSWORD_LENGTH
    ):
        raise ConfigurationError(f"a sealing password must be at least {MIN_PASSWORD_LENGTH} characters long")


def _derive_key(password: str, salt: str) -> bytes:
    """PBKDF2-HMAC-SHA1, one iteration, 32 bytes, salted with the salt's text."""
    return hashlib.pbkdf2_hmac("sha1", _to_utf8(password), _to_utf8(salt), 1, _KEY_BYTES)


# (kind, password, salt) -> the keyed object an unseal needs; salts are per seal, so this remembers the keys of the
# seals recently opened (sealing uses fresh salts and is not cached; see ``cache.py``)
_unseal_keys: BoundedCache[tuple[str, str, str], Any] = shared_capacity(BoundedCache("seal_keys", 2048), per_session=2)


def _mac_state(password: str, salt: str) -> hmac.HMAC:
    """An HMAC-SHA256 keyed with the derived key and fed nothing: each check works on a ``copy()`` of it, which
    skips keying HMAC again for a seal seen before (never updated itself, so it is safe to share)."""
    key = ("mac", password, salt)
    state: hmac.HMAC | None = _unseal_keys.get(key)
    if state is None:
        state = hmac.new(_derive_key(password, salt), digestmod=hashlib.sha256)
        _unseal_keys.put(key, state)
    return state


def _aes_key(password: str, salt: str) -> algorithms.AES:
    """The AES-256 key object for the derived encryption key (immutable, shared)."""
    key = ("aes", password, salt)
    aes: algorithms.AES | None = _unseal_keys.get(key)
    if aes is None:
        aes = algorithms.AES(_derive_key(password, salt))
        _unseal_keys.put(key, aes)
    return aes


# --------------------------------------------------------------------------------------------------------------
# Decryption


def _decrypt_json(key: algorithms.AES, iv_b64: str, ciphertext_b64: str) -> Any:
    iv = _b64url_decode(iv_b64)
    ciphertext = _b64url_decode(ciphertext_b64)
    if len(iv) != _IV_BYTES or not ciphertext or len(ciphertext) % _BLOCK:
        raise SealError("the seal's IV or ciphertext has the wrong length", code="invalid_seal")
    decryptor = Cipher(key, modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext)
    tail = decryptor.finalize()  # empty: without padding, whole blocks come out of update()
    if tail:
        padded += tail
    pad = padded[-1]
    # The ciphertext is authenticated by now, so this check is not a padding oracle.
    if not 1 <= pad <= _BLOCK or not padded.endswith(_PKCS7[pad]):
        raise SealError("the seal's padding is invalid", code="invalid_seal")
    plaintext = padded[:-pad]
    value = _fast_json(plaintext)
    return value if value is not _NOT_JSON else _parse_json(plaintext)


def _fast_json(plaintext: bytes) -> Any:
    """The payload parsed by msgspec (several times faster than ``json``), or ``_NOT_JSON`` when msgspec refuses it.

    Whatever msgspec accepts, ``json`` reads to the same value (big integers stay exact); what it refuses (lone
    surrogate escapes, numbers that overflow to infinity, invalid UTF-8, malformed text ...) goes to
    :func:`_parse_json`, which decides exactly as before.
    """
    try:
        return _MSGSPEC_JSON.decode(plaintext)
    except Exception:  # any refusal: the exact parser below has the last word
        return _NOT_JSON


def _parse_json(plaintext: bytes) -> Any:
    """``JSON.parse`` of the UTF-8 payload with the standard library; :class:`SealError` when it is not JSON."""
    # The errors below are raised outside the ``except`` blocks: a decode error holds the plaintext (tokens),
    # and it must not ride along as the SealError's ``__context__``.
    text: str | None
    try:
        text = plaintext.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None:
        raise SealError("the sealed payload is not UTF-8", code="invalid_seal")
    if not text:
        return None  # iron-webcrypto answers null for an empty payload
    value: Any
    try:
        value = _JSON_DECODER.decode(text)
    except (ValueError, RecursionError):
        value = _NOT_JSON
    if value is _NOT_JSON:
        raise SealError("the sealed payload is not JSON", code="invalid_seal")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


# JSON.parse: no NaN or Infinity (Python's json reads them by default).
_JSON_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
# The fast path: refuses NaN and Infinity too, keeps integers of any size exact.
_MSGSPEC_JSON = msgspec.json.Decoder()


def _b64url_encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_STD_TO_URLSAFE).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url: ``+``, ``/``, ``=`` and anything else outside the alphabet are refused."""
    if "+" in text or "/" in text or "=" in text:
        raise SealError("the seal has a field that is not base64url", code="invalid_seal")
    try:
        # pybase64 (SIMD) with validate=True refuses every character outside the alphabet and "-_".
        return pybase64.b64decode(text + _B64_PADDING[len(text) & 3], altchars=b"-_", validate=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        raise SealError("the seal has a field that is not base64url", code="invalid_seal") from None


def _js_parse_int(text: str) -> int | None:
    """JavaScript's ``parseInt(text, 10)`` for ASCII text (``None`` for NaN)."""
    match = _JS_PARSE_INT.match(text)
    return int(match.group(1)) if match else None


def _expired(expiration: str, now: float | None) -> bool:
    """Whether a (digits-only) expiry in milliseconds is past, allowing iron's 60 s of clock skew."""
    # More than 20 digits is beyond any real clock (and int() refuses thousands of digits).
    digits = expiration.lstrip("0") or "0"
    return len(digits) <= 20 and int(digits) <= _now_ms(now) - _SKEW_MS


def _now_ms(now: float | None) -> int:
    """``Date.now()``: whole milliseconds since the epoch."""
    return math.floor((time.time() if now is None else now) * 1000)


# --------------------------------------------------------------------------------------------------------------
# JSON.stringify


def _to_utf8(text: str) -> bytes:
    """UTF-8 as JavaScript's ``TextEncoder`` writes it: a lone surrogate becomes U+FFFD."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").encode("utf-8")


def _js_stringify(data: Any) -> str:
    """``JSON.stringify(data)`` for JSON-shaped Python data (compact, non-ASCII kept, JavaScript numbers)."""
    if _needs_js_encoder(data):
        out: list[str] = []
        _encode_js(data, out)
        text = "".join(out)
    else:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Python strings may hold surrogates: join the pairs, escape the lone ones as JSON.stringify does.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        text = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text


def _needs_js_encoder(value: Any) -> bool:
    """Whether ``value`` holds something ``json.dumps`` writes differently from JavaScript or refuses: floats,
    non-string keys, tuples, other mappings and subclasses. Plain dicts, lists, str, int, bool and ``None`` (the
    usual session) take the fast C encoder."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is int or kind is bool or item is None:
            continue
        if kind is dict:
            for key in item:
                if type(key) is not str:
                    return True
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        else:
            return True
    return False


def _encode_js(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_js_number(value))
    elif isinstance(value, Mapping):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(json.dumps(_js_key(key), ensure_ascii=False))
            out.append(":")
            _encode_js(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode_js(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _js_key(key: object) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return "null" if key is None else _js_number(key) if isinstance(key, float) else json.dumps(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _js_number(value: float) -> str:
    """ECMAScript ``Number::toString`` of a float (``null`` for NaN and infinities, as JSON.stringify)."""
    if not math.isfinite(value):
        return "null"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    text = float.__repr__(abs(value))  # the shortest digits that round-trip, as in JavaScript
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)  # value = 0.<digits> * 10**point
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
