"""A local WorkOS API emulator and pytest fixtures, for testing apps with no WorkOS account and no network."""

from .emulator import AUTH_ERROR_MESSAGES, Emulator, Fault, RecordedRequest
from .seed import Seed, SeedApiKey, SeedMembership, SeedOrganization, SeedUser
from .server import EmulatorServer

__all__ = [
    "AUTH_ERROR_MESSAGES",
    "Emulator",
    "EmulatorServer",
    "Fault",
    "RecordedRequest",
    "Seed",
    "SeedApiKey",
    "SeedMembership",
    "SeedOrganization",
    "SeedUser",
]
