"""A local WorkOS API emulator and pytest fixtures, for testing apps with no WorkOS account and no network."""
