"""A minimal Flask app using authkit-session's extension and decorators (see app.py)."""
