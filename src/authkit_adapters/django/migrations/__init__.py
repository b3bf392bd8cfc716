"""Migrations of the ``authkit`` app."""
