"""pytest fixtures that start the local WorkOS emulator (registered automatically as a pytest plugin)."""
