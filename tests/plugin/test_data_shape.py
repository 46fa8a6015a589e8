"""``load()``, ``load_data()`` and ``restore()`` check the whole ``data`` shape first.

A shape error is ``ForgeStorageError`` ``BAD_REQUEST`` naming the place in the data (and,
as in 0.1.0, also a ``TypeError``/``ValueError``), raised before anything is stored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_forge_storage import ForgeStorage, ForgeStorageError

SHAPES: list[tuple[str, Any, str]] = [
    ("list", [], "data must be a dict"),
    ("unknown section", {"kvs": {"a": 1}, "kv": {}}, "Unknown data section 'kv'"),
    ("kvs list", {"kvs": []}, "data['kvs'] must be a dict, not list"),
    ("records list", {"entities": {"employee": []}}, "data['entities']['employee'] must be"),
    ("record int", {"entities": {"employee": {"e": 1}}}, "['employee']['e'] must be a dict"),
    ("metadata list", {"kvs": {"a": 1}, "metadata": []}, "data['metadata'] must be a dict"),
    (
        "metadata str",
        {"kvs": {"a": 1}, "metadata": {"kvs": {"a": "x"}}},
        "metadata['kvs']['a'] must be a dict",
    ),
    (
        "createdAt float",
        {"kvs": {"a": 1}, "metadata": {"kvs": {"a": {"createdAt": 1.5}}}},
        "['createdAt'] must be epoch milliseconds",
    ),
    (
        "createdAt negative",
        {"kvs": {"a": 1}, "metadata": {"kvs": {"a": {"createdAt": -1}}}},
        "['createdAt'] must be epoch milliseconds",
    ),
    (
        "expireTime naive",
        {"kvs": {"a": 1}, "metadata": {"kvs": {"a": {"expireTime": "2026-06-01T00:00:00"}}}},
        "['expireTime'] must be an ISO-8601 time with a zone",
    ),
    (
        "expireTime number",
        {"kvs": {"a": 1}, "metadata": {"kvs": {"a": {"expireTime": 5}}}},
        "['expireTime'] must be an ISO-8601 time",
    ),
    (
        "metadata without item",
        {"kvs": {"a": 1}, "metadata": {"secrets": {"a": {}}}},
        "metadata['secrets']['a'] describes no item in data['secrets']",
    ),
]


@pytest.fixture
def storage() -> ForgeStorage:
    storage = ForgeStorage()
    storage.define_entity("employee", {"age": "integer"})
    storage.kvs["keep"] = "me"
    return storage


def _load_file(storage: ForgeStorage, data: Any, tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    storage.load(path)


DOORS = {
    "load_data": lambda storage, data, tmp_path: storage.load_data(data),
    "restore": lambda storage, data, tmp_path: storage.restore(data),
    "load": _load_file,
}


@pytest.mark.parametrize("door", list(DOORS))
@pytest.mark.parametrize(("data", "words"), [c[1:] for c in SHAPES], ids=[c[0] for c in SHAPES])
def test_shape_errors_are_bad_request_naming_the_place(
    storage: ForgeStorage, tmp_path: Path, door: str, data: Any, words: str
) -> None:
    before = storage.snapshot()
    with pytest.raises(ForgeStorageError) as info:
        DOORS[door](storage, data, tmp_path)
    assert info.value.code == "BAD_REQUEST"
    assert info.value.status == 400
    assert words in info.value.message
    assert isinstance(info.value, (TypeError, ValueError))  # what 0.1.0 raised
    assert storage.snapshot() == before  # nothing half-loaded


def test_engine_errors_name_the_place_and_keep_their_code(storage: ForgeStorage) -> None:
    before = storage.snapshot()
    with pytest.raises(ForgeStorageError) as info:
        storage.load_data({"kvs": {"ok": 1}, "entities": {"employee": {"e1": {"age": "x"}}}})
    assert info.value.code == "INVALID_ENTITY_VALUE"
    assert info.value.message.startswith("data['entities']['employee']['e1']: ")
    assert storage.snapshot() == before
    with pytest.raises(ForgeStorageError) as info:
        storage.load_data({"secrets": {"": "x"}})
    assert info.value.code == "KEY_TOO_SHORT"
    assert info.value.message.startswith("data['secrets']: ")


def test_a_snapshot_still_round_trips(storage: ForgeStorage) -> None:
    storage.set("ttl", 1, ttl=60)
    storage.entity("employee")["e"] = {"age": 3}
    saved = storage.snapshot()
    fresh = ForgeStorage()
    fresh.define_entity("employee", {"age": "integer"})
    fresh.restore(saved)
    assert fresh.snapshot() == saved
