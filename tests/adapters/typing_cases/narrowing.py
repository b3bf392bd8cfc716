"""Checked by tests/adapters/test_typing.py with mypy: ensure_signed_in=True narrows to UserInfo."""

from authkit_adapters import asgi, wsgi
from authkit_core.models import NoUserInfo, UserInfo


async def a() -> None:
    sure: UserInfo = await asgi.with_auth(ensure_signed_in=True)
    maybe: UserInfo | NoUserInfo = await asgi.with_auth()
    r: UserInfo = await asgi.refresh_session("org_1", ensure_signed_in=True)
    print(sure.user.email, maybe, r)


def s() -> None:
    sure: UserInfo = wsgi.with_auth(ensure_signed_in=True)
    r: UserInfo = wsgi.refresh_session(ensure_signed_in=True)
    bad: UserInfo = wsgi.with_auth()  # must be an error
    print(sure, r, bad)
