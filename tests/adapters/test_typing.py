"""``with_auth``/``refresh_session`` with ``ensure_signed_in=True`` are typed to return ``UserInfo`` (mypy)."""

from __future__ import annotations

from pathlib import Path

from mypy import api

CASE = Path(__file__).parent / "typing_cases" / "narrowing.py"


def test_ensure_signed_in_narrows_to_user_info() -> None:
    stdout, _, status = api.run(["--strict", "--no-incremental", "--no-error-summary", str(CASE)])
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    # exactly the one deliberate mistake: a plain with_auth() may be signed out
    assert status == 1 and len(errors) == 1, stdout
    assert "narrowing.py:17:" in errors[0] and "UserInfo | NoUserInfo" in errors[0]
