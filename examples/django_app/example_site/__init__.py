"""A minimal Django site protected by authkit-session (see README.md)."""
