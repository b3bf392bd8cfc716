"""authkit-session's framework-neutral core: configuration, the WorkOS client, token verification, sealing,
the session engine and storage. Nothing in this package imports a web framework."""

from .config import AuthKitConfig
from .engine import AuthKit, AuthResult
from .errors import (
    AuthenticationError,
    AuthKitError,
    ConfigurationError,
    InvalidResponseError,
    OAuthError,
    ProviderUnavailableError,
    RateLimitError,
    SealError,
    SessionError,
    SessionUnavailableError,
    SignInRequiredError,
    TokenError,
    TokenRefreshError,
    WorkOSAPIError,
)
from .models import AuthenticationResponse, Impersonator, NoUserInfo, Session, User, UserInfo

__all__ = [
    "AuthKit",
    "AuthKitConfig",
    "AuthKitError",
    "AuthenticationError",
    "AuthResult",
    "AuthenticationResponse",
    "ConfigurationError",
    "Impersonator",
    "InvalidResponseError",
    "NoUserInfo",
    "OAuthError",
    "ProviderUnavailableError",
    "RateLimitError",
    "SealError",
    "Session",
    "SessionError",
    "SessionUnavailableError",
    "SignInRequiredError",
    "TokenError",
    "TokenRefreshError",
    "User",
    "UserInfo",
    "WorkOSAPIError",
]
