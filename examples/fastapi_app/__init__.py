"""A minimal FastAPI app using authkit-session's dependencies (see README.md)."""
