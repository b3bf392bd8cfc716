"""authkit-session's framework-neutral core: configuration, the WorkOS client, token verification, sealing,
the session engine and storage. Nothing in this package imports a web framework."""

from .breaker import CircuitBreaker
from .config import AuthKitConfig
from .engine import AuthKit, AuthResult
from .errors import (
    AuthenticationError,
    AuthKitError,
    BearerRequestError,
    ConfigurationError,
    InvalidResponseError,
    OAuthError,
    ProviderBackoffError,
    ProviderUnavailableError,
    RateLimitError,
    SealError,
    SessionError,
    SessionUnavailableError,
    SignInRequiredError,
    SignInUnavailableError,
    TokenError,
    TokenRefreshError,
    WorkOSAPIError,
)
from .models import AuthenticationResponse, Impersonator, NoUserInfo, Session, User, UserInfo
from .organizations import Organization, OrganizationMembership

__all__ = [
    "AuthKit",
    "AuthKitConfig",
    "AuthKitError",
    "AuthenticationError",
    "AuthResult",
    "AuthenticationResponse",
    "BearerRequestError",
    "CircuitBreaker",
    "ConfigurationError",
    "Impersonator",
    "InvalidResponseError",
    "NoUserInfo",
    "OAuthError",
    "Organization",
    "OrganizationMembership",
    "ProviderBackoffError",
    "ProviderUnavailableError",
    "RateLimitError",
    "SealError",
    "Session",
    "SessionError",
    "SessionUnavailableError",
    "SignInRequiredError",
    "SignInUnavailableError",
    "TokenError",
    "TokenRefreshError",
    "User",
    "UserInfo",
    "WorkOSAPIError",
]
