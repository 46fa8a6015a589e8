"""Installations in the data shape: snapshots, restore, dump/load and the marker's ``data=``.

``{"installations": {"<key>": {"product", "cloudId", "environment", "kvs", "secrets",
"entities"}}}`` sits beside the default installation's top-level sections (design §2.6). Bad
entries raise saying what to write, and change nothing: neither data nor installations.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import requests

from pytest_forge_storage import ForgeStorage, ForgeStorageError, mock_forge_storage
from tests._clock import Clock
from tests.multitenant._doors import REST, bearer


def seeded(employee: bool = True) -> ForgeStorage:
    storage = ForgeStorage()
    if employee:
        storage.define_entity("employee", {"age": "integer"}, ["age"])
    storage.kvs["k"] = "default"
    site = storage.installation("site-b", product="confluence", cloud_id="c-b")
    site.kvs["k"] = "b"
    site.secrets["s"] = "secret-b"
    site.entity("employee")["e1"] = {"age": 3}
    storage.installation("site-c", environment="staging")  # registered, empty
    return storage


def test_a_snapshot_holds_each_installation_with_its_details() -> None:
    storage = seeded()

    data = storage.snapshot()

    assert data["kvs"] == {"k": "default"}
    site_b = data["installations"]["site-b"]
    assert (site_b["product"], site_b["cloudId"], site_b["environment"]) == (
        "confluence",
        "c-b",
        "production",
    )
    assert (site_b["kvs"], site_b["secrets"]) == ({"k": "b"}, {"s": "secret-b"})
    assert site_b["entities"] == {"employee": {"e1": {"age": 3}}}
    assert set(site_b["metadata"]["kvs"]["k"]) == {"createdAt", "updatedAt"}
    assert data["installations"]["site-c"]["environment"] == "staging"
    assert json.loads(json.dumps(data)) == data  # JSON all the way down


def test_restore_into_a_fresh_fake_brings_the_installations_back() -> None:
    data = seeded().snapshot()
    fresh = ForgeStorage()
    fresh.define_entity("employee", {"age": "integer"}, ["age"])

    fresh.restore(data)

    site = fresh.installations["site-b"]
    assert (site.product, site.cloud_id, site.environment) == ("confluence", "c-b", "production")
    assert dict(site.kvs) == {"k": "b"}
    assert dict(site.secrets) == {"s": "secret-b"}
    assert dict(site.entity("employee")) == {"e1": {"age": 3}}
    assert fresh.installations["site-c"].environment == "staging"
    assert dict(fresh.kvs) == {"k": "default"}
    assert fresh.snapshot() == data  # metadata included: the restore is exact


def test_restore_replaces_every_partition_and_keeps_the_installations() -> None:
    storage = seeded()
    storage.installation("site-d").kvs["d"] = 1

    storage.restore({"installations": {"site-b": {"kvs": {"only": 1}}}})

    assert dict(storage.installations["site-b"].kvs) == {"only": 1}
    assert len(storage.installations["site-d"].kvs) == 0  # emptied, still registered
    assert len(storage.kvs) == 0
    assert list(storage.installations) == ["default", "site-b", "site-c", "site-d"]


def test_dump_and_load_round_trip_through_a_file(tmp_path: Any) -> None:
    storage = seeded()
    path = tmp_path / "data.json"
    storage.dump(path)
    again = ForgeStorage()
    again.define_entity("employee", {"age": "integer"}, ["age"])

    again.load(path)

    assert again.snapshot() == storage.snapshot()
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["installations"]["site-b"]["cloudId"] == "c-b"


def test_a_handwritten_data_file_seeds_installations(tmp_path: Any) -> None:
    path = tmp_path / "two_sites.json"
    path.write_text(
        json.dumps(
            {
                "kvs": {"settings": "default"},
                "installations": {
                    "acme": {"product": "jira", "kvs": {"settings": {"theme": "dark"}}},
                    "globex": {"cloudId": "globex-id", "secrets": {"api-token": "t"}},
                },
            }
        ),
        encoding="utf-8",
    )
    with mock_forge_storage() as storage:
        storage.load(path)
        acme, globex = storage.installations["acme"], storage.installations["globex"]

        answer = requests.post(REST + "get", json={"key": "settings"}, headers=bearer(acme.token))

    assert answer.json()["value"] == {"theme": "dark"}
    assert globex.cloud_id == "globex-id"
    assert dict(globex.secrets) == {"api-token": "t"}


@pytest.mark.parametrize(
    ("data", "error", "hint"),
    [
        ({"installations": []}, TypeError, "must map installation keys to their data"),
        ({"installations": {"b": []}}, TypeError, "['b']: data must be a dict"),
        ({"installations": {"default": {}}}, ValueError, "other than 'default'"),
        ({"installations": {"": {}}}, ValueError, "non-empty string"),
        ({"installations": {"b": {"tokens": {}}}}, ValueError, "Unknown data section 'tokens'"),
        ({"installations": {"b": {"kvs": 1}}}, TypeError, "data['installations']['b']"),
        ({"installations": {"b": {"product": 3}}}, TypeError, "product name such as 'jira'"),
        ({"installations": {"b": {"environment": "prod"}}}, ValueError, "production, staging"),
        ({"installations": {"b": {"cloudId": ""}}}, ValueError, "cloud_id must be a non-empty"),
        ({"installations": {"site-b": {"product": "jira"}}}, ValueError, "already exists with"),
        ({"installations": {"b": {"kvs": {"": 1}}}}, ForgeStorageError, "['b']['kvs']: Key was 0"),
        (
            {"installations": {"b": {"kvs": {"ok": 1}}, "c": {"entities": {"nope": {"k": {}}}}}},
            ForgeStorageError,
            "data['installations']['c']",
        ),
    ],
)
def test_bad_installation_entries_say_what_to_write_and_change_nothing(
    data: dict[str, Any], error: type[Exception], hint: str
) -> None:
    storage = seeded()
    before = storage.snapshot()

    for load in (storage.restore, storage.load_data):
        with pytest.raises(error) as raised:
            load(data)
        assert hint in str(raised.value)
        assert storage.snapshot() == before
        assert list(storage.installations) == ["default", "site-b", "site-c"]


def test_the_marker_seeds_installations(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest, requests

        URL = "https://api.atlassian.com/forge/storage/kvs/v1/get"
        DATA = {
            "kvs": {"settings": "default"},
            "installations": {
                "site-b": {
                    "product": "confluence",
                    "cloudId": "c-b",
                    "kvs": {"settings": "b"},
                },
            },
        }

        @pytest.mark.forge_storage(data=DATA)
        def test_each_token_reads_its_own(forge_storage):
            site = forge_storage.installation("site-b")
            assert (site.product, site.cloud_id) == ("confluence", "c-b")
            mine = requests.post(URL, json={"key": "settings"},
                                 headers={"Authorization": f"Bearer {site.token}"})
            other = requests.post(URL, json={"key": "settings"},
                                  headers={"Authorization": "Bearer t"})
            assert (mine.json()["value"], other.json()["value"]) == ("b", "default")

        def test_the_next_test_starts_without_them(forge_storage):
            assert list(forge_storage.installations) == ["default"]

        @pytest.mark.forge_storage(data={"installations": {"default": {}}})
        def test_a_bad_marker_entry_errors_the_test(forge_storage):
            pass
        """
    )

    result = pytester.runpytest("-p", "no:randomly")

    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*other than 'default'*"])


def test_seeding_an_installation_is_not_recorded_and_ttl_runs_on_the_clock(
    forge_storage: Any, clock: Clock
) -> None:
    site = forge_storage.installation("site-b")
    site.set("session", {"user": 1}, ttl=timedelta(minutes=5))
    site.set("secret", "s", secret=True)

    assert "session" in site.kvs
    clock.advance(timedelta(minutes=5))
    assert "session" not in site.kvs
    assert dict(site.secrets) == {"secret": "s"}
    assert site.calls == []
    assert forge_storage.calls == []
