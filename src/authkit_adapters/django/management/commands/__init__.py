"""``authkit_clearsessions``."""
