"""A local emulator of the parts of the WorkOS API that a session library talks to, as a pure ASGI 3 app.

It signs users in (the AuthKit authorize redirect, with a clickable HTML page or ``login_hint``), exchanges codes
and rotating refresh tokens on ``/user_management/authenticate``, serves the JWKS, ends sessions, validates API
keys and lists and edits organization memberships. Tests steer it from Python: edit roles and memberships (the
next refresh sees the change), make grants answer authentication errors, inject faults (status, delay, dropped
connection, malformed body), read the request log and rotate signing keys. Like WorkOS, it redirects browsers only
to registered URIs (the seed's ``redirect_uris`` and ``logout_uris``, :meth:`Emulator.register_redirect_uri`,
:meth:`Emulator.register_logout_uri`; :meth:`Emulator.config` registers the URI it hands out). See
``docs/emulator.md`` and ``docs/dev/emulator-api.md``.

Choices where WorkOS's exact answer is not documented:

- Authentication errors (``sso_required``, ``mfa_enrollment``, ``organization_selection_required``,
  ``email_verification_required``, ...) answer **403** with ``{code, message, pending_authentication_token, ...}``
  and also ``error``/``error_description`` set to the same code and message, so both the Python SDK (which reads
  ``code`` on a 403) and the node SDK (which reads ``error``) recognise them.
- Switching to an organization the user is not a member of answers **400** ``{"error": "invalid_grant",
  "error_description": "..."}``; the refresh token used stays valid (only a success rotates it).
- Reusing a rotated refresh token answers 400 ``invalid_grant`` and does not end the session.

State lives in memory behind a ``threading.Lock``: the server runs the app in its own thread while tests edit state
from theirs. Nothing is printed; the request log is in memory only.

Layout (one concern per module; import the public names from this package):

- ``app``: the :class:`Emulator` class, the ASGI entry point, routing and ``Idempotency-Key`` replay.
- ``asgi``: HTTP plumbing (the parsed request, responses, error bodies).
- ``state``: the seeded directory, issued codes and sessions, and the seed edits.
- ``keys``: signing keys, JWKS and rotation.
- ``sessions``: sessions and access tokens, logout and revoke.
- ``redirects``: the registered redirect and logout URIs, and the pages refusing the others.
- ``oauth``: the authorize redirect and the code and refresh grants.
- ``sign_ins``: the authorize request log, the per-user AuthKit session (``prompt=login``, ``max_age``,
  ``auth_time``) and the identity providers (``provider``, ``connection_id``, ``oauth_tokens``).
- ``management``: API keys, memberships and users endpoints.
- ``faults``: fault injection and the request log.
"""

from __future__ import annotations

from .app import IDEMPOTENCY_TTL_SECONDS, Emulator
from .faults import Fault, RecordedRequest
from .oauth import AUTH_ERROR_MESSAGES, CODE_TTL_SECONDS
from .sign_ins import OAUTH_PROVIDERS

__all__ = [
    "AUTH_ERROR_MESSAGES",
    "CODE_TTL_SECONDS",
    "IDEMPOTENCY_TTL_SECONDS",
    "OAUTH_PROVIDERS",
    "Emulator",
    "Fault",
    "RecordedRequest",
]
