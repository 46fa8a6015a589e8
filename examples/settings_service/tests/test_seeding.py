"""Ways to put data in the fake and take it out: a JSON file, snapshots, and the fake
outside the fixture (``mock_forge_storage``)."""

from __future__ import annotations

from pathlib import Path

import requests
from forge_settings_service import ForgeStorageClient

from pytest_forge_storage import mock_forge_storage

DATA = Path(__file__).parent / "data"


def test_loads_a_data_file(forge_storage, client, headers):
    forge_storage.load(DATA / "two_sites.json")

    assert client.get("/settings/globex", headers=headers).json["settings"]["digest"] == "daily"
    assert client.get("/settings/acme/api-token", headers=headers).json["configured"] is True


def test_snapshot_and_restore(forge_storage, client, headers):
    forge_storage.kvs["settings:acme"] = {"theme": "light"}
    before = forge_storage.snapshot()

    client.put("/settings/acme", json={"theme": "dark"}, headers=headers)
    assert forge_storage.kvs["settings:acme"] == {"theme": "dark"}

    forge_storage.restore(before)
    assert forge_storage.kvs["settings:acme"] == {"theme": "light"}
    assert [key for key in forge_storage.kvs if key.startswith("audit:")] == []


def test_dump_writes_the_data_shape(forge_storage, client, headers, tmp_path):
    client.put("/settings/acme/api-token", json={"token": "tok_dumped_1234"}, headers=headers)

    forge_storage.dump(tmp_path / "store.json")
    forge_storage.reset()
    assert len(forge_storage.secrets) == 0

    forge_storage.load(tmp_path / "store.json")
    assert forge_storage.secrets["api-token:acme"] == "tok_dumped_1234"


def test_the_fake_outside_the_fixture():
    # The same fake for a script, a notebook or another test runner.
    with mock_forge_storage(data={"kvs": {"settings:acme": {"theme": "dark"}}}) as storage:
        client = ForgeStorageClient("any-token")
        assert client.get("settings:acme") == {"theme": "dark"}
        client.set("settings:acme", {"theme": "light"})

    assert storage.kvs["settings:acme"] == {"theme": "light"}
    storage.assert_called("set", key="settings:acme", times=1)


@mock_forge_storage(data={"kvs": {"feature-flags": {"export": True}}})
def test_the_fake_as_a_decorator():
    response = requests.post(
        "https://api.atlassian.com/forge/storage/kvs/v1/get",
        json={"key": "feature-flags"},
        headers={"Authorization": "Bearer any-token"},
        timeout=5,
    )
    assert response.json() == {"key": "feature-flags", "value": {"export": True}}
