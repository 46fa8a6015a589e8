"""When Forge storage misbehaves: rate limits and dropped connections are retried with
backoff; server errors surface as the service's 502."""

from __future__ import annotations

import pytest
from forge_settings_service import KeyConflict, StorageError, StorageUnavailable


def test_client_retries_a_rate_limited_write(forge_storage, storage_client, sleeps):
    forge_storage.fail("set", code="RATE_LIMIT_EXCEEDED", times=2)

    storage_client.set("settings:acme", {"theme": "dark"})

    assert [call.status for call in forge_storage.calls_to("set")] == [429, 429, 204]
    assert [call.error_code for call in forge_storage.calls] == [
        "RATE_LIMIT_EXCEEDED",
        "RATE_LIMIT_EXCEEDED",
        None,
    ]
    assert sleeps == [0.1, 0.2]  # exponential backoff
    assert forge_storage.kvs["settings:acme"] == {"theme": "dark"}


def test_client_gives_up_after_max_attempts(forge_storage, storage_client, sleeps):
    forge_storage.fail("set", code="RATE_LIMIT_EXCEEDED", times=None)  # every call

    with pytest.raises(StorageError) as error:
        storage_client.set("settings:acme", {"theme": "dark"})

    assert (error.value.status, error.value.code) == (429, "RATE_LIMIT_EXCEEDED")
    forge_storage.assert_called("set", times=4)
    assert sleeps == [0.1, 0.2, 0.4]
    assert "settings:acme" not in forge_storage.kvs  # a faulted call writes nothing


def test_client_retries_a_dropped_connection(forge_storage, storage_client):
    forge_storage.kvs["settings:acme"] = {"theme": "dark"}
    forge_storage.fail_transport("get")

    assert storage_client.get("settings:acme") == {"theme": "dark"}
    # The transport fault is recorded too, with status 0.
    assert [call.status for call in forge_storage.calls_to("get")] == [0, 200]


def test_client_retries_a_timeout_then_reports_storage_unavailable(forge_storage, storage_client):
    forge_storage.fail_transport("get", error="timeout", times=None)

    with pytest.raises(StorageUnavailable, match="4 attempts"):
        storage_client.get("settings:acme")

    forge_storage.assert_called("get", times=4)


def test_client_does_not_retry_other_errors(forge_storage, storage_client, sleeps):
    forge_storage.kvs["settings:acme"] = {"theme": "dark"}

    with pytest.raises(KeyConflict):
        storage_client.set("settings:acme", {"theme": "light"}, create_only=True)

    forge_storage.assert_called("set", times=1)
    assert sleeps == []


def test_service_survives_rate_limiting(forge_storage, client, headers, sleeps):
    forge_storage.fail("set", key="settings:acme", times=2)  # RATE_LIMIT_EXCEEDED by default

    response = client.put("/settings/acme", json={"theme": "dark"}, headers=headers)

    assert response.status_code == 200
    assert [c.status for c in forge_storage.calls_to("set", key="settings:acme")] == [
        429,
        429,
        204,
    ]
    assert sleeps == [0.1, 0.2]


def test_service_answers_503_when_rate_limiting_persists(forge_storage, client, headers):
    forge_storage.fail("get", code="RATE_LIMIT_EXCEEDED", times=None)

    response = client.get("/settings/acme", headers=headers)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json["code"] == "RATE_LIMIT_EXCEEDED"


def test_a_storage_500_is_the_service_502(forge_storage, client, headers, sleeps):
    forge_storage.kvs["settings:acme"] = {"theme": "dark"}
    forge_storage.fail("get", code="INTERNAL_SERVER_ERROR")  # status 500 by default

    response = client.get("/settings/acme", headers=headers)

    assert response.status_code == 502
    assert response.json == {
        "error": "forge storage failed",
        "code": "INTERNAL_SERVER_ERROR",
        "status": 500,
    }
    forge_storage.assert_called("get", times=1)  # a 500 is not retried
    assert sleeps == []
    # The fault was used up: the next request is served normally.
    assert client.get("/settings/acme", headers=headers).status_code == 200


def test_a_failing_audit_write_fails_the_request(forge_storage, client, headers):
    # Let the settings write through, fail the next write (the audit entry).
    forge_storage.fail("set", code="INTERNAL_SERVER_ERROR", after=1)

    response = client.put("/settings/acme", json={"theme": "dark"}, headers=headers)

    assert response.status_code == 502
    assert forge_storage.kvs["settings:acme"] == {"theme": "dark"}
    assert not [key for key in forge_storage.kvs if key.startswith("audit:")]
    statuses = [(c.key.split(":")[0], c.status) for c in forge_storage.calls_to("set")]
    assert statuses == [("settings", 204), ("audit", 500)]


def test_service_answers_502_when_storage_is_unreachable(forge_storage, client, headers):
    forge_storage.fail_transport(times=None)  # every operation

    response = client.get("/settings/acme", headers=headers)

    assert response.status_code == 502
    assert response.json == {"error": "forge storage is unreachable"}
