"""Tests of the optional framework helpers (FastAPI/Starlette, Flask, Django) and their examples."""
