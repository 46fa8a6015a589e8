"""The per-site API token is a Forge secret: stored, checked and never shown or logged."""

from __future__ import annotations

import pytest

TOKEN = "tok_live_4f9b2c7e1d"


def test_stores_the_token_as_a_secret(forge_storage, client, headers):
    response = client.put("/settings/acme/api-token", json={"token": TOKEN}, headers=headers)

    assert response.status_code == 204
    assert forge_storage.secrets["api-token:acme"] == TOKEN
    assert "api-token:acme" not in forge_storage.kvs  # secrets are a namespace of their own
    forge_storage.assert_called("secret/set", key="api-token:acme", times=1)


def test_the_secret_is_inspectable_but_never_printed(forge_storage, client, headers):
    client.put("/settings/acme/api-token", json={"token": TOKEN}, headers=headers)

    (call,) = forge_storage.calls_to("secret/set")
    assert call.request["value"] == TOKEN  # the raw body is there for assertions...
    assert TOKEN not in repr(call)  # ...but reprs, assertion messages and reports mask it
    assert TOKEN not in repr(forge_storage.secrets)
    with pytest.raises(AssertionError) as failure:
        forge_storage.assert_not_called("secret/set")
    assert "secret/set key='api-token:acme' -> 204" in str(failure.value)
    assert TOKEN not in str(failure.value)


def test_the_audit_log_records_the_change_but_not_the_token(forge_storage, client, headers):
    client.put("/settings/acme/api-token", json={"token": TOKEN}, headers=headers)

    (entry,) = [v for k, v in forge_storage.kvs.items() if k.startswith("audit:acme:")]
    assert entry["action"] == "api-token.set"
    assert TOKEN not in str(entry)


def test_shows_only_a_hint_of_a_configured_token(forge_storage, client, headers):
    forge_storage.secrets["api-token:acme"] = TOKEN

    response = client.get("/settings/acme/api-token", headers=headers)

    assert response.json == {"configured": True, "hint": "****7e1d"}
    assert TOKEN not in response.get_data(as_text=True)
    forge_storage.assert_called("secret/get", key="api-token:acme", times=1)
    forge_storage.assert_not_called("get")  # a secret is never read through plain get


def test_a_site_without_a_token(forge_storage, client, headers):
    response = client.get("/settings/acme/api-token", headers=headers)

    assert response.json == {"configured": False, "hint": None}
    (call,) = forge_storage.calls_to("secret/get")
    assert call.error_code == "KEY_NOT_FOUND"


def test_deletes_the_token(forge_storage, client, headers):
    forge_storage.secrets["api-token:acme"] = TOKEN

    assert client.delete("/settings/acme/api-token", headers=headers).status_code == 204
    assert "api-token:acme" not in forge_storage.secrets
    assert client.delete("/settings/acme/api-token", headers=headers).status_code == 404


def test_rejects_a_short_token_without_touching_storage(forge_storage, client, headers):
    response = client.put("/settings/acme/api-token", json={"token": "abc"}, headers=headers)

    assert response.status_code == 400
    forge_storage.assert_not_called()
