"""End-to-end tests: the demo in a real browser."""
