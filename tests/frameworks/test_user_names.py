"""The framework names of ``UserInfo``/``NoUserInfo`` (no framework import), and the ``scope["user"]``/
``scope["auth"]`` proxies marking the request as session-dependent only when read."""

from __future__ import annotations

from typing import Any

from authkit_adapters._scope_user import ScopeAuth, ScopeUser
from authkit_core.engine import AuthResult
from authkit_core.models import NoUserInfo, User, UserInfo


def info(**fields: Any) -> UserInfo:
    user = User(id="user_1", email="ann@example.com", **fields)
    return UserInfo(user=user, session_id="s", access_token="t", permissions=("posts:read", "posts:write"))


def test_user_info_names() -> None:
    ann = info(first_name="Ann", last_name="Lee")
    assert (ann.is_authenticated, ann.is_anonymous, ann.is_active) == (True, False, True)
    assert (ann.identity, ann.get_id(), ann.display_name) == ("user_1", "user_1", "Ann Lee")
    assert ann.scopes == ["posts:read", "posts:write"]
    assert info().display_name == "ann@example.com"
    assert info(first_name="Ann").display_name == "Ann"
    nobody = NoUserInfo()
    assert (nobody.is_authenticated, nobody.is_anonymous, nobody.is_active) == (False, True, False)
    assert (nobody.identity, nobody.get_id(), nobody.display_name, nobody.scopes) == (None, None, "", [])


class Context:
    """The part of ``RequestContext`` the proxies use."""

    used = False

    def __init__(self, user: UserInfo | NoUserInfo) -> None:
        self.auth = AuthResult(user)

    def with_auth(self, ensure_signed_in: bool = False) -> UserInfo | NoUserInfo:
        self.used = True
        return self.auth.user_info


def test_proxies_read_lazily_and_mark_the_request() -> None:
    ctx = Context(info(first_name="Ann"))
    user, auth = ScopeUser(ctx), ScopeAuth(ctx)  # type: ignore[arg-type]
    assert not ctx.used
    assert user.is_authenticated and user.display_name == "Ann" and user.identity == "user_1"
    assert ctx.used
    assert user.authkit is ctx.auth.user_info and user.user.email == "ann@example.com"
    assert auth.scopes == ["authenticated", "posts:read", "posts:write"]
    assert "ScopeUser" in repr(user) and "posts:read" in repr(auth)
    out = Context(NoUserInfo())
    assert ScopeAuth(out).scopes == []  # type: ignore[arg-type]
    assert out.used
    assert ScopeUser(out).organization_id is None  # type: ignore[arg-type]
