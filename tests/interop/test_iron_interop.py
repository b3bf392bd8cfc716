"""Iron sealing against the real npm peers: iron-session 8.0.4 and @workos-inc/node 8.13.0, in both directions.

All cases run in one node process (``node/iron_interop.mjs``): Python seals first, node seals and opens in one
batch, and the tests below check both sides of every case.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest

from authkit_core.errors import SealError
from authkit_core.iron import _js_stringify, seal, seal_session, unseal, unseal_session
from authkit_core.models import Impersonator, Session, User
from conftest import NODE_DIR, require_node

pytestmark = pytest.mark.node

PASSWORD = "interop-password-0123456789abcdefghij"
OLD = "old-password-0123456789abcdefghijklmnop"
NEW = "new-password-0123456789abcdefghijklmnop"
ROTATION = {"1": OLD, "2": NEW}

DATA: dict[str, Any] = {
    "greeting": "héllo wörld ✓ 😀 \u2028",
    "controls": '\n\t\x00"\\',
    "numbers": [0, -1, 2.5, 1e21, 1e-7, 2**53],
    "flags": [True, False, None],
    "nested": {"empty": {}, "list": [], "deep": {"a": {"b": {"c": "d"}}}},
}
# Values whose JSON text differs between Python's json.dumps and JavaScript's JSON.stringify.
JS_TEXT_CASES: list[Any] = [
    {"a": 1.0, "b": 1e16, "c": 1e21, "d": 1.5e21, "e": -0.0},
    [1e-7, 1e-5, 0.0001, 2.0**60, 123.456, 1.5e-10, 5e-324, 0.1],
    {"s": "é ✓ 😀 \u2028\u2029 \x7f", "c": '\n\t\x00\x1f"\\', "lone": "\ud800", "pair": "\ud83d\ude00"},
]

ACCESS_TOKEN = (
    # {"alg":"RS256"} . {"sub":"user_01HZX","sid":"session_01","org_id":"org_01"} . signature
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzAxSFpYIiwic2lkIjoic2Vzc2lvbl8wMSIsIm9yZ19pZCI6Im9yZ18wMSJ9.c2lnbmF0dXJl"
)
CAMEL_USER: dict[str, Any] = {
    "object": "user",
    "id": "user_01HZX",
    "email": "ada@example.com",
    "emailVerified": True,
    "firstName": "Ada",
    "lastName": "Lovelace",
    "profilePictureUrl": "https://example.com/ada.png",
    "lastSignInAt": "2024-05-01T10:00:00.000Z",
    "externalId": None,
    "metadata": {"team": "engine"},
    "locale": "en-GB",
    "createdAt": "2024-01-01T00:00:00.000Z",
    "updatedAt": "2024-05-01T10:00:00.000Z",
}
SESSION = Session(
    access_token=ACCESS_TOKEN,
    refresh_token="rt_01HZXREFRESH",
    user=User.from_session(CAMEL_USER),
    impersonator=Impersonator(email="admin@example.com", reason="support ticket"),
    authentication_method="GoogleOAuth",
)


class Peer:
    """The batch: cases are queued, run in one node process, and answered by index."""

    def __init__(self) -> None:
        self.cases: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []

    def add(self, **case: Any) -> int:
        self.cases.append(case)
        return len(self.cases) - 1

    def run(self, node: str) -> None:
        done = subprocess.run(
            [node, "iron_interop.mjs"],
            cwd=NODE_DIR,
            input=json.dumps({"cases": self.cases}),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        self.results = json.loads(done.stdout)["results"]
        assert len(self.results) == len(self.cases)

    def value(self, index: int) -> Any:
        result = self.results[index]
        assert result["ok"], result.get("error")
        return result["value"]


# Python seals made before node runs, keyed by name; node answers keyed by name.
PY: dict[str, str] = {}
IDX: dict[str, int] = {}
SEALED_AT = 0.0


@pytest.fixture(scope="module")
def peer() -> Peer:
    global SEALED_AT
    node = require_node()
    p = Peer()
    SEALED_AT = time.time()

    # Python -> node
    PY["single"] = seal(DATA, PASSWORD)
    IDX["py_single"] = p.add(op="unseal", sealed=PY["single"], password=PASSWORD)
    PY["ttl"] = seal(DATA, PASSWORD, ttl=3600)
    IDX["py_ttl"] = p.add(op="unseal", sealed=PY["ttl"], password=PASSWORD)
    PY["expired"] = seal(DATA, PASSWORD, ttl=1, now=SEALED_AT - 120)
    IDX["py_expired"] = p.add(op="unseal", sealed=PY["expired"], password=PASSWORD)
    PY["rotation"] = seal(DATA, ROTATION)
    IDX["py_rotation"] = p.add(op="unseal", sealed=PY["rotation"], password=ROTATION)
    IDX["py_rotation_old_only"] = p.add(op="unseal", sealed=PY["rotation"], password={"1": OLD})
    PY["old"] = seal(DATA, OLD)
    IDX["py_old_in_rotation"] = p.add(op="unseal", sealed=PY["old"], password=ROTATION)
    IDX["py_wrong_password"] = p.add(op="unseal", sealed=PY["single"], password=NEW)
    PY["session"] = seal_session(SESSION, PASSWORD)
    IDX["py_session"] = p.add(op="unseal", sealed=PY["session"], password=PASSWORD)
    IDX["py_session_workos"] = p.add(op="workos_unseal", sealed=PY["session"], password=PASSWORD)
    for i, value in enumerate(JS_TEXT_CASES):
        PY[f"text{i}"] = seal(value, PASSWORD)
        IDX[f"py_text{i}"] = p.add(op="unseal", sealed=PY[f"text{i}"], password=PASSWORD)
        IDX[f"node_text{i}"] = p.add(op="seal", data=value, password=PASSWORD, ttl=0)
        IDX[f"js_text{i}"] = p.add(op="stringify", data=value)

    # node -> Python
    IDX["node_single"] = p.add(op="seal", data=DATA, password=PASSWORD, ttl=0)
    IDX["node_ttl"] = p.add(op="seal", data=DATA, password=PASSWORD, ttl=3600)
    IDX["node_rotation"] = p.add(op="seal", data=DATA, password=ROTATION, ttl=0)
    IDX["node_old"] = p.add(op="seal", data=DATA, password=OLD, ttl=0)
    IDX["node_session"] = p.add(op="seal", data=SESSION.to_json(), password=PASSWORD, ttl=0)
    IDX["workos_session"] = p.add(
        op="workos_seal",
        response={
            "accessToken": ACCESS_TOKEN,
            "refreshToken": "rt_01HZXREFRESH",
            "user": CAMEL_USER,
            "authenticationMethod": "GoogleOAuth",
            "impersonator": {"email": "admin@example.com", "reason": "support ticket"},
        },
        password=PASSWORD,
    )
    p.run(node)
    return p


# --- Python seals, node opens --------------------------------------------------------------------------------


def test_node_opens_a_python_seal(peer: Peer) -> None:
    assert peer.value(IDX["py_single"]) == DATA


def test_node_opens_a_python_seal_with_ttl(peer: Peer) -> None:
    assert peer.value(IDX["py_ttl"]) == DATA
    # iron-session answers an empty session for an expired seal.
    assert peer.value(IDX["py_expired"]) == {}


def test_node_opens_a_python_rotation_seal(peer: Peer) -> None:
    assert PY["rotation"].split("*")[1] == "2"
    assert peer.value(IDX["py_rotation"]) == DATA
    assert peer.value(IDX["py_rotation_old_only"]) == {}  # id 2 unknown there
    assert peer.value(IDX["py_old_in_rotation"]) == DATA
    assert peer.value(IDX["py_wrong_password"]) == {}  # bad MAC


def test_node_opens_a_python_session(peer: Peer) -> None:
    assert peer.value(IDX["py_session"]) == SESSION.to_json()
    opened = peer.value(IDX["py_session_workos"])
    assert opened == SESSION.to_json()
    assert opened["user"]["firstName"] == "Ada"


@pytest.mark.parametrize("i", range(len(JS_TEXT_CASES)))
def test_json_text_survives_both_ways(peer: Peer, i: int) -> None:
    # The bytes iron encrypts are exactly JSON.stringify's.
    assert _js_stringify(JS_TEXT_CASES[i]) == peer.value(IDX[f"js_text{i}"])
    from_python = peer.value(IDX[f"py_text{i}"])
    from_node = unseal(peer.value(IDX[f"node_text{i}"]), PASSWORD)
    # node's view of the Python seal and Python's view of node's seal are the same value.
    assert from_python == from_node
    assert json.dumps(from_python, sort_keys=True) == json.dumps(from_node, sort_keys=True)
    assert unseal(PY[f"text{i}"], PASSWORD) == from_node


# --- node seals, Python opens --------------------------------------------------------------------------------


def test_python_opens_a_node_seal(peer: Peer) -> None:
    sealed = peer.value(IDX["node_single"])
    assert sealed.endswith("~2")
    assert sealed.split("*")[5] == ""
    assert unseal(sealed, PASSWORD) == DATA
    assert unseal(sealed, {"1": PASSWORD}) == DATA


def test_python_opens_a_node_seal_with_ttl(peer: Peer) -> None:
    sealed = peer.value(IDX["node_ttl"])
    expiry_ms = int(sealed.split("*")[5])
    assert abs(expiry_ms - (SEALED_AT + 3600) * 1000) < 30_000
    assert unseal(sealed, PASSWORD) == DATA
    assert unseal(sealed, PASSWORD, now=expiry_ms / 1000 + 59) == DATA
    with pytest.raises(SealError) as info:
        unseal(sealed, PASSWORD, now=expiry_ms / 1000 + 61)
    assert info.value.code == "expired_seal"


def test_python_opens_a_node_rotation_seal(peer: Peer) -> None:
    sealed = peer.value(IDX["node_rotation"])
    assert sealed.split("*")[1] == "2"
    assert unseal(sealed, ROTATION) == DATA
    assert unseal(sealed, {"2": NEW}) == DATA
    assert unseal(peer.value(IDX["node_old"]), ROTATION) == DATA


def test_python_opens_a_node_session(peer: Peer) -> None:
    assert unseal_session(peer.value(IDX["node_session"]), PASSWORD) == SESSION


def test_python_opens_a_workos_node_sealed_session(peer: Peer) -> None:
    sealed = peer.value(IDX["workos_session"])
    assert sealed.startswith("Fe26.2*1*")
    assert sealed.endswith("~2")
    payload = unseal(sealed, PASSWORD)
    assert payload["organizationId"] == "org_01"  # read from the access token by @workos-inc/node
    assert payload["user"] == CAMEL_USER
    session = unseal_session(sealed, PASSWORD)
    assert session == SESSION
