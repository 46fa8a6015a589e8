"""The engine's history of writes under ``query_lag``: kept only while within the lag window.

A query under lag costs O(log n + page + w) only if the history holds no more than the keys
written within the window; these tests pin that it empties itself, and what it holds.
"""

from __future__ import annotations

import datetime as dt

import time_machine

from pytest_forge_storage._realism import Realism
from pytest_forge_storage.engine import Engine

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


def test_the_history_holds_only_the_keys_written_within_the_window() -> None:
    engine = Engine(realism=Realism(query_lag=2))
    engine.define_entity("thing", {"n": "integer"}, indexes=[{"name": "by-n", "range": ["n"]}])
    with time_machine.travel(START, tick=False) as traveller:
        for number in range(1000):
            engine.set(f"k{number}", number)
            engine.entity_set("thing", f"t{number}", {"n": number})
        assert len(engine.kvs.history.pending) == 1000
        assert engine.query(limit=1) == {"data": []}
        traveller.shift(1)
        engine.set("late", 1)
        traveller.shift(1)  # every write but "late" is visible: one write settles them all
        engine.set("later", 2)
        assert set(engine.kvs.history.pending) == {"late", "later"}
        assert engine.entity_query({"entityName": "thing", "indexName": "by-n", "limit": 1})[
            "data"
        ] == [{"key": "t0", "value": {"n": 0}}]
        assert engine.entity_store("thing").history.pending == {}
        traveller.shift(2)
        late = [{"property": "key", "condition": "BEGINS_WITH", "values": ["late"]}]
        assert [item["key"] for item in engine.query(where=late)["data"]] == ["late", "later"]
        assert engine.kvs.history.pending == {}


def test_an_overwritten_key_keeps_one_shown_entry_and_its_newer_versions() -> None:
    engine = Engine(realism=Realism(query_lag=5))
    engine.put("k", "seeded")
    with time_machine.travel(START, tick=False) as traveller:
        for value in range(3):
            engine.set("k", value)
            traveller.shift(1)
        pending = engine.kvs.history.pending["k"]
        assert pending.item is not None
        assert pending.item.value == "seeded"
        assert [item.value for _, _, item in pending.versions if item is not None] == [0, 1, 2]
        traveller.shift(3)  # the first two writes are 5 s old: the second one is shown
        assert engine.query()["data"] == [{"key": "k", "value": 1}]
        assert [item.value for _, _, item in pending.versions if item is not None] == [2]


def test_realism_off_keeps_no_history() -> None:
    engine = Engine()
    engine.set("k", 1)
    engine.delete("k")
    engine.batch_set([{"key": "b", "value": 1}])
    assert engine.kvs.history.pending == {}
