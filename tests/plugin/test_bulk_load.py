"""``restore()``, ``load()``, ``load_data()`` and the marker's ``data=`` load in bulk.

Every item is checked before anything is stored, then each store takes its items at once.
What users rely on: the result is what seeding the items one by one gives (values,
metadata, query order), a bad item changes nothing and its error names it.

Chunks of the sorted tables are made tiny (4 rows), so that these small stores already
span many chunks, as a 100k-item store does.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from pytest_forge_storage import ForgeStorage, ForgeStorageError
from pytest_forge_storage.engine import _table
from tests.conftest import AUTH, BASE

ATTRIBUTES = {"name": "string", "age": "integer", "team": "string"}
INDEXES = ["age", {"name": "by-team-age", "partition": ["team"], "range": ["age"]}]
START = datetime(2026, 6, 1, tzinfo=timezone.utc)
START_MS = 1780272000000


@pytest.fixture(autouse=True)
def tiny_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_table, "LOAD", 4)


@pytest.fixture
def storage(forge_storage: ForgeStorage, time_machine: Any) -> ForgeStorage:
    time_machine.move_to(START, tick=False)
    forge_storage.define_entity("employee", ATTRIBUTES, INDEXES)
    return forge_storage


def record(i: int) -> dict[str, Any]:
    return {"name": f"user {i}", "age": 20 + i % 7, "team": "ab"[i % 2]}


def post(operation: str, body: Any) -> dict[str, Any]:
    r = requests.post(BASE + operation, json=body, headers=AUTH, timeout=5)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def walk(operation: str, body: dict[str, Any], cursor_field: str) -> list[str]:
    """Every key, page by page (3 per page), following the cursors."""
    keys: list[str] = []
    cursor = None
    while True:
        page = post(operation, {**body, "limit": 3, **({cursor_field: cursor} if cursor else {})})
        keys += [item["key"] for item in page["data"]]
        cursor = page.get("cursor")
        if cursor is None:
            return keys


def every_order() -> dict[str, list[str]]:
    """What the app can see: KVS pages and each entity index, both directions."""
    entity = {"entityName": "employee"}
    return {
        "kvs": walk("query", {}, "after"),
        "kvs k1": walk(
            "query",
            {"where": [{"property": "key", "condition": "BEGINS_WITH", "values": ["k1"]}]},
            "after",
        ),
        "by-key": walk("entity/query", {**entity, "indexName": "by-key"}, "cursor"),
        "age desc": walk("entity/query", {**entity, "indexName": "age", "sort": "DESC"}, "cursor"),
        "team b": walk(
            "entity/query",
            {**entity, "indexName": "by-team-age", "partition": ["b"]},
            "cursor",
        ),
    }


def seed_one_by_one(storage: ForgeStorage, size: int, time_machine: Any) -> None:
    for i in range(size):
        storage.kvs[f"k{i}"] = {"n": i}
        storage.entity("employee")[f"e{i:02d}"] = record(i)
        time_machine.shift(timedelta(milliseconds=1))
    storage.set("temp", [1], ttl=timedelta(hours=1))
    storage.secrets["token"] = "s3cr3t"


def test_restore_of_a_snapshot_is_exact_in_values_metadata_and_order(
    storage: ForgeStorage, time_machine: Any
) -> None:
    seed_one_by_one(storage, 30, time_machine)
    saved, orders = storage.snapshot(), every_order()
    storage.reset()
    time_machine.shift(timedelta(minutes=5))
    storage.restore(saved)
    assert storage.snapshot() == saved
    assert every_order() == orders
    assert orders["team b"] == sorted(
        (f"e{i:02d}" for i in range(1, 30, 2)), key=lambda k: (20 + int(k[1:]) % 7, k)
    )


def test_load_data_equals_seeding_one_by_one(storage: ForgeStorage) -> None:
    data = {
        "kvs": {f"k{i}": {"n": i} for i in reversed(range(30))},  # any order in
        "entities": {"employee": {f"e{i:02d}": record(i) for i in range(30)}},
    }
    for key, value in data["kvs"].items():
        storage.kvs[key] = value
    for key, value in data["entities"]["employee"].items():
        storage.entity("employee")[key] = value
    one_by_one, one_by_one_orders = storage.snapshot(), every_order()
    storage.reset()
    storage.load_data(data)
    assert storage.snapshot() == one_by_one
    assert every_order() == one_by_one_orders
    assert one_by_one["metadata"]["kvs"]["k7"] == {"createdAt": START_MS, "updatedAt": START_MS}


def test_load_data_over_stored_items_keeps_their_created_at(
    storage: ForgeStorage, time_machine: Any
) -> None:
    for i in range(12):
        storage.kvs[f"k{i:02d}"] = i
        storage.entity("employee")[f"e{i:02d}"] = record(i)
    time_machine.shift(timedelta(minutes=1))
    storage.load_data(
        {
            "kvs": {f"k{i:02d}": -i for i in range(0, 24, 2)},
            "entities": {"employee": {f"e{i:02d}": {**record(i), "age": 99} for i in range(6)}},
        }
    )
    meta = storage.snapshot()["metadata"]
    later = START_MS + 60_000
    assert meta["kvs"]["k04"] == {"createdAt": START_MS, "updatedAt": later}  # replaced
    assert meta["kvs"]["k05"] == {"createdAt": START_MS, "updatedAt": START_MS}  # kept
    assert meta["kvs"]["k20"] == {"createdAt": later, "updatedAt": later}  # new
    assert meta["entities"]["employee"]["e03"] == {"createdAt": START_MS, "updatedAt": later}
    assert [storage.kvs[f"k{i:02d}"] for i in range(4)] == [0, 1, -2, 3]
    # the replaced records left their old index entries
    ages = walk("entity/query", {"entityName": "employee", "indexName": "age"}, "cursor")
    assert ages[-6:] == [f"e{i:02d}" for i in range(6)]
    assert len(ages) == 12


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "a KVS value",
        {"kvs": {"a": 1, "b": float("nan")}},
        "BAD_REQUEST",
        "data['kvs']['b']: Value nan",
    ),
    (
        "a secret too big",
        {"secrets": {"s": "x" * 200_000}},
        "MAX_SIZE",
        "data['secrets']['s']: The",
    ),
    (
        "an entity record",
        {"entities": {"employee": {"a": {"age": 1}, "b": {"age": "two"}}}},
        "INVALID_ENTITY_VALUE",
        "data['entities']['employee']['b']: Attribute \"age\"",
    ),
    (
        "metadata",
        {"kvs": {"a": 1}, "metadata": {"kvs": {"a": {"createdAt": "soon"}}}},
        "BAD_REQUEST",
        "metadata['kvs']['a']['createdAt'] must be epoch milliseconds",
    ),
    ("an undeclared entity", {"entities": {"manager": {"m": {}}}}, "INVALID_ENTITY_TYPE", ""),
    ("a key", {"kvs": {"a": 1, "b c!": 2}}, "INVALID_KEY", ""),
    ("an entity key", {"entities": {"employee": {"": {"age": 1}}}}, "EMPTY_KEY", ""),
]


@pytest.mark.parametrize("replace", [True, False], ids=["restore", "load_data"])
@pytest.mark.parametrize(
    ("data", "code", "message"), [case[1:] for case in BAD], ids=[case[0] for case in BAD]
)
def test_a_bad_item_changes_nothing_and_its_error_names_it(
    storage: ForgeStorage,
    time_machine: Any,
    replace: bool,
    data: dict[str, Any],
    code: str,
    message: str,
) -> None:
    seed_one_by_one(storage, 10, time_machine)
    before, orders = storage.snapshot(), every_order()
    load = storage.restore if replace else storage.load_data
    big = {**data, "kvs": {**{f"x{i}": i for i in range(20)}, **data.get("kvs", {})}}
    with pytest.raises(ForgeStorageError) as excinfo:
        load(big)
    assert excinfo.value.code == code
    assert excinfo.value.message.startswith(message)
    assert storage.snapshot() == before
    assert every_order() == orders


def test_load_of_a_dump_restores_expired_and_live_ttls(
    storage: ForgeStorage, time_machine: Any, tmp_path: Path
) -> None:
    storage.set("soon", 1, ttl=timedelta(minutes=1))
    storage.set("later", 2, ttl=timedelta(hours=1))
    storage.set("e1", {"age": 1}, entity="employee", ttl=timedelta(minutes=1))
    path = tmp_path / "store.json"
    storage.dump(path)
    time_machine.shift(timedelta(minutes=2))
    storage.reset()
    storage.load(path)
    assert dict(storage.kvs) == {"later": 2}
    assert list(storage.entity("employee")) == []
    meta = storage.snapshot()["metadata"]["kvs"]
    assert meta == {
        "later": {
            "createdAt": START_MS,
            "updatedAt": START_MS,
            "expireTime": "2026-06-01T01:00:00.000Z",
        }
    }


@pytest.mark.parametrize("how", ["load_data", "restore"])
def test_a_loaded_record_leaves_every_query_page_when_its_ttl_passes(
    storage: ForgeStorage, time_machine: Any, how: str
) -> None:
    # A page reads no record's expiry time while no stored record has one: records loaded
    # in bulk with a TTL must count as having one, as records set one by one do.
    seed_one_by_one(storage, 10, time_machine)
    data = storage.snapshot()
    data["entities"]["employee"]["e5"] = {"name": "ttl", "age": 20, "team": "a"}
    data["metadata"]["entities"]["employee"]["e5"] = {
        "createdAt": START_MS,
        "updatedAt": START_MS,
        "expireTime": "2026-06-01T00:01:00.000Z",
    }
    getattr(storage, how)(data)
    assert "e5" in every_order()["by-key"]
    time_machine.shift(timedelta(minutes=2))
    orders = every_order()
    assert [key for order in orders.values() for key in order if key == "e5"] == []
    assert orders["by-key"] == [f"e{i:02d}" for i in range(10)]


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ('{"kvs": {"k": NaN}}', "BAD_REQUEST", "data['kvs']['k']: "),
        ('{"kvs": {"k": 1, "n": null}}', "BAD_REQUEST", "data['kvs']['n']: Value cannot be null"),
        ('{"kvs": {"k": ' + "[" * 40 + "]" * 40 + "}}", "MAX_DEPTH", "data['kvs']['k']: "),
        ('{"entities": {"employee": {"e": {"age": "old"}}}}', "INVALID_ENTITY_VALUE",
         "data['entities']['employee']['e']: "),
    ],
)  # fmt: skip
def test_load_checks_every_value_of_the_file_it_parses(
    storage: ForgeStorage, tmp_path: Path, text: str, code: str, message: str
) -> None:
    # load() stores the values json.load made without copying them: they are still checked
    storage.kvs["kept"] = True
    path = tmp_path / "store.json"
    path.write_text(text)
    with pytest.raises(ForgeStorageError) as excinfo:
        storage.load(path)
    assert (excinfo.value.code, excinfo.value.message[: len(message)]) == (code, message)
    assert dict(storage.kvs) == {"kept": True}


@pytest.mark.parametrize("enabled", [True, False])
def test_a_load_leaves_the_garbage_collector_as_it_found_it(
    storage: ForgeStorage, tmp_path: Path, enabled: bool
) -> None:
    # loads pause the cyclic collector while they build; a test's own choice survives them
    import gc

    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text('{"kvs": {"k": 1}}')
    bad.write_text('{"kvs": {"k": null}}')
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        storage.load(good)
        assert gc.isenabled() is enabled
        with pytest.raises(ForgeStorageError):
            storage.load(bad)
        assert gc.isenabled() is enabled
        storage.restore({"kvs": {"k": 2}})
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert dict(storage.kvs) == {"k": 2}
