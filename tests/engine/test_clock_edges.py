"""The clock's edges: a test's clock near year 9999 (design: decide and document).

Forge writes ``expireTime`` as ISO-8601, which ends at 9999-12-31T23:59:59.999Z. A TTL that
would expire after that is refused at ``set`` with Forge's TTL error (400 ``BAD_REQUEST``),
rather than clamped, so stored TTLs stay exact across snapshots and restarts; everything
stored can always be read, rendered and snapshotted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from pytest_forge_storage import ForgeStorage, ForgeStorageError
from pytest_forge_storage.engine import Engine

NEAR_THE_END = dt.datetime(9999, 6, 1, tzinfo=dt.timezone.utc)
TTL_YEAR = {"ttl": {"value": 365, "unit": "DAYS"}}


def test_a_ttl_past_9999_is_refused_at_set() -> None:
    engine = Engine()
    engine.define_entity("thing", {"n": "integer"})
    with time_machine.travel(NEAR_THE_END, tick=False):
        for write in (
            lambda: engine.set("k", 1, options=TTL_YEAR),
            lambda: engine.set("k", 1, secret=True, options=TTL_YEAR),
            lambda: engine.entity_set("thing", "k", {"n": 1}, options=TTL_YEAR),
            lambda: engine.put("k", 1, ttl=365 * 86400),
        ):
            with pytest.raises(ForgeStorageError) as caught:
                write()
            assert (caught.value.code, caught.value.status) == ("BAD_REQUEST", 400)
            assert "9999-12-31" in caught.value.message
        result = engine.batch_set([{"key": "b", "value": 1, "options": TTL_YEAR}])
        assert result["failedKeys"][0]["error"]["code"] == "BAD_REQUEST"
        assert engine.count() == 0


def test_everything_stored_near_9999_reads_and_snapshots() -> None:
    storage = ForgeStorage()
    with time_machine.travel(NEAR_THE_END, tick=False):
        storage.set("k", {"v": 1}, ttl=dt.timedelta(days=30))
        storage.kvs["plain"] = 2
        got = storage._engine.get("k", options={"metadataFields": ["EXPIRE_TIME", "CREATED_AT"]})
        assert got["expireTime"] == "9999-07-01T00:00:00.000Z"
        data: Any = storage.snapshot()
        assert data["metadata"]["kvs"]["k"]["expireTime"] == "9999-07-01T00:00:00.000Z"
        again = ForgeStorage()
        again.restore(data)
        assert again.snapshot() == data
