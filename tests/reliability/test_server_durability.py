"""``forge-storage-fake serve --db FILE``: every acknowledged write survives ``kill -9``.

The server runs as a real subprocess; clients write through REST and GraphQL from several
threads, the server is killed with SIGKILL mid-storm, restarted on the same file, and every
write that was answered 2xx must be there, with its exact metadata and TTL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.reliability._support import DURABLE_MANIFEST as MANIFEST

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

AUTH = {"Authorization": "Bearer t"}
REST = "/forge/storage/kvs/v1/"


class Server:
    def __init__(self, db: Path, *extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pytest_forge_storage", "serve", "--port", "0", "--db",
             str(db), "--quiet", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert "serving on" in line, self.process.stderr.read() if self.process.stderr else line
        self.url = line.split()[-1]
        self.session = requests.Session()

    def post(self, operation: str, body: Any) -> requests.Response:
        return self.session.post(self.url + REST + operation, json=body, headers=AUTH, timeout=10)

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.communicate(timeout=10)
        self.session.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.communicate(timeout=20)
        self.session.close()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    manifest = tmp_path / "manifest.yml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    return tmp_path / "forge.db", manifest


def test_every_acknowledged_write_survives_kill_9(files: tuple[Path, Path]) -> None:
    db, manifest = files
    server = Server(db, "--manifest", str(manifest))
    acknowledged: dict[tuple[str, str], Any] = {}
    deleted: set[tuple[str, str]] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def storm(worker: int) -> None:
        with requests.Session() as session:
            _storm(worker, session)

    def _storm(worker: int, session: requests.Session) -> None:
        i = 0
        while not stop.is_set():
            key = f"w{worker}-{i}"
            bodies: list[tuple[str, Any, tuple[str, str], Any]] = [
                ("set", {"key": key, "value": {"i": i}}, ("kvs", key), {"i": i}),
                ("secret/set", {"key": key, "value": f"s{i}"}, ("secrets", key), f"s{i}"),
                ("entity/set", {"entityName": "task", "key": key, "value": {"n": i}},
                 ("task", key), {"n": i}),
            ]  # fmt: skip
            for operation, body, ident, value in bodies:
                try:
                    r = session.post(
                        server.url + REST + operation, json=body, headers=AUTH, timeout=5
                    )
                except requests.RequestException:
                    return  # the server is gone
                if r.status_code in (200, 204):
                    with lock:
                        acknowledged[ident] = value
            if i % 5 == 4:
                try:
                    r = session.post(
                        server.url + REST + "delete", json={"key": key}, headers=AUTH, timeout=5
                    )
                except requests.RequestException:
                    return
                if r.status_code == 204:
                    with lock:
                        acknowledged.pop(("kvs", key), None)
                        deleted.add(("kvs", key))
            i += 1

    threads = [threading.Thread(target=storm, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        while len(acknowledged) < 300:
            threading.Event().wait(0.05)
        server.kill()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert len(acknowledged) >= 300

    again = Server(db, "--manifest", str(manifest))
    try:
        snapshot = again.session.get(again.url + "/_forge-storage/snapshot", timeout=10).json()
        stored = {("kvs", k): v for k, v in snapshot["kvs"].items()}
        stored.update({("secrets", k): v for k, v in snapshot["secrets"].items()})
        stored.update({("task", k): v for k, v in snapshot["entities"].get("task", {}).items()})
        missing = {ident: v for ident, v in acknowledged.items() if stored.get(ident) != v}
        assert missing == {}
        assert not deleted & set(stored)
    finally:
        again.stop()


def test_metadata_ttls_and_every_write_family_come_back_exactly(files: tuple[Path, Path]) -> None:
    db, manifest = files
    server = Server(db, "--manifest", str(manifest))
    ttl = {"ttl": {"value": 3, "unit": "HOURS"}}
    server.post("set", {"key": "a", "value": 1, "options": ttl})
    server.post("batch/set", [{"key": "b", "value": 2}])
    server.post("batch/set", [{"key": "c", "entityName": "task", "value": {"n": 3}}])
    server.post("transaction", {"set": [{"key": "d", "value": 4}], "delete": [{"key": "b"}]})
    gql = (
        'mutation { appStorage { setAppStoredEntity(input: {key: "e", value: 5, '
        "encrypted: true}) { success } } }"
    )
    server.session.post(server.url + "/graphql", json={"query": gql}, headers=AUTH, timeout=10)
    before = server.session.get(server.url + "/_forge-storage/snapshot", timeout=10).json()
    server.kill()
    again = Server(db, "--manifest", str(manifest))
    try:
        after = again.session.get(again.url + "/_forge-storage/snapshot", timeout=10).json()
        assert after == before
        assert after["kvs"] == {"a": 1, "d": 4}
        assert after["secrets"] == {"e": 5}
        assert after["entities"] == {"task": {"c": {"n": 3}}}
        assert "expireTime" in after["metadata"]["kvs"]["a"]
    finally:
        again.stop()


def test_control_reset_and_seed_reach_the_file(files: tuple[Path, Path]) -> None:
    db, _ = files
    server = Server(db)
    server.post("set", {"key": "old", "value": 1})
    server.session.post(server.url + "/_forge-storage/reset", timeout=10)
    seed = {"kvs": {"seeded": True}, "installations": {"site-b": {"kvs": {"b": 2}}}}
    server.session.post(server.url + "/_forge-storage/seed", json=seed, timeout=10)
    server.kill()
    again = Server(db)
    try:
        after = again.session.get(again.url + "/_forge-storage/snapshot", timeout=10).json()
        assert after["kvs"] == {"seeded": True}
        assert after["installations"]["site-b"]["kvs"] == {"b": 2}
    finally:
        again.stop()


def test_data_replaces_what_the_file_held(files: tuple[Path, Path], tmp_path: Path) -> None:
    db, _ = files
    server = Server(db)
    server.post("set", {"key": "old", "value": 1})
    server.stop()
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"kvs": {"new": 2}}), encoding="utf-8")
    server = Server(db, "--data", str(data))
    server.kill()
    again = Server(db)
    try:
        assert again.session.get(again.url + "/_forge-storage/snapshot", timeout=10).json()[
            "kvs"
        ] == {"new": 2}
    finally:
        again.stop()


@pytest.mark.parametrize("where", ["missing-dir/forge.db", "."])
def test_an_unusable_db_is_refused_at_start(tmp_path: Path, where: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest_forge_storage", "serve", "--port", "0", "--db",
         str(tmp_path / where)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("forge-storage-fake: error: cannot use --db ")
