"""The WorkOS API clients: :class:`WorkOSClient` (blocking) and :class:`AsyncWorkOSClient` (asyncio or trio).

Both are thin shells. Every decision (request bodies, retries, error classification, parsing) lives in the
flows of :mod:`authkit_core.workos_api`; a method here only drives one flow with :func:`~authkit_core.flow.run_sync`
or :func:`~authkit_core.flow.run_async`. URL helpers, which do no I/O, sit in a shared base class.

A client made without an ``http`` argument owns a pooled ``httpx`` client with ``config.http_timeout_seconds`` and
closes it in ``close()``/``aclose()`` (or at the end of a ``with``/``async with`` block); a client given one leaves
it open for its owner.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self, Unpack

import httpx

from . import organizations as orgs
from . import workos_api as api
from .config import AuthKitConfig
from .flow import run_async, run_sync
from .models import AuthenticationResponse
from .organizations import Organization, OrganizationMembership

__all__ = ["AsyncWorkOSClient", "WorkOSClient"]


class _WorkOSClientBase:
    """What both clients share: the configuration and the URLs the browser is sent to (no I/O)."""

    def __init__(self, config: AuthKitConfig, *, owns_http: bool) -> None:
        self.config = config
        self._owns_http = owns_http

    def get_authorization_url(
        self, *, state: str, code_challenge: str, **options: Unpack[api.AuthorizationOptions]
    ) -> str:
        """The AuthKit sign-in URL (see :func:`authkit_core.workos_api.authorization_url`)."""
        return api.authorization_url(self.config, state=state, code_challenge=code_challenge, **options)

    def get_logout_url(self, session_id: str, return_to: str | None = None) -> str:
        """The URL that ends WorkOS session ``session_id`` and then goes to ``return_to``."""
        return api.logout_url(self.config, session_id, return_to)

    @property
    def jwks_url(self) -> str:
        """The URL of this client's JSON Web Key Set."""
        return api.jwks_url(self.config)


class WorkOSClient(_WorkOSClientBase):
    """The blocking WorkOS client, over an ``httpx.Client``."""

    def __init__(self, config: AuthKitConfig, *, http: httpx.Client | None = None) -> None:
        super().__init__(config, owns_http=http is None)
        #: The ``httpx.Client`` requests go through.
        self.http = http if http is not None else httpx.Client(timeout=config.http_timeout_seconds)

    def authenticate_with_code(self, code: str, **options: Unpack[api.CodeExchangeOptions]) -> AuthenticationResponse:
        """Exchange the authorization code from the sign-in callback (and its PKCE verifier) for a session."""
        return run_sync(api.authenticate_with_code_flow(self.config, code, **options), self)

    def authenticate_with_refresh_token(
        self, refresh_token: str, organization_id: str | None = None, **options: Unpack[api.ClientMetadata]
    ) -> AuthenticationResponse:
        """Trade ``refresh_token`` (which then stops working) for new tokens, optionally in another
        organization."""
        flow = api.authenticate_with_refresh_token_flow(self.config, refresh_token, organization_id, **options)
        return run_sync(flow, self)

    def validate_api_key(self, value: str) -> dict[str, Any] | None:
        """The API key's description when WorkOS says ``value`` is a live key, else ``None``."""
        return run_sync(api.validate_api_key_flow(self.config, value), self)

    def fetch_jwks(self) -> dict[str, Any]:
        """The current JSON Web Key Set (``{"keys": [...]}``)."""
        return run_sync(api.fetch_jwks_flow(self.config), self)

    def list_organization_memberships(
        self, user_id: str | None = None, **options: Unpack[orgs.MembershipQuery]
    ) -> list[OrganizationMembership]:
        """Every (active, unless ``statuses`` says) membership of ``user_id`` (or in ``organization_id``), all pages
        followed (see :func:`authkit_core.organizations.list_organization_memberships_flow`)."""
        return run_sync(orgs.list_organization_memberships_flow(self.config, user_id=user_id, **options), self)

    def get_organization(self, organization_id: str) -> Organization:
        """The organization ``organization_id`` (``WorkOSAPIError`` ``entity_not_found`` when there is none)."""
        return run_sync(orgs.get_organization_flow(self.config, organization_id), self)

    def close(self) -> None:
        """Close the HTTP client if this client made it."""
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncWorkOSClient(_WorkOSClientBase):
    """The async WorkOS client, over an ``httpx.AsyncClient``; runs under asyncio and trio."""

    def __init__(self, config: AuthKitConfig, *, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(config, owns_http=http is None)
        #: The ``httpx.AsyncClient`` requests go through.
        self.http = http if http is not None else httpx.AsyncClient(timeout=config.http_timeout_seconds)

    async def authenticate_with_code(
        self, code: str, **options: Unpack[api.CodeExchangeOptions]
    ) -> AuthenticationResponse:
        """Exchange the authorization code from the sign-in callback (and its PKCE verifier) for a session."""
        return await run_async(api.authenticate_with_code_flow(self.config, code, **options), self)

    async def authenticate_with_refresh_token(
        self, refresh_token: str, organization_id: str | None = None, **options: Unpack[api.ClientMetadata]
    ) -> AuthenticationResponse:
        """Trade ``refresh_token`` (which then stops working) for new tokens, optionally in another
        organization."""
        flow = api.authenticate_with_refresh_token_flow(self.config, refresh_token, organization_id, **options)
        return await run_async(flow, self)

    async def validate_api_key(self, value: str) -> dict[str, Any] | None:
        """The API key's description when WorkOS says ``value`` is a live key, else ``None``."""
        return await run_async(api.validate_api_key_flow(self.config, value), self)

    async def fetch_jwks(self) -> dict[str, Any]:
        """The current JSON Web Key Set (``{"keys": [...]}``)."""
        return await run_async(api.fetch_jwks_flow(self.config), self)

    async def list_organization_memberships(
        self, user_id: str | None = None, **options: Unpack[orgs.MembershipQuery]
    ) -> list[OrganizationMembership]:
        """Async :meth:`WorkOSClient.list_organization_memberships`."""
        flow = orgs.list_organization_memberships_flow(self.config, user_id=user_id, **options)
        return await run_async(flow, self)

    async def get_organization(self, organization_id: str) -> Organization:
        """Async :meth:`WorkOSClient.get_organization`."""
        return await run_async(orgs.get_organization_flow(self.config, organization_id), self)

    async def aclose(self) -> None:
        """Close the HTTP client if this client made it."""
        if self._owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
