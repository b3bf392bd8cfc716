"""The storage tests' collection rule: a store that has only an asyncio client (``redis+asyncio-only`` in the
contract's ``STORES``) serves only async calls under asyncio, so its combinations with the sync face and with trio
are not collected at all (deselected, not skipped: a skip would read as a test that could not run)."""

from __future__ import annotations

import pytest

#: Contract stores that have only an asyncio client.
ASYNC_ONLY_STORES = frozenset({"redis+asyncio-only"})
_STORE_PARAMS = ("subject", "any_subject", "shared_subject")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the contract tests that pair an asyncio-only store with another face than asyncio."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        stores = {params[name] for name in _STORE_PARAMS if name in params}
        if stores & ASYNC_ONLY_STORES and params.get("face_kind", "sync") != "asyncio":
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
