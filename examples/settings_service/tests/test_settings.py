"""Settings: read, overwrite (with the previous value in the audit log), create only."""

from __future__ import annotations

import pytest


def test_reads_settings_seeded_in_the_store(forge_storage, client, headers):
    forge_storage.kvs["settings:acme"] = {"theme": "dark", "digest": "weekly"}

    response = client.get("/settings/acme", headers=headers)

    assert response.status_code == 200
    assert response.json == {"site": "acme", "settings": {"theme": "dark", "digest": "weekly"}}
    forge_storage.assert_called("get", key="settings:acme", times=1)


def test_sends_the_system_token_as_bearer_token(forge_storage, client, headers):
    forge_storage.allowed_tokens = {headers["x-forge-oauth-system"]}
    forge_storage.kvs["settings:acme"] = {"theme": "dark"}

    assert client.get("/settings/acme", headers=headers).status_code == 200

    wrong = client.get("/settings/acme", headers={"x-forge-oauth-system": "stale-token"})
    assert wrong.status_code == 502
    assert wrong.json["code"] == "UNAUTHORIZED"
    assert [call.status for call in forge_storage.calls] == [200, 401]


def test_missing_settings_are_404(forge_storage, client, headers):
    response = client.get("/settings/acme", headers=headers)

    assert response.status_code == 404
    (call,) = forge_storage.calls_to("get")
    assert (call.status, call.error_code) == (404, "KEY_NOT_FOUND")


def test_without_the_system_token_nothing_reaches_storage(forge_storage, client):
    response = client.put("/settings/acme", json={"theme": "dark"})

    assert response.status_code == 401
    forge_storage.assert_not_called()


def test_a_body_that_is_not_an_object_is_rejected_before_storage(forge_storage, client, headers):
    response = client.put("/settings/acme", json=["dark"], headers=headers)

    assert response.status_code == 400
    forge_storage.assert_not_called("set")


def test_first_put_stores_settings_with_no_previous_value(forge_storage, client, headers):
    response = client.put("/settings/acme", json={"theme": "dark"}, headers=headers)

    assert response.status_code == 200
    assert response.json["previous"] is None
    assert forge_storage.kvs["settings:acme"] == {"theme": "dark"}
    (write,) = forge_storage.calls_to("set", key="settings:acme")
    assert write.request["options"] == {"returnValue": "PREVIOUS"}
    assert write.status == 204  # Forge answers 204 when there is nothing to return


def test_put_logs_the_value_it_replaced(forge_storage, client, headers):
    forge_storage.kvs["settings:acme"] = {"theme": "light"}

    response = client.put("/settings/acme", json={"theme": "dark"}, headers=headers)

    assert response.json["previous"] == {"theme": "light"}
    (write,) = forge_storage.calls_to("set", key="settings:acme")
    assert write.status == 200
    assert write.response == {"key": "settings:acme", "value": {"theme": "light"}}
    (entry,) = [value for key, value in forge_storage.kvs.items() if key.startswith("audit:")]
    assert entry["action"] == "settings.updated"
    assert entry["details"] == {"previous": {"theme": "light"}, "current": {"theme": "dark"}}


def test_create_only_writes_when_the_site_has_no_settings(forge_storage, client, headers):
    response = client.post("/settings/acme", json={"theme": "dark"}, headers=headers)

    assert response.status_code == 201
    assert forge_storage.kvs["settings:acme"] == {"theme": "dark"}
    (write,) = forge_storage.calls_to("set", key="settings:acme")
    assert write.request["options"] == {"keyPolicy": "FAIL_IF_EXISTS"}


def test_create_only_conflict_is_409_and_keeps_the_stored_value(forge_storage, client, headers):
    forge_storage.kvs["settings:acme"] = {"theme": "light"}

    response = client.post("/settings/acme", json={"theme": "dark"}, headers=headers)

    assert response.status_code == 409
    assert response.json == {"error": "settings already exist", "code": "KEY_CONFLICT"}
    assert forge_storage.kvs["settings:acme"] == {"theme": "light"}
    (write,) = forge_storage.calls_to("set", key="settings:acme")
    assert (write.status, write.error_code) == (409, "KEY_CONFLICT")
    assert not any(key.startswith("audit:") for key in forge_storage.kvs)


def test_delete_settings(forge_storage, client, headers):
    forge_storage.kvs["settings:acme"] = {"theme": "light"}

    assert client.delete("/settings/acme", headers=headers).status_code == 204
    assert "settings:acme" not in forge_storage.kvs
    assert client.delete("/settings/acme", headers=headers).status_code == 404
    assert [call.status for call in forge_storage.calls_to("delete")] == [204, 404]


@pytest.mark.forge_storage(
    data={"kvs": {"settings:acme": {"theme": "dark"}, "settings:globex": {"theme": "light"}}}
)
class TestSitesSeededByTheMarker:
    """The marker's ``data`` seeds the store before each test of the class."""

    def test_deletes_a_seeded_site(self, forge_storage, client, headers):
        assert client.delete("/settings/acme", headers=headers).status_code == 204

        assert "settings:acme" not in forge_storage.kvs
        assert forge_storage.kvs["settings:globex"] == {"theme": "light"}

    def test_every_test_starts_from_the_seed(self, client, headers):
        # The previous test deleted acme's settings; this test has a fresh, seeded store.
        assert client.get("/settings/acme", headers=headers).json["settings"] == {"theme": "dark"}
        assert client.get("/settings/globex", headers=headers).json["settings"] == {
            "theme": "light"
        }
