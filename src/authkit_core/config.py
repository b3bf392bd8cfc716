"""Configuration: :class:`AuthKitConfig`, built in code or from the same ``WORKOS_*`` variables as authkit-nextjs.

Every problem raises :class:`~authkit_core.errors.ConfigurationError` naming the variable and saying how to fix it,
at start-up rather than on the first request.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal
from urllib.parse import urlsplit

from .errors import ConfigurationError

__all__ = ["COOKIE_NAME_PREFIXES", "DEFAULT_COOKIE_MAX_AGE", "MIN_PASSWORD_LENGTH", "AuthKitConfig", "SameSite"]

SameSite = Literal["lax", "strict", "none"]

#: authkit-nextjs's default cookie lifetime: 400 days (the longest browsers keep a cookie).
DEFAULT_COOKIE_MAX_AGE = 60 * 60 * 24 * 400
#: iron-session refuses shorter passwords.
MIN_PASSWORD_LENGTH = 32
#: Cookie name prefixes browsers enforce (RFC 6265bis): only a secure origin may set such a cookie, and a
#: ``__Host-`` cookie has no ``Domain`` and ``Path=/``, so no sibling subdomain or plain-http page can plant one.
COOKIE_NAME_PREFIXES = ("__Host-", "__Secure-")
# An RFC 6265 cookie name (a token): what every browser and server accepts.
_COOKIE_DOMAIN = re.compile(
    r"\.?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@dataclass(frozen=True, slots=True)
class AuthKitConfig:
    """Everything authkit-session needs to know about your WorkOS application.

    ``cookie_password`` is one password (at least 32 characters) or, for rotation, a mapping of password id to
    password: new seals use the highest id, and any listed id can be opened.
    """

    client_id: str
    api_key: str = field(repr=False)
    redirect_uri: str
    cookie_password: str | Mapping[str, str] = field(repr=False)
    cookie_name: str = "wos-session"
    cookie_max_age: int = DEFAULT_COOKIE_MAX_AGE
    cookie_domain: str | None = None
    cookie_samesite: SameSite = "lax"
    api_hostname: str = "api.workos.com"
    api_https: bool = True
    api_port: int | None = None
    #: Refresh when the access token expires within this many seconds. ``None``: 60, or 30 for tokens that
    #: live 300 s or less (authkit-nextjs's rule). ``0`` turns proactive refresh off.
    refresh_buffer_seconds: int | None = None
    #: Clock skew allowed when checking ``exp``/``iat``/``nbf``.
    jwt_leeway_seconds: int = 30
    #: When set, the access token's ``iss`` must equal it.
    jwt_issuer: str | None = None
    #: How long fetched signing keys are trusted before a refetch.
    jwks_cache_ttl_seconds: float = 300.0
    #: How long the last good keys keep serving while the JWKS endpoint fails.
    jwks_stale_seconds: float = 3600.0
    #: The least time between two fetches triggered by an unknown ``kid``.
    jwks_refetch_cooldown_seconds: float = 30.0
    #: Timeout of one HTTP call to WorkOS.
    http_timeout_seconds: float = 10.0
    #: Retries of a call that failed transiently (408/429/5xx, network).
    max_retries: int = 3
    #: Origins (``https://app.example.com``) besides the redirect URI's that redirect targets may name as absolute
    #: URLs (``sign_out(return_to=...)``, return paths, hooks' results). Everything else must be a same-origin path.
    allowed_redirect_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ConfigurationError(
                "client_id is empty; set WORKOS_CLIENT_ID to your WorkOS client id (client_...)",
                variable="WORKOS_CLIENT_ID",
            )
        if not self.api_key:
            raise ConfigurationError(
                "api_key is empty; set WORKOS_API_KEY to your WorkOS secret key (sk_...)",
                variable="WORKOS_API_KEY",
            )
        _check_redirect_uri(self.redirect_uri)
        passwords = self.cookie_passwords
        if not passwords:
            raise ConfigurationError(
                "no cookie password; set WORKOS_COOKIE_PASSWORD to a random string of at least 32 characters",
                variable="WORKOS_COOKIE_PASSWORD",
            )
        if not isinstance(self.cookie_password, str):
            for pid in passwords:
                if not (isinstance(pid, str) and pid.isdigit() and len(pid) <= 15 and (pid == "0" or pid[0] != "0")):
                    raise ConfigurationError(
                        f"cookie password id {pid!r} is not a whole number; iron-session seals with the highest "
                        "numeric id, so use ids like {'1': old, '2': new}",
                        variable="WORKOS_COOKIE_PASSWORD",
                    )
        for pid, pw in passwords.items():
            if not isinstance(pw, str) or len(pw) < MIN_PASSWORD_LENGTH:
                raise ConfigurationError(
                    f"cookie password {pid!r} is shorter than {MIN_PASSWORD_LENGTH} characters; set "
                    "WORKOS_COOKIE_PASSWORD to a longer random string (e.g. `openssl rand -base64 32`)",
                    variable="WORKOS_COOKIE_PASSWORD",
                )
        if self.cookie_samesite not in ("lax", "strict", "none"):
            raise ConfigurationError(
                f"cookie_samesite must be lax, strict or none, not {self.cookie_samesite!r}",
                variable="WORKOS_COOKIE_SAMESITE",
            )
        if self.cookie_max_age < 0:
            raise ConfigurationError("cookie_max_age must be >= 0", variable="WORKOS_COOKIE_MAX_AGE")
        if self.api_port is not None and not 0 < self.api_port < 65536:
            raise ConfigurationError("api_port must be 1-65535", variable="WORKOS_API_PORT")
        if self.refresh_buffer_seconds is not None and self.refresh_buffer_seconds < 0:
            raise ConfigurationError("refresh_buffer_seconds must be >= 0")
        if self.max_retries < 0:
            raise ConfigurationError("max_retries must be >= 0")
        _check_cookie_name(self.cookie_name, self.cookie_domain)
        from .redirects import check_origins  # redirects reads the configuration: imported late, no cycle

        given: object = self.allowed_redirect_origins
        try:
            normal = check_origins([given] if isinstance(given, str) else list(self.allowed_redirect_origins))
        except ValueError as exc:
            raise ConfigurationError(f"allowed_redirect_origins: {exc}") from None
        object.__setattr__(self, "allowed_redirect_origins", normal)

    @property
    def cookie_passwords(self) -> Mapping[str, str]:
        """The passwords by id; a single password has id ``"1"`` as in iron-session."""
        return _password_map(self.cookie_password)

    @property
    def api_base_url(self) -> str:
        """``https://api.workos.com`` or whatever the hostname, scheme and port settings give."""
        scheme = "https" if self.api_https else "http"
        default_port = 443 if self.api_https else 80
        port = f":{self.api_port}" if self.api_port and self.api_port != default_port else ""
        return f"{scheme}://{self.api_hostname}{port}"

    @property
    def cookie_secure(self) -> bool:
        """Whether cookies get ``Secure``: when the app is served over https, always with SameSite=None, and always
        with a ``__Host-``/``__Secure-`` cookie name (browsers refuse such a cookie without it; they accept
        ``Secure`` cookies from ``http://localhost``)."""
        return (
            self.cookie_samesite == "none"
            or urlsplit(self.redirect_uri).scheme == "https"
            or self.cookie_name.startswith(COOKIE_NAME_PREFIXES)
        )

    @property
    def cookie_name_prefix(self) -> str:
        """The cookie name's ``__Host-`` or ``__Secure-`` prefix, or ``""``. The sign-in state cookie takes it too."""
        for prefix in COOKIE_NAME_PREFIXES:
            if self.cookie_name.startswith(prefix):
                return prefix
        return ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> AuthKitConfig:
        """Build the configuration from ``WORKOS_*`` variables (``os.environ`` by default).

        Keyword arguments override or add to what the environment gives.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value is not None and value.strip() else None

        kwargs: dict[str, object] = {}

        def required(key: str, name: str, what: str, *aliases: str) -> None:
            for candidate in (name, *aliases):
                value = get(candidate)
                if value is not None:
                    kwargs[key] = value
                    return
            if key not in overrides:
                raise ConfigurationError(f"{name} is not set; set it to {what}", variable=name)

        required("client_id", "WORKOS_CLIENT_ID", "your WorkOS client id (client_...)")
        required("api_key", "WORKOS_API_KEY", "your WorkOS secret key (sk_...)")
        required(
            "redirect_uri",
            "WORKOS_REDIRECT_URI",
            "the full URL of your sign-in callback, e.g. http://localhost:8000/callback",
            "NEXT_PUBLIC_WORKOS_REDIRECT_URI",
        )
        required(
            "cookie_password",
            "WORKOS_COOKIE_PASSWORD",
            "a random string of at least 32 characters (`openssl rand -base64 32`)",
        )
        if (name := get("WORKOS_COOKIE_NAME")) is not None:
            kwargs["cookie_name"] = name
        if (max_age := get("WORKOS_COOKIE_MAX_AGE")) is not None:
            kwargs["cookie_max_age"] = _parse_int("WORKOS_COOKIE_MAX_AGE", max_age)
        if (domain := get("WORKOS_COOKIE_DOMAIN")) is not None:
            kwargs["cookie_domain"] = domain
        if (samesite := get("WORKOS_COOKIE_SAMESITE")) is not None:
            if samesite.lower() not in ("lax", "strict", "none"):
                raise ConfigurationError(
                    f"WORKOS_COOKIE_SAMESITE is {samesite!r}; use lax, strict or none",
                    variable="WORKOS_COOKIE_SAMESITE",
                )
            kwargs["cookie_samesite"] = samesite.lower()
        if (hostname := get("WORKOS_API_HOSTNAME")) is not None:
            kwargs["api_hostname"] = hostname
        if (https := get("WORKOS_API_HTTPS")) is not None:
            kwargs["api_https"] = _parse_bool("WORKOS_API_HTTPS", https)
        if (port := get("WORKOS_API_PORT")) is not None:
            kwargs["api_port"] = _parse_int("WORKOS_API_PORT", port)
        kwargs.update(overrides)
        return cls(**kwargs)  # type: ignore[arg-type]


def _password_map(password: str | Mapping[str, str]) -> Mapping[str, str]:
    if isinstance(password, str):
        return _single_password(password)
    return MappingProxyType(dict(password))


@functools.lru_cache(maxsize=16)
def _single_password(password: str) -> Mapping[str, str]:
    # read on every request: one read-only map per password, not one per call
    return MappingProxyType({"1": password} if password else {})


def _check_redirect_uri(uri: str) -> None:
    parts = urlsplit(uri) if uri else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"redirect URI {uri!r} is not an absolute http(s) URL; set WORKOS_REDIRECT_URI to the full URL of "
            "your sign-in callback, e.g. http://localhost:8000/callback",
            variable="WORKOS_REDIRECT_URI",
        )


def _check_cookie_name(name: str, domain: str | None) -> None:
    if not isinstance(name, str) or not _COOKIE_NAME.fullmatch(name):
        raise ConfigurationError(
            f"cookie name {name!r} is not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~ only)",
            variable="WORKOS_COOKIE_NAME",
        )
    if domain is not None and not _COOKIE_DOMAIN.fullmatch(domain):
        raise ConfigurationError(
            f"cookie domain {domain!r} is not a domain name (e.g. example.com or .example.com)",
            variable="WORKOS_COOKIE_DOMAIN",
        )
    if name.startswith("__Host-") and domain:
        raise ConfigurationError(
            "a __Host- cookie cannot have a Domain (browsers refuse it); unset WORKOS_COOKIE_DOMAIN, or use a "
            "__Secure- name to share the cookie with subdomains",
            variable="WORKOS_COOKIE_DOMAIN",
        )


def _parse_int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigurationError(f"{name} is {value!r}; it must be a whole number", variable=name) from None


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} is {value!r}; use true or false", variable=name)
