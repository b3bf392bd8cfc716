"""Registered redirect URIs: where the emulator may send a browser after sign-in and after sign-out.

WorkOS only redirects to URIs registered for the application (dashboard, Redirects: the sign-in "Redirect URIs"
and the "Sign-out redirects"). The emulator does the same with the seed's ``redirect_uris`` and ``logout_uris``
plus the ones registered while it runs (:meth:`~authkit_core.testing.emulator.Emulator.register_redirect_uri`,
:meth:`~authkit_core.testing.emulator.Emulator.register_logout_uri`, and
:meth:`~authkit_core.testing.emulator.Emulator.config`, which registers what it hands out). The rules:

- URIs are compared after normalising: scheme and host lower-case, the scheme's default port dropped, an empty
  path read as ``/``. URIs with a user name or password are never accepted.
- A sign-in ``redirect_uri`` must equal a registered redirect URI: host (``localhost`` is not ``127.0.0.1``), port,
  path and query all count. There are no wildcards (WorkOS's subdomain wildcards are not emulated).
- A sign-out ``return_to`` must equal a registered logout URI, or start with what precedes the ``*`` of a registered
  logout URI ending in ``*`` (``http://127.0.0.1:8000/*`` allows every page of that site). A ``*`` is accepted only
  as the last character, after a path.
- The default logout URI, where the logout endpoint sends a browser that gave no ``return_to`` or an unregistered
  one, is the first registered logout URI without ``*``. Without one, the endpoint answers a page.

Registered URIs are configuration, like the signing keys: :meth:`~authkit_core.testing.emulator.Emulator.reset`
keeps them.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ..page import render_message_page
from .asgi import _Response
from .state import _State

__all__ = ["normalize_uri"]

_DEFAULT_PORTS = {"http": 80, "https": 443}

_HOW_TO_REGISTER = (
    "To register it: add it to the {key} list of the seed JSON (or run authkit-emulator {flag} URI), call "
    "emulator.{method}(uri) from Python, or build the app's AuthKitConfig with emulator.config(redirect_uri=...), "
    "which registers that redirect URI and every page of its site as a logout URI."
)


def normalize_uri(uri: str) -> str | None:
    """``uri`` in the form the emulator compares (see the module's rules), or ``None`` when it is not an absolute
    ``http``/``https`` URL with a host and no user name or password."""
    try:
        parts = urlsplit(uri.strip())
        port = parts.port
    except ValueError:  # a port that is not a number, a bad IPv6 literal
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or parts.username is not None or parts.password is not None:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, parts.fragment))


def _checked_redirect_uri(uri: str) -> str:
    """The normalised form of a sign-in redirect URI to register; ``ValueError`` when it cannot be one."""
    normalized = normalize_uri(uri) if isinstance(uri, str) else None
    if normalized is None or "*" in uri or urlsplit(uri).fragment:
        raise ValueError(
            f"invalid redirect URI {uri!r}: it must be an absolute http(s) URL with no fragment and no wildcard"
        )
    return normalized


def _checked_logout_uri(uri: str) -> str:
    """The normalised form of a logout URI to register (a trailing ``*`` kept); ``ValueError`` when invalid."""
    if not isinstance(uri, str):
        raise ValueError(f"invalid logout URI {uri!r}: it must be a string")
    prefix, star, rest = uri.partition("*")
    normalized = normalize_uri(prefix)
    if normalized is None or rest or (star and not urlsplit(prefix).path.startswith("/")):
        raise ValueError(
            f"invalid logout URI {uri!r}: it must be an absolute http(s) URL, with at most one '*', as its last "
            "character and after a path (http://127.0.0.1:8000/*)"
        )
    return normalized + star


def _logout_uri_matches(registered: str, return_to: str) -> bool:
    """Whether the normalised ``return_to`` is allowed by the normalised registered logout URI."""
    if registered.endswith("*"):
        return return_to.startswith(registered[:-1])
    return return_to == registered


def _difference_hint(uri: str, registered: list[str]) -> str | None:
    """A sentence naming the one part (host, port or path) by which ``uri`` differs from a registered URI."""
    wanted = urlsplit(uri)
    for other in registered:
        have = urlsplit(other)
        if wanted.scheme != have.scheme:
            continue
        same_path = (wanted.path, wanted.query) == (have.path, have.query)
        if same_path and wanted.port == have.port and wanted.hostname != have.hostname:
            return (
                f"It differs from {other} only by its host ({wanted.hostname} instead of {have.hostname}). Browsers "
                "keep separate cookies for each host name: open the app on the host of a registered redirect URI "
                "and set its redirect URI (WORKOS_REDIRECT_URI) to that registered URI."
            )
        if same_path and wanted.hostname == have.hostname and wanted.port != have.port:
            return f"It differs from {other} only by its port ({wanted.port} instead of {have.port})."
        if wanted.netloc == have.netloc and not same_path:
            return f"It has the host and port of {other} but another path or query."
    return None


def _listing(kind: str, uris: list[str]) -> str:
    return f"Registered {kind}: {', '.join(uris)}" if uris else f"No {kind} are registered."


class _Redirects(_State):
    """The registered redirect and logout URIs, and the checks of the authorize and logout endpoints."""

    _redirect_uris: list[str]  # normalised, in registration order (the seed's first)
    _logout_uris: list[str]  # normalised; a trailing "*" is a prefix

    def _init_redirects(self) -> None:
        """Register the seed's URIs (``ValueError`` naming the seed key for an invalid one)."""
        self._redirect_uris = []
        self._logout_uris = []
        for uri in self._seed.redirect_uris:
            try:
                self.register_redirect_uri(uri)
            except ValueError as exc:
                raise ValueError(f"seed key 'redirect_uris': {exc}") from None
        for uri in self._seed.logout_uris:
            try:
                self.register_logout_uri(uri)
            except ValueError as exc:
                raise ValueError(f"seed key 'logout_uris': {exc}") from None

    @property
    def redirect_uris(self) -> list[str]:
        """The registered sign-in redirect URIs (normalised), the seed's first."""
        with self._lock:
            return list(self._redirect_uris)

    @property
    def logout_uris(self) -> list[str]:
        """The registered logout URIs (normalised; a trailing ``*`` allows every URL starting with the rest)."""
        with self._lock:
            return list(self._logout_uris)

    def register_redirect_uri(self, uri: str) -> None:
        """Accept ``uri`` as a sign-in ``redirect_uri`` from now on (exact match; ``ValueError`` when it is not an
        absolute http(s) URL, has a fragment or a ``*``). Registering one twice is harmless."""
        normalized = _checked_redirect_uri(uri)
        with self._lock:
            if normalized not in self._redirect_uris:
                self._redirect_uris.append(normalized)

    def register_logout_uri(self, uri: str) -> None:
        """Accept ``uri`` as a sign-out ``return_to`` from now on: exact match, or a prefix when it ends with ``*``
        (``http://127.0.0.1:8000/*``). ``ValueError`` when it is not an absolute http(s) URL or has a misplaced
        ``*``. The first one registered without ``*`` becomes the default logout URI."""
        normalized = _checked_logout_uri(uri)
        with self._lock:
            if normalized not in self._logout_uris:
                self._logout_uris.append(normalized)

    def _register_site(self, redirect_uri: str) -> None:
        """Register ``redirect_uri`` and every page of its site as a logout URI, when it is a valid redirect URI
        (what :meth:`Emulator.config` hands out)."""
        try:
            normalized = _checked_redirect_uri(redirect_uri)
        except ValueError:
            return
        parts = urlsplit(normalized)
        self.register_redirect_uri(normalized)
        self.register_logout_uri(f"{parts.scheme}://{parts.netloc}/*")

    @property
    def default_logout_uri(self) -> str | None:
        """Where logout sends a browser without a registered ``return_to``: the first logout URI without ``*``."""
        with self._lock:
            return next((u for u in self._logout_uris if not u.endswith("*")), None)

    def _redirect_uri_refusal(self, redirect_uri: str) -> _Response | None:
        """``None`` when ``redirect_uri`` is registered, else the 400 page that says so and how to register it."""
        normalized = normalize_uri(redirect_uri)
        if normalized is not None and normalized in self._redirect_uris:
            return None
        details = [_listing("redirect URIs", self._redirect_uris)]
        hint = _difference_hint(normalized, self._redirect_uris) if normalized is not None else None
        if hint is not None:
            details.append(hint)
        details.append(
            _HOW_TO_REGISTER.format(key="redirect_uris", flag="--redirect-uri", method="register_redirect_uri")
        )
        message = f"The redirect_uri {redirect_uri} is not registered for client {self.client_id}."
        return _Response.html(
            400, render_message_page("Invalid redirect URI", message, details, error="invalid_redirect_uri")
        )

    def _logout_destination(self, return_to: str | None) -> str | _Response | None:
        """Where the logout endpoint sends the browser: ``return_to`` when registered, else the default logout URI;
        ``None`` when neither was given (the signed-out page), or the 400 page for an unregistered ``return_to``
        with no default to fall back on."""
        if return_to:
            normalized = normalize_uri(return_to)
            if normalized is not None and any(_logout_uri_matches(u, normalized) for u in self._logout_uris):
                return return_to
        default = self.default_logout_uri
        if default is not None or not return_to:
            return default
        details = [
            _listing("logout URIs", self._logout_uris),
            _HOW_TO_REGISTER.format(key="logout_uris", flag="--logout-uri", method="register_logout_uri"),
        ]
        message = (
            f"You have been signed out, but the return_to URL {return_to} is not registered as a logout URI of "
            f"client {self.client_id}, so the emulator does not redirect there."
        )
        return _Response.html(
            400, render_message_page("Return URL not registered", message, details, error="invalid_return_to")
        )
