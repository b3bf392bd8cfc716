"""Access tokens: parse, verify (RS256 only) and map to :class:`~authkit_core.models.UserInfo`; the refresh rule.

Everything here is pure: no I/O, and the clock is a parameter. The JWKS caches in :mod:`authkit_core.jwks` fetch
the keys and call :func:`verify_access_token`. This runs on every request, so a token is parsed once
(:func:`parse_token`) and the parsed form can be handed to the verifier; signatures are checked with joserfc's
RS256 implementation and key objects, imported once by the cache.

Every failure is a :class:`~authkit_core.errors.TokenError` with a stable ``code``; no message contains the token.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import msgspec
import pybase64
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet, RSAKey
from joserfc.jws import JWSRegistry

from .errors import TokenError
from .models import Impersonator, Session, UserInfo

__all__ = [
    "ALGORITHM",
    "DEFAULT_REFRESH_BUFFER_SECONDS",
    "MAX_TOKEN_LENGTH",
    "SHORT_TOKEN_LIFETIME_SECONDS",
    "SHORT_TOKEN_REFRESH_BUFFER_SECONDS",
    "ParsedToken",
    "decode_token_header",
    "get_token_claims",
    "is_expired",
    "needs_refresh",
    "parse_token",
    "refresh_buffer",
    "token_expiry",
    "token_kid",
    "user_info_from_session",
    "verify_access_token",
]

#: The only signing algorithm accepted: WorkOS signs access tokens with RS256.
ALGORITHM = "RS256"
#: Refresh this many seconds before ``exp`` (authkit-nextjs's default) ...
DEFAULT_REFRESH_BUFFER_SECONDS = 60
#: ... or this many for tokens that live :data:`SHORT_TOKEN_LIFETIME_SECONDS` or less.
SHORT_TOKEN_REFRESH_BUFFER_SECONDS = 30
#: Tokens whose ``exp - iat`` is at most this get the short buffer.
SHORT_TOKEN_LIFETIME_SECONDS = 300
#: Longer strings are rejected before any decoding (bounds the work spent on garbage).
MAX_TOKEN_LENGTH = 64 * 1024

# joserfc's RS256 (RSASSA-PKCS1-v1_5 with SHA-256), looked up once from a registry that allows nothing else.
_RS256 = JWSRegistry(algorithms=[ALGORITHM]).get_alg(ALGORITHM)
_KEY_PARAMETERS: Any = {"alg": ALGORITHM, "use": "sig"}
# The "=" padding an unpadded base64url segment of length n needs, by n % 4 (1 is never valid, and stays refused).
_B64_PADDING = ("", "===", "==", "=")
_NOT_JSON = object()
# Claims that must not lie in the future.
_NOT_BEFORE_CLAIMS = ("nbf", "iat")
_MSGSPEC_JSON = msgspec.json.Decoder()


def _b64decode(segment: str) -> bytes:
    # The caller refused "+", "/" and "=", so with validate=True pybase64 (SIMD) accepts exactly base64url.
    return pybase64.b64decode(segment + _B64_PADDING[len(segment) & 3], altchars=b"-_", validate=True)


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    # msgspec first (several times faster); whatever it refuses is decided by json.loads exactly as before, and
    # whatever it accepts, json.loads reads to the same value.
    try:
        value = _MSGSPEC_JSON.decode(data)
    except Exception:  # any refusal: the standard library has the last word
        value = _NOT_JSON
    if value is _NOT_JSON:
        try:
            value = json.loads(data.decode("utf-8"))
        except (ValueError, RecursionError):
            raise TokenError(f"the token's {what} is not JSON", code="invalid_token") from None
    if not isinstance(value, dict):
        raise TokenError(f"the token's {what} is not a JSON object", code="invalid_token")
    return value


@functools.lru_cache(maxsize=64)
def _header(segment: str) -> Mapping[str, Any]:
    """A decoded header segment, read-only. Remembered: an issuer signs every token with one of a few headers."""
    return MappingProxyType(_json_object(_b64decode(segment), "header"))


@dataclass(frozen=True, slots=True)
class ParsedToken:
    """A compact JWS split and its header decoded, not yet verified. Build it with :func:`parse_token`."""

    header: Mapping[str, Any]
    signing_input: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    payload: bytes = field(repr=False)

    @property
    def alg(self) -> Any:
        """The header's ``alg`` (not checked yet)."""
        return self.header.get("alg")

    @property
    def kid(self) -> str | None:
        """The header's ``kid`` when it is a string, else ``None``."""
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None

    def claims(self) -> dict[str, Any]:
        """The payload decoded as a JSON object (unverified unless the token went through the verifier)."""
        return _json_object(self.payload, "payload")


