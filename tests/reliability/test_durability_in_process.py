"""``ForgeStorageServer(db=...)`` in this process: what a restart on the same file gives back.

The subprocess tests (``test_server_durability.py``) kill the server mid-storm; these go
through every kind of write one at a time, stop the server cleanly, and start a new one on
the same file: each write's effect must be there (and each delete's absence), metadata and
TTLs exact, for the default installation and for another one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import requests
from freezegun import freeze_time

from pytest_forge_storage import ForgeStorageServer
from tests.reliability._support import DURABLE_MANIFEST as MANIFEST

REST = "/forge/storage/kvs/v1/"


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.yml"
    path.write_text(MANIFEST)
    return path


class Client:
    def __init__(self, server: ForgeStorageServer, token: str = "t") -> None:
        self.url = server.url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def post(self, operation: str, body: Any, status: int = 200) -> Any:
        response = self.session.post(self.url + REST + operation, json=body, timeout=10)
        assert response.status_code in (status, 204), response.text
        return response.json() if response.content else None

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session.request(method, f"{self.url}/_forge-storage/{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()


def restarted(db: Path, manifest: Path) -> dict[str, Any]:
    """The snapshot a fresh server on ``db`` starts with."""
    with ForgeStorageServer(db=db, manifest=manifest) as server:
        return server.storage.snapshot()


@freeze_time("2026-03-01T10:00:00Z")
def test_every_kind_of_write_survives_a_restart(tmp_path: Path, manifest: Path) -> None:
    db = tmp_path / "store.db"
    with ForgeStorageServer(db=db, manifest=manifest) as server:
        client = Client(server)
        client.post("set", {"key": "plain", "value": {"a": [1, 2]}})
        client.post(
            "set",
            {"key": "ttl", "value": "soon", "options": {"ttl": {"value": 5, "unit": "MINUTES"}}},
        )
        client.post("set", {"key": "gone", "value": 1})
        client.post("delete", {"key": "gone"})
        client.post("secret/set", {"key": "token", "value": "s3cret"})
        client.post("entity/set", {"entityName": "task", "key": "t1", "value": {"n": 1}})
        client.post(
            "batch/set",
            [{"key": "b1", "value": 1}, {"key": "b2", "value": {"n": 2}, "entityName": "task"}],
        )
        client.post("batch/delete", [{"key": "b1"}])
        client.post(
            "transaction",
            {"set": [{"key": "x", "value": "from a transaction"}], "delete": [{"key": "plain"}]},
        )
        before = server.storage.snapshot()

    after = restarted(db, manifest)
    assert after == before
    assert after["kvs"] == {"ttl": "soon", "x": "from a transaction"}
    assert after["secrets"] == {"token": "s3cret"}
    assert after["entities"] == {"task": {"t1": {"n": 1}, "b2": {"n": 2}}}
    assert after["metadata"]["kvs"]["ttl"]["expireTime"] == "2026-03-01T10:05:00.000Z"


def test_another_installations_data_comes_back_under_its_key(
    tmp_path: Path, manifest: Path
) -> None:
    db = tmp_path / "store.db"
    with ForgeStorageServer(db=db, manifest=manifest) as server:
        site = Client(server).control("POST", "installations", {"key": "site-b"})
        Client(server, site["token"]).post("set", {"key": "k", "value": "site-b's"})
        Client(server).post("set", {"key": "k", "value": "default's"})

    with ForgeStorageServer(db=db, manifest=manifest) as server:
        assert server.storage.kvs["k"] == "default's"
        assert server.storage.installation("site-b").kvs["k"] == "site-b's"


def test_reset_and_seed_through_the_control_api_rewrite_the_file(
    tmp_path: Path, manifest: Path
) -> None:
    db = tmp_path / "store.db"
    with ForgeStorageServer(db=db, manifest=manifest) as server:
        client = Client(server)
        client.post("set", {"key": "old", "value": 1})
        client.control("POST", "reset")
        client.control(
            "POST", "seed", {"kvs": {"seeded": True}, "entities": {"task": {"t": {"n": 3}}}}
        )
    after = restarted(db, manifest)
    assert after["kvs"] == {"seeded": True}
    assert after["entities"] == {"task": {"t": {"n": 3}}}


def test_a_refused_write_leaves_the_file_as_it_was(tmp_path: Path, manifest: Path) -> None:
    db = tmp_path / "store.db"
    with ForgeStorageServer(db=db, manifest=manifest) as server:
        client = Client(server)
        client.post("set", {"key": "k", "value": 1})
        client.post(
            "set", {"key": "k", "value": 2, "options": {"keyPolicy": "FAIL_IF_EXISTS"}}, status=409
        )
        client.post("entity/set", {"entityName": "task", "key": "t", "value": {"n": 1}})
        condition = {"and": [{"property": "n", "condition": "EQUAL_TO", "values": [99]}]}
        client.post(
            "transaction",
            {
                "set": [
                    {"key": "k", "value": 3},
                    {"key": "t", "entityName": "task", "value": {"n": 2}, "conditions": condition},
                ]
            },
            status=400,  # CONDITIONAL_CHECK_FAILED
        )
    after = restarted(db, manifest)
    assert after["kvs"] == {"k": 1}
    assert after["entities"] == {"task": {"t": {"n": 1}}}


def test_a_file_that_is_not_a_database_is_refused_with_its_path(tmp_path: Path) -> None:
    db = tmp_path / "notes.txt"
    db.write_text("not sqlite at all, but long enough to be read as a header " * 4)
    with pytest.raises(OSError, match=r"cannot use .*notes\.txt as a database"):
        ForgeStorageServer(db=db)


def test_a_database_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version=99")
    with pytest.raises(OSError, match="schema version 99"):
        ForgeStorageServer(db=db)
