"""Site configuration (KVS) and the webhook secret (a Forge secret), through the app."""

from __future__ import annotations

from conftest import SYSTEM_TOKEN

CONFIG = {"environments": ["prod", "staging"], "freeze": False}


def test_config_round_trip(client, forge_storage):
    r = client.put("/config/acme", json=CONFIG)

    assert r.status_code == 200
    assert forge_storage.kvs["config:acme"] == CONFIG
    assert client.get("/config/acme").json() == {"site": "acme", "config": CONFIG}
    (call,) = forge_storage.calls_to("set")
    assert call.request == {"key": "config:acme", "value": CONFIG}


def test_missing_config_is_404(client, forge_storage):
    assert client.get("/config/acme").status_code == 404
    (call,) = forge_storage.calls
    assert (call.operation, call.status, call.error_code) == ("get", 404, "KEY_NOT_FOUND")


def test_the_system_token_is_forwarded(client, forge_storage):
    forge_storage.allowed_tokens = {SYSTEM_TOKEN}  # any other token gets Forge's 401
    forge_storage.kvs["config:acme"] = {"freeze": True}

    assert client.get("/config/acme").status_code == 200
    r = client.get("/config/acme", headers={"x-forge-oauth-system": "someone-else"})
    assert r.status_code == 502
    assert r.json() == {"error": "storage failed", "code": "UNAUTHORIZED", "status": 401}


def test_a_request_without_the_system_token_never_reaches_storage(client, forge_storage):
    r = client.get("/config/acme", headers={"x-forge-oauth-system": ""})

    assert r.status_code == 401
    assert forge_storage.calls == []


def test_webhook_secret_is_stored_as_a_secret_and_never_echoed(client, forge_storage):
    r = client.put("/sites/acme/webhook-secret", json={"secret": "whsec-0123456789abcd"})

    assert r.status_code == 204
    assert forge_storage.secrets["webhook-secret:acme"] == "whsec-0123456789abcd"
    assert "webhook-secret:acme" not in forge_storage.kvs  # secrets are a namespace apart
    assert client.get("/sites/acme/webhook-secret").json() == {
        "configured": True,
        "hint": "****abcd",
    }
    forge_storage.assert_called("secret/set", key="webhook-secret:acme", times=1)
    assert "whsec-0123456789abcd" not in repr(forge_storage.calls)  # masked in reports


def test_no_webhook_secret_yet(client, forge_storage):
    assert client.get("/sites/acme/webhook-secret").json() == {"configured": False, "hint": None}
