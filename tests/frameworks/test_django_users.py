"""``request.user`` under real Django, over real HTTP (wsgiref for WSGI, uvicorn for ASGI) against the WorkOS
emulator: the stateless and synced modes, Django's own ``login_required``/``permission_required`` on sync and
async views, the admin, Django's password login as the signed-out fallback, Django REST Framework, the
``authkit_clearsessions`` command against SQLite, and ``settings.AUTHKIT``.

Seed: alice is ``admin`` of ``org_acme`` (``posts:read``, ``posts:write``, ``users:manage``), bob a ``member``
(``posts:read``).
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .conftest import ALICE, BOB, JSON, Served, authorize, serve_asgi, serve_wsgi, sign_in

os.environ["DJANGO_SETTINGS_MODULE"] = "frameworks.django_settings"

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db.models.signals import post_save  # noqa: E402
from django.test import AsyncClient, Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from authkit_adapters.django import users as users_module  # noqa: E402
from authkit_adapters.django._settings import read_settings  # noqa: E402
from authkit_adapters.django.models import WorkOSIdentity  # noqa: E402
from authkit_adapters.django.users import AnonymousUser, AuthKitUser, Users  # noqa: E402
from authkit_core.engine import AuthKit  # noqa: E402
from authkit_core.models import User as WorkOSUser  # noqa: E402
from authkit_core.models import UserInfo  # noqa: E402
from authkit_core.storage import MemorySessionStore  # noqa: E402
from authkit_core.storage.sql import SQLSessionStore  # noqa: E402

SYNCED = ["authkit_adapters.django.backends.AuthKitBackend", "django.contrib.auth.backends.ModelBackend"]
STATELESS = ["django.contrib.auth.backends.ModelBackend"]
#: The integration's options used throughout: admins are superusers, bob's ``posts:read`` grants a Django one.
OPTIONS: dict[str, Any] = {
    "superuser_roles": ["admin"],
    "permission_map": {"blog.change_post": "posts:write", "auth.view_user": ["users:manage"]},
}


@pytest.fixture(scope="module", autouse=True)
def database() -> None:
    call_command("migrate", verbosity=0, interactive=False)


@pytest.fixture(autouse=True)
def no_users() -> None:
    get_user_model().objects.all().delete()


@pytest.fixture(scope="module", params=["wsgi", "asgi"])
def served(request: pytest.FixtureRequest, workos_emulator_server: Any) -> Iterator[Served]:
    serve = serve_wsgi if request.param == "wsgi" else serve_asgi
    with serve(workos_emulator_server) as served:
        served.kind = request.param  # type: ignore[attr-defined]
        yield served


@contextmanager
def mounted(served: Served, *, synced: bool, **options: Any) -> Iterator[Served]:
    """Serve the test site through a new Django handler, in the stateless or synced mode."""
    authkit = {"authkit": served.kit, **OPTIONS, **options}
    with override_settings(AUTHKIT=authkit, AUTHENTICATION_BACKENDS=SYNCED if synced else STATELESS):
        served.switch.app = WSGIHandler() if served.kind == "wsgi" else ASGIHandler()  # type: ignore[attr-defined]
        try:
            yield served
        finally:
            served.switch.app = None


@pytest.fixture
def stateless(served: Served, workos_emulator: Any) -> Iterator[Served]:
    with mounted(served, synced=False) as site:
        yield site


@pytest.fixture
def synced(served: Served, workos_emulator: Any) -> Iterator[Served]:
    with mounted(served, synced=True) as site:
        yield site


# --- stateless ----------------------------------------------------------------------------------------------------


def test_stateless_request_user_in_sync_and_async_views(stateless: Served) -> None:
    with stateless.browser() as client:
        anonymous = client.get("/dj/whoami").json()
        assert anonymous["type"] == "AnonymousUser"
        assert anonymous["is_authenticated"] is False
        assert anonymous["is_anonymous"] is True
        assert client.get("/dj/whoami-async").json()["is_authenticated"] is False
        sign_in(client, start="/account")
        me = client.get("/dj/whoami").json()
        assert me == {
            "type": "AuthKitUser",
            "is_authenticated": True,
            "is_anonymous": False,
            "username": ALICE,
            "email": ALICE,
            "first_name": "Alice",
            "is_staff": True,
            "is_superuser": True,
            "org": "org_acme",
            "posts_write": True,
            "change_post": True,
            "view_user": True,
        }
        assert client.get("/dj/whoami-async").json() | {"async": True} == {**me, "async": True}
    assert not WorkOSIdentity.objects.exists()  # stateless: nothing stored
    assert not get_user_model().objects.exists()


def test_stateless_member_permissions(stateless: Served) -> None:
    with stateless.browser() as client:
        sign_in(client, start="/account", email=BOB)
        me = client.get("/dj/whoami").json()
        assert (me["email"], me["is_staff"], me["is_superuser"]) == (BOB, False, False)
        assert (me["posts_write"], me["change_post"], me["view_user"]) == (False, False, False)


@pytest.mark.parametrize("path", ["/dj/account", "/dj/account-async"])
def test_django_login_required_goes_through_login_url_to_workos_and_back(stateless: Served, path: str) -> None:
    with stateless.browser() as client:
        first = client.get(path)
        assert first.status_code == 302
        assert first.headers["location"] == "/sign-in?next=" + path
        start = client.get(first.headers["location"])
        assert start.status_code == 302
        assert "/user_management/authorize?" in start.headers["location"]
        callback = client.get(authorize(start.headers["location"], ALICE))
        assert callback.status_code == 307
        assert callback.headers["location"] == path
        assert client.get(path).json()["email"] == ALICE
        # signed in but refused somewhere: the LOGIN_URL view answers 403 instead of looping through sign-in
        assert client.get("/sign-in?next=/admin/").status_code == 403


@pytest.mark.parametrize("path", ["/dj/write", "/dj/write-async"])
def test_django_permission_required_maps_to_workos_permissions(stateless: Served, path: str) -> None:
    with stateless.browser() as alice, stateless.browser() as bob:
        sign_in(alice, start="/account")
        sign_in(bob, start="/account", email=BOB)
        assert alice.get(path).status_code == 200
        assert bob.get(path).status_code == 403


def test_request_auth_is_deprecated_for_request_authkit(stateless: Served) -> None:
    with stateless.browser() as client:
        sign_in(client, start="/account")
        assert client.get("/dj/legacy-auth").json() == {"email": ALICE, "warned": ["DeprecationWarning"]}
        assert client.get("/").json()["email"] == ALICE  # the example site reads request.authkit


# --- synced -------------------------------------------------------------------------------------------------------


def test_synced_first_sign_in_creates_the_local_user(synced: Served) -> None:
    with synced.browser() as client:
        sign_in(client, start="/account")
        me = client.get("/dj/whoami").json()
        assert me["type"] == get_user_model().__name__
        assert (me["username"], me["email"], me["first_name"]) == (ALICE, ALICE, "Alice")
        assert (me["is_staff"], me["is_superuser"]) == (True, True)
        async_me = client.get("/dj/whoami-async").json()
        assert (async_me["username"], async_me["posts_write"]) == (ALICE, True)
    identity = WorkOSIdentity.objects.select_related("user").get(workos_id="user_alice")
    user = identity.user
    assert (user.email, user.first_name, user.last_name) == (ALICE, "Alice", "Anderson")
    assert user.is_superuser and user.is_staff
    assert not user.has_usable_password()
    assert user.last_login is not None  # user_logged_in was sent for the new WorkOS session
    assert identity.session_id


def test_synced_updates_only_what_changed(synced: Served) -> None:
    saves: list[str] = []

    def count(sender: Any, instance: Any, **kwargs: Any) -> None:
        saves.append(instance.get_username())

    post_save.connect(count, sender=get_user_model())
    try:
        with synced.browser() as client:
            sign_in(client, start="/account", email=BOB)
            client.get("/dj/whoami")
            saves.clear()
            for _ in range(3):
                assert client.get("/dj/whoami").json()["first_name"] == "Bob"
            assert saves == []  # unchanged: read only
            get_user_model().objects.filter(email=BOB).update(first_name="Robert", is_staff=True)
            me = client.get("/dj/whoami").json()
            assert (me["first_name"], me["is_staff"]) == ("Bob", False)  # WorkOS wins, role mapping applies
            assert saves == [BOB]
    finally:
        post_save.disconnect(count, sender=get_user_model())


def test_synced_permissions_combine_django_and_workos(synced: Served) -> None:
    from django.contrib.auth.models import Permission

    with synced.browser() as client:
        sign_in(client, start="/account", email=BOB)
        assert client.get("/dj/users").status_code == 403
        assert client.get("/dj/write").status_code == 403  # bob has posts:read only
        bob = get_user_model().objects.get(email=BOB)
        bob.user_permissions.add(Permission.objects.get(codename="view_user"))
        assert client.get("/dj/users").status_code == 200  # a Django model permission
        me = client.get("/dj/whoami").json()
        assert (me["view_user"], me["posts_write"]) == (True, False)
    with synced.browser() as client:
        sign_in(client, start="/account")
        assert client.get("/dj/write").status_code == 200  # a WorkOS permission
        assert client.get("/dj/write-async").status_code == 200


def test_synced_inactive_local_user_is_not_signed_in(synced: Served) -> None:
    with synced.browser() as client:
        sign_in(client, start="/account", email=BOB)
        assert client.get("/dj/whoami").json()["is_authenticated"] is True  # creates the local user
        assert get_user_model().objects.filter(email=BOB).update(is_active=False) == 1
        me = client.get("/dj/whoami").json()
        assert (me["type"], me["is_authenticated"]) == ("AnonymousUser", False)
        assert client.get("/dj/account").status_code == 302


def test_synced_links_an_existing_user_by_verified_email_only_when_asked(served: Served, workos_emulator: Any) -> None:
    model = get_user_model()
    existing = model.objects.create_user(username="bob-local", email=BOB, password="x")
    with mounted(served, synced=True) as site, site.browser() as client:
        sign_in(client, start="/account", email=BOB)
        client.get("/dj/whoami")  # creates the local user
    linked = WorkOSIdentity.objects.get(workos_id="user_bob").user
    assert linked.pk != existing.pk  # not asked: a new user (username: the email, since it is free)
    assert linked.get_username() == BOB
    model.objects.filter(pk=linked.pk).delete()
    with mounted(served, synced=True, link_users_by_email=True) as site, site.browser() as client:
        sign_in(client, start="/account", email=BOB)
        assert client.get("/dj/whoami").json()["username"] == "bob-local"
    assert WorkOSIdentity.objects.get(workos_id="user_bob").user.pk == existing.pk


def test_admin_with_a_superuser_mapped_from_a_workos_role(synced: Served) -> None:
    with synced.browser() as alice:
        sign_in(alice, start="/account")
        index = alice.get("/admin/")
        assert index.status_code == 200
        assert "Site administration" in index.text
        assert "WorkOS identities" in index.text  # the link table is in the admin
        assert alice.get("/admin/authkit/workosidentity/").status_code == 200
    with synced.browser() as bob:
        sign_in(bob, start="/account", email=BOB)
        refused = bob.get("/admin/")
        assert refused.status_code == 302
        assert refused.headers["location"] == "/admin/login/?next=/admin/"
        login_page = bob.get(refused.headers["location"])
        assert login_page.status_code == 200
        assert f"You are authenticated as {BOB}, but are not authorized to access this page" in login_page.text


def test_admin_login_routed_to_workos(synced: Served) -> None:
    with synced.browser() as client:
        refused = client.get("/sso-admin/")
        assert refused.status_code == 302
        assert refused.headers["location"] == "/sso-admin/login/?next=/sso-admin/"
        start = client.get(refused.headers["location"])
        assert "/user_management/authorize?" in start.headers["location"]
        callback = client.get(authorize(start.headers["location"], ALICE))
        assert callback.headers["location"] == "/sso-admin/"
        assert client.get("/sso-admin/").status_code == 200
    with synced.browser() as bob:
        sign_in(bob, start="/account", email=BOB)
        assert bob.get("/sso-admin/login/?next=/sso-admin/").status_code == 403  # signed in, not staff: no loop


def test_django_password_login_is_the_signed_out_fallback(synced: Served) -> None:
    get_user_model().objects.create_superuser(username="root", email="root@example.com", password="pw")
    with synced.browser() as client:
        page = client.get("/admin/login/?next=/admin/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token is not None
        login = client.post(
            "/admin/login/?next=/admin/",
            data={"username": "root", "password": "pw", "csrfmiddlewaretoken": token.group(1)},
            headers={"Referer": synced.base_url + "/admin/login/"},
        )
        assert login.status_code == 302, login.text
        assert client.get("/dj/whoami").json()["username"] == "root"  # Django's session user, WorkOS signed out
        assert client.get("/dj/whoami-async").json()["username"] == "root"
        sign_in(client, start="/account", email=BOB)
        assert client.get("/dj/whoami").json()["username"] == BOB  # a WorkOS session wins


def test_django_test_client_and_async_client(workos_emulator_server: Any, workos_emulator: Any) -> None:
    """In process, no server: Django's ``Client`` walks the sign-in (only the emulator is over HTTP), then
    ``AsyncClient`` reuses its cookies for an async view."""
    kit = AuthKit(workos_emulator_server.config(redirect_uri="http://testserver/callback"))
    try:
        with override_settings(AUTHKIT={"authkit": kit, **OPTIONS}, AUTHENTICATION_BACKENDS=SYNCED):
            client = Client(HTTP_ACCEPT="text/html")
            first = client.get("/dj/account")
            assert (first.status_code, first["Location"]) == (302, "/sign-in?next=/dj/account")
            start = client.get(first["Location"])
            back = client.get(authorize(start["Location"], BOB))
            assert (back.status_code, back["Location"]) == (307, "/dj/account")
            assert client.get("/dj/account").json() == {"email": BOB}
            async_client = AsyncClient()
            async_client.cookies = client.cookies
            me = asyncio.run(async_client.get("/dj/whoami-async")).json()
            assert (me["username"], me["posts_write"], me["async"]) == (BOB, False, True)
            assert asyncio.run(async_client.get("/dj/write-async")).status_code == 403
    finally:
        kit.close()


# --- Django REST Framework ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["stateless", "synced"])
def test_drf_authentication_and_permission_classes(served: Served, workos_emulator: Any, mode: str) -> None:
    with mounted(served, synced=mode == "synced") as site, site.browser() as alice, site.browser() as bob:
        signed_out = alice.get("/api/posts", headers=JSON)
        assert signed_out.status_code == 401
        assert signed_out.headers["www-authenticate"] == 'Cookie realm="api"'
        sign_in(alice, start="/account")
        sign_in(bob, start="/account", email=BOB)
        assert alice.get("/api/posts", headers=JSON).json() == {"user": ALICE, "auth": "UserInfo", "org": "org_acme"}
        assert bob.get("/api/posts", headers=JSON).status_code == 403
        refused = alice.post("/api/posts", headers=JSON)
        assert refused.status_code == 403
        assert "CSRF Failed" in refused.json()["detail"]
        token = "a" * 32
        alice.cookies.set("csrftoken", token)
        assert alice.post("/api/posts", headers={**JSON, "X-CSRFToken": token}).status_code == 201
        assert alice.get("/api/admins", headers=JSON).json() == {"admin": ALICE}
        assert bob.get("/api/admins", headers=JSON).status_code == 403
        # a bearer header is a credential of its own: a refused token is a 401, whatever the cookie says
        refused = bob.get("/api/admins", headers={**JSON, "Authorization": "Bearer x"})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        # a valid token: stateless, a user known by id only; synced, the local user already linked (not updated)
        token = workos_emulator.mint_access_token("user_alice", organization_id="org_acme")
        with site.browser() as api:
            got = api.get("/api/posts", headers={**JSON, "Authorization": f"Bearer {token}"}).json()
            assert got == {"user": ALICE if mode == "synced" else "", "auth": "UserInfo", "org": "org_acme"}
            stranger = workos_emulator.mint_access_token("user_carol", organization_id="org_acme")
            answer = api.get("/api/posts", headers={**JSON, "Authorization": f"Bearer {stranger}"})
            # synced, a token creates no local user: 401; stateless, Carol is known by id (a member: no posts:write)
            assert answer.status_code == (401 if mode == "synced" else 403)


# --- the management command ---------------------------------------------------------------------------------------


def test_clearsessions_command_deletes_expired_sql_sessions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sessions.sqlite3'}"
    store = SQLSessionStore(url, create_tables=True)
    now = time.time()
    rows = [("expired", now - 10), ("live", now + 3600)]
    with store._sync_engine().begin() as conn:
        for row_id, expires in rows:
            conn.execute(
                store.table.insert().values(
                    id=row_id,
                    user_id="user_x",
                    data=b"x",
                    created_at=now,
                    updated_at=now,
                    expires_at=expires,
                    version=0,
                )
            )
    try:
        out = io.StringIO()
        with override_settings(AUTHKIT={"store": store}):
            call_command("authkit_clearsessions", stdout=out)
        assert out.getvalue().strip() == "Deleted 1 expired session(s) from SQLSessionStore."
        with store._sync_engine().connect() as conn:
            assert [r.id for r in conn.execute(store.table.select())] == ["live"]
    finally:
        store.dispose()


@pytest.mark.parametrize(
    ("authkit", "says"),
    [
        ({}, "sealed cookie (CookieSessionStore)"),
        ({"store": MemorySessionStore()}, "MemorySessionStore keeps no expired sessions"),
    ],
)
def test_clearsessions_command_with_other_stores_says_what_it_does(authkit: dict[str, Any], says: str) -> None:
    out = io.StringIO()
    with override_settings(AUTHKIT=authkit):
        call_command("authkit_clearsessions", stdout=out)
    assert says in out.getvalue()


# --- settings and the user objects ---------------------------------------------------------------------------------


def test_settings_authkit_gives_the_configuration_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKOS_CLIENT_ID", "client_env")
    monkeypatch.setenv("WORKOS_API_KEY", "sk_env")
    monkeypatch.setenv("WORKOS_REDIRECT_URI", "http://127.0.0.1:9/callback")
    monkeypatch.setenv("WORKOS_COOKIE_PASSWORD", "p" * 32)
    integration = read_settings({"CLIENT_ID": "client_settings", "cookie_name": "app-session", "STAFF_ROLES": "ops"})
    kit = integration.middleware_options()["authkit"]
    assert (kit.config.client_id, kit.config.api_key, kit.config.cookie_name) == (
        "client_settings",
        "sk_env",
        "app-session",
    )
    assert integration.staff_roles == frozenset({"ops"})
    kit.close()
    with pytest.raises(ImproperlyConfigured, match="unknown keys: client_secret"):
        read_settings({"client_secret": "x"})
    with pytest.raises(ImproperlyConfigured, match="also api_key"):
        read_settings({"authkit": kit, "api_key": "x"})
    assert read_settings({}).middleware_options() == {}  # the middleware builds the engine from WORKOS_*


def _info(**claims: Any) -> UserInfo:
    user = WorkOSUser(id="user_1", email="ann@example.com", first_name="Ann")
    return UserInfo(user=user, session_id="session_1", access_token="t", **claims)


def test_stateless_user_object() -> None:
    integration = read_settings({**OPTIONS, "staff_roles": ["support"]})
    user = AuthKitUser(_info(role="support", permissions=("posts:write",)), integration)
    assert (user.pk, user.get_username(), user.get_full_name(), str(user)) == (
        "user_1",
        "ann@example.com",
        "Ann",
        "ann@example.com",
    )
    assert (user.is_staff, user.is_superuser, user.roles) == (True, False, ("support",))
    assert user.has_perms(["posts:write", "blog.change_post"])
    assert not user.has_perm("auth.view_user")
    assert user.has_module_perms("blog") and not user.has_module_perms("auth")
    with pytest.raises(NotImplementedError):
        user.save()


def test_stateless_without_django_contrib_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users_module.apps, "is_installed", lambda name: False)
    assert isinstance(users_module.anonymous_user(), AnonymousUser)
    with override_settings(AUTHENTICATION_BACKENDS=SYNCED):
        assert not Users.from_settings(read_settings({})).synced  # no contrib.auth: always stateless
