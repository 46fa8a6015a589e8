"""The audit log: entries with a 30-day TTL, listed with a prefix query and a cursor."""

from __future__ import annotations

from datetime import timedelta

from freezegun import freeze_time


def test_each_change_writes_an_entry_that_expires_in_30_days(forge_storage, client, headers):
    key = "audit:acme:2024-05-01T12:00:00.000000Z"
    with freeze_time("2024-05-01 12:00:00"):
        client.put("/settings/acme", json={"theme": "dark"}, headers=headers)

        assert forge_storage.kvs[key]["action"] == "settings.updated"

    # Back on the real clock, 2024's entry has long expired: the fake follows the clock.
    assert key not in forge_storage.kvs
    (write,) = forge_storage.calls_to("set", key=key)
    assert write.request["options"] == {
        "ttl": {"value": 30, "unit": "DAYS"},
        "keyPolicy": "FAIL_IF_EXISTS",
    }


def test_the_entry_disappears_after_30_days(forge_storage, client, headers):
    with freeze_time("2024-05-01 12:00:00") as clock:
        client.put("/settings/acme", json={"theme": "dark"}, headers=headers)
        key = "audit:acme:2024-05-01T12:00:00.000000Z"

        clock.tick(timedelta(days=30) - timedelta(seconds=1))
        assert key in forge_storage.kvs
        assert len(client.get("/audit/acme", headers=headers).json["entries"]) == 1

        clock.tick(timedelta(seconds=1))
        assert key not in forge_storage.kvs
        assert client.get("/audit/acme", headers=headers).json["entries"] == []

    # The settings themselves have no TTL.
    assert forge_storage.kvs["settings:acme"] == {"theme": "dark"}


def test_entries_show_when_they_expire(forge_storage, client, headers):
    with freeze_time("2024-05-01 12:00:00"):
        client.put("/settings/acme", json={"theme": "dark"}, headers=headers)
        (entry,) = client.get("/audit/acme", headers=headers).json["entries"]

    assert entry["expires_at"] == "2024-05-31T12:00:00.000Z"
    (query,) = forge_storage.calls_to("query")
    assert query.request["options"] == {"metadataFields": ["EXPIRE_TIME"]}


def test_entries_written_at_the_same_instant_are_all_kept(forge_storage, client, headers):
    with freeze_time("2024-05-01 12:00:00"):
        client.put("/settings/acme", json={"theme": "dark"}, headers=headers)
        client.put("/settings/acme", json={"theme": "light"}, headers=headers)

        assert [key for key in forge_storage.kvs if key.startswith("audit:")] == [
            "audit:acme:2024-05-01T12:00:00.000000Z",
            "audit:acme:2024-05-01T12:00:00.000000Z-02",
        ]
    conflicts = [c for c in forge_storage.calls_to("set") if c.error_code == "KEY_CONFLICT"]
    assert [c.key for c in conflicts] == ["audit:acme:2024-05-01T12:00:00.000000Z"]


def test_seeded_entries_expire_too(forge_storage, client, headers):
    with freeze_time("2024-05-01 12:00:00") as clock:
        forge_storage.set(
            "audit:acme:2024-05-01T11:00:00.000000Z",
            {"site": "acme", "action": "settings.created", "at": "2024-05-01T11:00:00.000000Z"},
            ttl=timedelta(hours=1),
        )
        assert len(client.get("/audit/acme", headers=headers).json["entries"]) == 1

        clock.tick(timedelta(hours=1))
        assert client.get("/audit/acme", headers=headers).json["entries"] == []


def seed_entries(forge_storage, site, count):
    for i in range(count):
        stamp = f"2024-05-01T12:00:{i:02d}.000000Z"
        forge_storage.kvs[f"audit:{site}:{stamp}"] = {"site": site, "action": "test", "at": stamp}


def test_lists_a_site_page_by_page(forge_storage, client, headers):
    seed_entries(forge_storage, "acme", 25)
    seed_entries(forge_storage, "acme-eu", 3)  # shares the prefix "audit:acme", not "audit:acme:"

    pages, cursor = [], None
    while True:
        query = {"limit": 10} | ({"cursor": cursor} if cursor else {})
        body = client.get("/audit/acme", query_string=query, headers=headers).json
        pages.append([entry["at"][17:19] for entry in body["entries"]])
        cursor = body["cursor"]
        if cursor is None:
            break

    assert [len(page) for page in pages] == [10, 10, 5]
    assert [second for page in pages for second in page] == [f"{i:02d}" for i in range(25)]
    queries = forge_storage.calls_to("query")
    assert len(queries) == 3
    where = [{"property": "key", "condition": "BEGINS_WITH", "values": ["audit:acme:"]}]
    assert all(q.request["where"] == where for q in queries)
    assert "after" not in queries[0].request
    assert queries[1].request["after"] == queries[0].response["cursor"]


def test_rejects_a_page_size_forge_would_reject(forge_storage, client, headers):
    response = client.get("/audit/acme", query_string={"limit": 500}, headers=headers)

    assert response.status_code == 400
    forge_storage.assert_not_called("query")
