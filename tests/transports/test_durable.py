"""``DurableStore``: the SQLite copy that ``--db`` keeps, across reopening and ``kill -9``."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pytest_forge_storage import ForgeStorage
from pytest_forge_storage.server._durable import Change, DurableStore

T0 = 1780272000000  # 2026-06-01T00:00:00Z


def item(value: Any, created: int = T0, updated: int = T0, expire: str | None = None) -> Any:
    out: dict[str, Any] = {"value": value, "createdAt": created, "updatedAt": updated}
    if expire is not None:
        out["expireTime"] = expire
    return out


def test_changes_come_back_in_the_data_shape(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with DurableStore(path) as store:
        store.apply(
            [
                Change("default", "kvs", None, "b", item({"n": 1}, updated=T0 + 5)),
                Change("default", "kvs", None, "a", item([1, "two", None])),
                Change("default", "secrets", None, "token", item("s3cret")),
                Change(
                    "default",
                    "entity",
                    "employee",
                    "e1",
                    item({"age": 30}, expire="2026-06-02T00:00:00.000Z"),
                ),
                Change("other", "kvs", None, "x", item(True)),
            ]
        )
    with DurableStore(path) as store:
        data = store.load()
    assert data == {
        "kvs": {"a": [1, "two", None], "b": {"n": 1}},
        "secrets": {"token": "s3cret"},
        "entities": {"employee": {"e1": {"age": 30}}},
        "metadata": {
            "kvs": {
                "a": {"createdAt": T0, "updatedAt": T0},
                "b": {"createdAt": T0, "updatedAt": T0 + 5},
            },
            "secrets": {"token": {"createdAt": T0, "updatedAt": T0}},
            "entities": {
                "employee": {
                    "e1": {
                        "createdAt": T0,
                        "updatedAt": T0,
                        "expireTime": "2026-06-02T00:00:00.000Z",
                    }
                }
            },
        },
        "installations": {
            "other": {
                "kvs": {"x": True},
                "secrets": {},
                "entities": {},
                "metadata": {
                    "kvs": {"x": {"createdAt": T0, "updatedAt": T0}},
                    "secrets": {},
                    "entities": {},
                },
            }
        },
    }


def test_a_write_replaces_and_none_deletes(tmp_path: Path) -> None:
    with DurableStore(tmp_path / "s.db") as store:
        store.apply([Change("default", "kvs", None, "k", item(1))])
        store.apply([Change("default", "kvs", None, "k", item(2, updated=T0 + 1))])
        store.apply([Change("default", "secrets", None, "k", item("s"))])
        assert store.load()["kvs"] == {"k": 2}
        store.apply([Change("default", "kvs", None, "k", None)])
        store.apply([Change("default", "kvs", None, "never-there", None)])  # no error
        data = store.load()
    assert data["kvs"] == {}
    assert data["secrets"] == {"k": "s"}  # another section, untouched


def test_a_snapshot_survives_exactly(tmp_path: Path, time_machine: Any) -> None:
    """What ForgeStorage.snapshot() holds, written as changes, restores to the same snapshot:
    values, times and TTLs."""
    time_machine.move_to(datetime(2026, 6, 1, tzinfo=timezone.utc), tick=False)
    storage = ForgeStorage()
    storage.define_entity("employee", {"age": "integer"}, ["age"])
    storage.kvs["plain"] = {"deep": [1, {"x": "é"}]}
    storage.set("ttl", "soon", ttl=3600)
    storage.secrets["s"] = 12
    storage.set("e1", {"age": 4}, entity="employee", ttl=60)
    saved = storage.snapshot()
    changes = [
        Change("default", section, None, key, {"value": value, **saved["metadata"][section][key]})
        for section in ("kvs", "secrets")
        for key, value in saved[section].items()
    ] + [
        Change(
            "default",
            "entity",
            name,
            key,
            {"value": value, **saved["metadata"]["entities"][name][key]},
        )
        for name, records in saved["entities"].items()
        for key, value in records.items()
    ]
    with DurableStore(tmp_path / "s.db") as store:
        store.apply(changes)
    with DurableStore(tmp_path / "s.db") as store:
        data = store.load()
    assert data == saved
    fresh = ForgeStorage()
    fresh.define_entity("employee", {"age": "integer"}, ["age"])
    fresh.restore(data)
    assert fresh.snapshot() == saved


def test_a_bad_change_writes_nothing_of_its_batch(tmp_path: Path) -> None:
    with DurableStore(tmp_path / "s.db") as store:
        good = Change("default", "kvs", None, "good", item(1))
        for bad in (
            Change("default", "nope", None, "k", item(1)),  # type: ignore[arg-type]
            Change("default", "entity", None, "k", item(1)),
            Change("default", "kvs", "employee", "k", item(1)),
            Change("default", "kvs", None, "k", {"value": 1, "createdAt": "x", "updatedAt": 1}),
            Change("default", "kvs", None, "k", item({1, 2})),
        ):
            with pytest.raises((ValueError, TypeError)):
                store.apply([good, bad])
        assert store.load()["kvs"] == {}


def test_wal_and_synchronous_normal(tmp_path: Path) -> None:
    with DurableStore(tmp_path / "s.db") as store:
        store.apply([Change("default", "kvs", None, "k", item(1))])
        conn = sqlite3.connect(tmp_path / "s.db")
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


@pytest.mark.parametrize("where", ["directory", "missing-parent", "not-a-database"])
def test_an_unusable_path_is_refused_with_a_clear_oserror(tmp_path: Path, where: str) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not SQLite" * 100)
    path, words = {
        "directory": (tmp_path, "it is a directory"),
        "missing-parent": (tmp_path / "missing" / "s.db", "its directory does not exist"),
        "not-a-database": (garbage, "cannot use"),
    }[where]
    with pytest.raises(OSError, match=words) as info:
        DurableStore(path)
    assert str(path) in str(info.value)


WRITER = textwrap.dedent(
    """
    import sys
    from pytest_forge_storage.server._durable import Change, DurableStore

    def item(value, batch):
        return {"value": value, "createdAt": batch, "updatedAt": batch}

    PAD = "x" * 200
    store = DurableStore(sys.argv[1])
    batch = 0
    while True:
        store.apply([
            Change("default", "kvs", None, f"k{batch}", item({"batch": batch, "pad": PAD}, batch)),
            Change("default", "entity", "log", f"e{batch}", item({"n": batch}, batch)),
            Change("default", "kvs", None, f"k{batch - 1}", None) if batch % 10 == 5 else
            Change("other", "secrets", None, "last", item(batch, batch)),
        ])
        print(batch, flush=True)  # acknowledged: the batch is committed
        batch += 1
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_every_acknowledged_batch_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "storm.db"
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    acknowledged = -1
    for line in child.stdout:
        acknowledged = int(line)
        if acknowledged >= 300:
            break
    child.send_signal(signal.SIGKILL)  # mid-storm, wherever it is
    rest, _ = child.communicate(timeout=30)
    for line in rest.splitlines():  # printed before the kill: acknowledged too
        acknowledged = int(line)
    assert child.returncode == -signal.SIGKILL
    with DurableStore(path) as store:
        data = store.load()
    deleted = {f"k{b - 1}" for b in range(acknowledged + 1) if b % 10 == 5}
    for batch in range(acknowledged + 1):
        key = f"k{batch}"
        if key not in deleted:
            assert data["kvs"][key] == {"batch": batch, "pad": "x" * 200}, key
            assert data["metadata"]["kvs"][key] == {"createdAt": batch, "updatedAt": batch}
        assert data["entities"]["log"][f"e{batch}"] == {"n": batch}
    assert not deleted & set(data["kvs"])
    # the batch in flight at the kill is there whole or not at all
    in_flight = acknowledged + 1
    assert (f"k{in_flight}" in data["kvs"]) == (f"e{in_flight}" in data["entities"]["log"])
