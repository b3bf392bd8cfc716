"""The smallest complete apps: sign-in, a protected page, a permission check and sign-out (configured from the
``WORKOS_*`` variables; ``tests/frameworks/test_minimal_apps.py`` runs them against the emulator)."""
