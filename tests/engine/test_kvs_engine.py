"""The KVS engine directly: ordering, cursors, expiry purging, validation helpers."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from pytest_forge_storage import ForgeStorageError
from pytest_forge_storage.engine import Engine
from pytest_forge_storage.engine._validation import depth_of, encoded_size, validate_value


def test_depth_counts_objects_and_arrays() -> None:
    assert [depth_of(v) for v in (1, "x", {}, [], [{}], {"a": [1, {"b": {}}]})] == [
        0,
        0,
        1,
        1,
        2,
        4,
    ]


def test_encoded_size_is_compact_utf8_json() -> None:
    assert encoded_size({"a": [1, 2]}) == len('{"a":[1,2]}')
    assert encoded_size("é") == 4


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1: "a"}, {"a": {1, 2}}, b"x"])
def test_values_json_cannot_carry_are_rejected(value: Any) -> None:
    with pytest.raises(ForgeStorageError) as info:
        validate_value(value, max_bytes=1000)
    assert info.value.code == "BAD_REQUEST"


def test_query_walks_only_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine()
    for i in range(1000):
        engine.kvs.put(f"k{i:04}", i)
    page = engine.query(
        limit=3, where=[{"property": "key", "condition": "BEGINS_WITH", "values": ["k05"]}]
    )
    assert [d["key"] for d in page["data"]] == ["k0500", "k0501", "k0502"]
    rest = engine.query(
        limit=100,
        after=page["cursor"],
        where=[{"property": "key", "condition": "BEGINS_WITH", "values": ["k05"]}],
    )
    assert len(rest["data"]) == 97
    assert "cursor" not in rest


def test_cursor_from_before_the_prefix_starts_at_the_prefix() -> None:
    engine = Engine()
    for key in ("a", "b1", "b2", "c"):
        engine.kvs.put(key, 1)
    after = engine.query(limit=1)["cursor"]  # positioned after "a"
    page = engine.query(
        after=after, where=[{"property": "key", "condition": "BEGINS_WITH", "values": ["b"]}]
    )
    assert [d["key"] for d in page["data"]] == ["b1", "b2"]


def test_expired_items_are_purged_while_walking(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytest_forge_storage._clock as clock

    now = [1_000_000.0]
    monkeypatch.setattr(clock.time, "time", lambda: now[0])
    engine = Engine()
    engine.kvs.put("a", 1, ttl=1)
    engine.kvs.put("b", 2)
    now[0] += 2
    assert [d["key"] for d in engine.query()["data"]] == ["b"]
    assert "a" not in engine.kvs._items


def test_concurrent_writers_lose_nothing() -> None:
    engine = Engine()

    def work(n: int) -> None:
        for i in range(500):
            with engine.lock:
                engine.set(f"t{n}-{i}", i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(engine.kvs) == 4000
