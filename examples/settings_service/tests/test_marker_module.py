"""The marker alone, on a whole module: every test here runs against the fake, seeded
with the same data, without asking for the ``forge_storage`` fixture."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.forge_storage(
    data={
        "kvs": {"settings:acme": {"theme": "dark"}},
        "secrets": {"api-token:acme": "tok_live_module_seed"},
    }
)


def test_reads_seeded_settings(client, headers):
    assert client.get("/settings/acme", headers=headers).json["settings"] == {"theme": "dark"}


def test_reads_the_seeded_secret(client, headers):
    assert client.get("/settings/acme/api-token", headers=headers).json == {
        "configured": True,
        "hint": "****seed",
    }


def test_the_fixture_sees_the_same_store(forge_storage, client, headers):
    client.put("/settings/acme", json={"theme": "light"}, headers=headers)

    assert forge_storage.kvs["settings:acme"] == {"theme": "light"}
