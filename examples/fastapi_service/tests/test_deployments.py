"""Deployment records: a batch import, cursor paging over a partitioned index, and a
promotion guarded by a conditional transaction."""

from __future__ import annotations

import pytest

ENTITY = "deployment"


def deployment(n: int, **fields):
    return {
        "id": f"d{n:03d}",
        "service": "api",
        "version": f"1.{n}.0",
        "startedAt": 1_700_000_000 + n * 60,
        "succeeded": True,
        **fields,
    }


def seed(forge_storage, site: str, count: int) -> None:
    for n in range(count):
        value = deployment(n)
        del value["id"]
        forge_storage.entity(ENTITY)[f"{site}:d{n:03d}"] = {"site": site, **value}


def test_import_writes_records_in_batches_of_25(client, forge_storage):
    r = client.post("/sites/acme/deployments", json=[deployment(n) for n in range(30)])

    assert r.json() == {"imported": 30, "failed": []}
    assert len(forge_storage.entity(ENTITY)) == 30
    assert forge_storage.entity(ENTITY)["acme:d007"] == {
        "site": "acme",
        "service": "api",
        "version": "1.7.0",
        "startedAt": 1_700_000_420,
        "succeeded": True,
    }
    assert [len(call.request) for call in forge_storage.calls_to("batch/set")] == [25, 5]


def test_import_reports_the_items_forge_refused(client, forge_storage):
    body = [
        deployment(1),
        deployment(2, service="   "),  # Forge: a string attribute cannot be blank
        deployment(3, startedAt=2**31),  # Forge: integers are 32-bit
        deployment(4, id="a/b"),  # Forge: "/" is not allowed in a key
        deployment(5, durationSeconds=12.5, details={"commit": "abc123", "canary": [1, 5]}),
    ]

    r = client.post("/sites/acme/deployments", json=body)

    assert r.status_code == 200
    assert r.json()["imported"] == 2
    assert [(f["id"], f["code"]) for f in r.json()["failed"]] == [
        ("d002", "INVALID_ENTITY_VALUE"),
        ("d003", "INVALID_ENTITY_VALUE"),
        ("a/b", "INVALID_KEY"),
    ]
    assert sorted(forge_storage.entity(ENTITY)) == ["acme:d001", "acme:d005"]


def test_listing_follows_the_cursor_through_every_page(client, forge_storage):
    seed(forge_storage, "acme", 45)
    seed(forge_storage, "globex", 3)

    r = client.get("/sites/acme/deployments", params={"page_size": 20})

    found = r.json()["deployments"]
    assert [d["id"] for d in found] == [f"d{n:03d}" for n in reversed(range(45))]
    pages = forge_storage.calls_to("entity/query")
    assert [len(call.response["data"]) for call in pages] == [20, 20, 5]
    # Each page asks for the cursor the previous page returned; the last page has none.
    assert "cursor" not in pages[0].request
    assert pages[1].request["cursor"] == pages[0].response["cursor"]
    assert pages[2].request["cursor"] == pages[1].response["cursor"]
    assert "cursor" not in pages[2].response
    assert pages[0].request == {
        "entityName": ENTITY,
        "indexName": "by-site-started",
        "partition": ["acme"],
        "sort": "DESC",
        "limit": 20,
    }


def test_listing_since_uses_the_index_range(client, forge_storage):
    seed(forge_storage, "acme", 10)

    r = client.get("/sites/acme/deployments", params={"since": 1_700_000_000 + 7 * 60})

    assert [d["id"] for d in r.json()["deployments"]] == ["d009", "d008", "d007"]
    (call,) = forge_storage.calls_to("entity/query")
    assert call.request["range"] == {"condition": "GREATER_THAN_EQUAL_TO", "values": [1700000420]}


def test_a_missing_deployment_is_404(client, forge_storage):
    assert client.get("/sites/acme/deployments/d001").status_code == 404
    forge_storage.assert_called("entity/get", key="acme:d001", entity_name=ENTITY)


def test_promoting_a_successful_deployment_sets_the_release(client, forge_storage):
    seed(forge_storage, "acme", 3)

    r = client.post("/sites/acme/deployments/d002/promote")

    release = {"deployment": "d002", "service": "api", "version": "1.2.0"}
    assert r.json() == {"release": release}
    assert forge_storage.kvs["release:acme"] == release
    (call,) = forge_storage.calls_to("transaction")
    assert call.request["check"][0]["conditions"]["and"][0] == {
        "property": "succeeded",
        "condition": "EQUAL_TO",
        "values": [True],
    }


@pytest.mark.forge_storage(
    data={
        "kvs": {"release:acme": {"deployment": "d001", "service": "api", "version": "1.1.0"}},
        "entities": {
            ENTITY: {
                "acme:d009": {
                    "site": "acme",
                    "service": "api",
                    "version": "1.9.0",
                    "startedAt": 1_700_000_540,
                    "succeeded": False,
                }
            }
        },
    }
)
def test_a_failed_deployment_is_not_promoted_and_nothing_changes(client, forge_storage):
    r = client.post("/sites/acme/deployments/d009/promote")

    assert r.status_code == 409
    assert r.json()["code"] == "CONDITIONAL_CHECK_FAILED"
    assert forge_storage.kvs["release:acme"]["deployment"] == "d001"  # all or nothing
    (call,) = forge_storage.calls_to("transaction")
    assert (call.status, call.error_code) == (400, "CONDITIONAL_CHECK_FAILED")


def test_promoting_a_missing_deployment_is_404(client, forge_storage):
    assert client.post("/sites/acme/deployments/d404/promote").status_code == 404
    forge_storage.assert_not_called("transaction")