def parse_token(token: str | ParsedToken) -> ParsedToken:
    """Split a compact JWS and decode its header; :class:`TokenError` ``invalid_token`` on anything malformed."""
    if type(token) is not str:
        if isinstance(token, ParsedToken):
            return token
        if not isinstance(token, str):
            raise TokenError("the token is not a string of acceptable length", code="invalid_token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("the token is not a string of acceptable length", code="invalid_token")
    segments = token.split(".")
    # strict base64 decoding refuses anything outside the alphabet but these three, which base64url never has
    if len(segments) != 3 or "+" in token or "/" in token or "=" in token:
        raise TokenError("the token is not a compact JWS (three base64url parts)", code="invalid_token")
    header_segment, payload_segment, signature_segment = segments
    try:
        payload = _b64decode(payload_segment)
        signature = _b64decode(signature_segment)
        header = _header(header_segment)
    except ValueError:
        raise TokenError("the token is not base64url encoded", code="invalid_token") from None
    return ParsedToken(
        header=header,
        # the segments decoded, so they are ASCII
        signing_input=token[: len(header_segment) + 1 + len(payload_segment)].encode("ascii"),
        signature=signature,
        payload=payload,
    )


def decode_token_header(token: str) -> dict[str, Any]:
    """The token's header, not verified."""
    return dict(parse_token(token).header)


def get_token_claims(token: str) -> dict[str, Any]:
    """The token's claims, decoded WITHOUT verifying the signature (authkit-nextjs's ``getTokenClaims``).

    Only for reading a token this app already verified or does not rely on; raises :class:`TokenError`
    ``invalid_token`` on garbage.
    """
    return parse_token(token).claims()


def token_kid(token: str) -> str | None:
    """The ``kid`` in the token's header (``None`` when absent); :class:`TokenError` on garbage."""
    return parse_token(token).kid


#: The latest plausible time claim (9999-12-31T23:59:59Z); later ones, infinity and NaN are not usable times.
MAX_TIMESTAMP = 253_402_300_799.0


def _number(value: object) -> float | None:
    """A time claim (``exp``, ``iat``, ``nbf``) as a float, or ``None`` when it is not a usable time: a bool, a
    string, an integer too large for a float, infinity or NaN (``1e400`` parses as infinity), or a value outside
    ``0 .. MAX_TIMESTAMP``. An ``exp`` that is ``None`` here never counts as "not expired"."""
    kind = type(value)
    if kind is float:
        number: float = value  # type: ignore[assignment]
    elif kind is not int and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return None
    else:
        try:
            number = float(value)  # type: ignore[arg-type]
        except OverflowError:
            return None
    # a NaN fails both comparisons; infinities fail one
    return number if 0.0 <= number <= MAX_TIMESTAMP else None


def token_expiry(claims: Mapping[str, Any]) -> float | None:
    """The token's ``exp`` as a usable time (see :func:`is_expired`), or ``None``: what a cache of anything derived
    from the token may keep it until."""
    return _number(claims.get("exp"))


def is_expired(claims: Mapping[str, Any], *, now: float, leeway: float = 0) -> bool:
    """Whether ``exp`` has passed: a token is valid while ``now < exp + leeway``. No usable ``exp`` counts as
    expired."""
    exp = _number(claims.get("exp"))
    return exp is None or not now < exp + leeway


def verify_access_token(
    token: str | ParsedToken,
    key_set: KeySet,
    *,
    leeway: float,
    issuer: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify an access token against ``key_set`` and return its claims.

    Checks, in order: the header's ``alg`` is RS256 (before any key is touched, so ``none``, HS256 with the
    public key as the HMAC secret and every other algorithm are refused), a key with the token's ``kid`` exists,
    the RS256 signature, ``exp`` is present and not passed, ``iat``/``nbf`` are not in the future (all with
    ``leeway`` seconds of clock skew), and ``iss`` equals ``issuer`` when one is given.

    Raises :class:`TokenError` with code ``invalid_token``, ``unsupported_algorithm``, ``unknown_key``,
    ``invalid_signature``, ``token_expired``, ``token_not_yet_valid`` or ``invalid_issuer``.
    """
    parsed = token if type(token) is ParsedToken else parse_token(token)
    header = parsed.header
    alg = header.get("alg")
    if alg != ALGORITHM:
        shown = alg if isinstance(alg, str) and len(alg) <= 20 else "?"
        raise TokenError(f"algorithm {shown!r} is not accepted (only RS256)", code="unsupported_algorithm")
    if "crit" in header or header.get("b64", True) is not True:
        raise TokenError("the token uses a JWS extension this library does not support", code="invalid_token")
    kid = header.get("kid")
    try:
        key = key_set.get_by_kid(kid if isinstance(kid, str) else None, _KEY_PARAMETERS)
    except InvalidKeyIdError:
        key = None
    if not isinstance(key, RSAKey):
        raise TokenError("no RS256 signing key matches the token's kid", code="unknown_key")
    try:
        valid = _RS256.verify(parsed.signing_input, parsed.signature, key)
    except (JoseError, ValueError):  # a key whose key_ops forbid "verify"
        valid = False
    if not valid:
        raise TokenError("the token's signature does not verify", code="invalid_signature")

    claims = _json_object(parsed.payload, "payload")
    if now is None:
        now = time.time()
    exp = _number(claims.get("exp"))
    if exp is None:
        raise TokenError("the token has no usable exp claim (a finite time up to year 9999)", code="invalid_token")
    if not now < exp + leeway:  # is_expired
        raise TokenError("the token has expired", code="token_expired")
    for name in _NOT_BEFORE_CLAIMS:
        if name in claims:
            value = _number(claims[name])
            if value is None:
                raise TokenError(f"the token's {name} claim is not a usable time", code="invalid_token")
            if not value <= now + leeway:
                raise TokenError(f"the token's {name} is in the future", code="token_not_yet_valid")
    if issuer is not None and claims.get("iss") != issuer:
        raise TokenError("the token's issuer is not the expected one", code="invalid_issuer")
    return claims


def _str_tuple(value: object) -> tuple[str, ...] | None:
    if type(value) is not list and not isinstance(value, (list, tuple)):
        return None
    out = tuple(value)
    for item in out:  # usually all strings: then the tuple is the answer
        if type(item) is not str:
            return tuple([item for item in out if isinstance(item, str)])
    return out


def user_info_from_session(session: Session, claims: Mapping[str, Any]) -> UserInfo:
    """Build the request's :class:`UserInfo` from a stored session and its (verified) access-token claims.

    ``sid, org_id, role, roles, permissions, entitlements, feature_flags`` come from the claims (lists become
    tuples; absent ones are ``None``); ``user``, ``access_token`` and ``impersonator`` from the session, the
    impersonator falling back to the token's ``act.sub``. Raises :class:`TokenError` ``subject_mismatch`` when
    ``sub`` is not the stored user's id (as authkit-nextjs does) and ``invalid_token`` when ``sid`` is missing.
    """
    user = session.user
    get = claims.get
    if get("sub") != user.id:
        raise TokenError("the access token's subject is not the session's user", code="subject_mismatch")
    sid = get("sid")
    if not isinstance(sid, str):
        raise TokenError("the access token has no sid claim", code="invalid_token")
    impersonator = session.impersonator
    act = get("act")
    if impersonator is None and act is not None and isinstance(act, Mapping) and isinstance(act.get("sub"), str):
        impersonator = Impersonator(email=act["sub"])
    org_id, role = get("org_id"), get("role")
    return UserInfo(
        user=user,
        session_id=sid,
        access_token=session.access_token,
        organization_id=org_id if isinstance(org_id, str) else None,
        role=role if isinstance(role, str) else None,
        roles=_str_tuple(get("roles")),
        permissions=_str_tuple(get("permissions")),
        entitlements=_str_tuple(get("entitlements")),
        feature_flags=_str_tuple(get("feature_flags")),
        impersonator=impersonator,
    )


def refresh_buffer(claims: Mapping[str, Any], configured: int | None) -> int:
    """Seconds before ``exp`` at which a session is refreshed.

    ``configured`` wins when set (``0`` turns proactive refresh off). Otherwise authkit-nextjs's rule: 60 s, or
    30 s when the token lives 300 s or less (``exp - iat``).
    """
    if configured is not None:
        return configured
    exp, iat = _number(claims.get("exp")), _number(claims.get("iat"))
    if exp is not None and iat is not None and exp - iat <= SHORT_TOKEN_LIFETIME_SECONDS:
        return SHORT_TOKEN_REFRESH_BUFFER_SECONDS
    return DEFAULT_REFRESH_BUFFER_SECONDS


def needs_refresh(claims: Mapping[str, Any], *, now: float, buffer: float) -> bool:
    """Whether to refresh proactively: ``exp < now + buffer``. ``buffer <= 0`` never refreshes proactively (an
    expired token is :func:`is_expired`'s business); otherwise a token without a usable ``exp`` needs it."""
    if buffer <= 0:
        return False
    exp = _number(claims.get("exp"))
    return exp is None or exp < now + buffer
