"""The remote as Forge runs it: every request a Forge invocation of the app, one app serving
several installations.

``installation.invocation(...)`` builds the headers Forge sends: a FIT signed RS256 and the
installation's system token. While the fake is active, Forge's JWKS URL serves the key the
FIT is signed with, so the service's own ``PyJWKClient`` verification runs unchanged, and
each installation's token reaches only that installation's storage partition.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from forge_settings_service import (
    FitVerifier,
    InstallationTokens,
    Invocation,
    RetryPolicy,
    create_app,
    export_audit,
)
from freezegun import freeze_time

from pytest_forge_storage import ForgeStorage, Installation

#: app.id in manifest.yml, which the ini option loads: the FITs' audience.
APP_ID = "ari:cloud:ecosystem::app/00000000-0000-0000-0000-000000000000"
USER = "655362:312d3308-8954-42b0-aa38-771a10c88656"


def remote(tokens: InstallationTokens | None = None) -> FlaskClient:
    """The service as it runs at Forge: FITs verified for APP_ID."""
    app = create_app(app_id=APP_ID, tokens=tokens, retry=RetryPolicy(max_attempts=1))
    return app.test_client()


def test_the_fits_are_minted_for_this_app(forge_storage: ForgeStorage) -> None:
    assert forge_storage.app_id == APP_ID


def test_a_valid_invocation_is_served_from_its_installation(forge_storage: ForgeStorage) -> None:
    site_b = forge_storage.installation("site-b", product="confluence")
    invocation = site_b.invocation(principal=USER)

    response = remote().put("/settings/acme", json={"theme": "dark"}, headers=invocation.headers)

    assert response.status_code == 200, response.json
    assert site_b.kvs["settings:acme"] == {"theme": "dark"}
    assert "settings:acme" not in forge_storage.kvs  # the default installation's partition
    site_b.assert_called("set", key="settings:acme")


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"audience": "ari:cloud:ecosystem::app/8db33809-1f32-48bb-8c52-5877dab48107"}, "udience"),
        ({"valid_signature": False}, "Signature verification failed"),
        ({"expired": True}, "Signature has expired"),
    ],
    ids=["another-app", "forged", "expired"],
)
def test_an_invalid_fit_is_refused_before_any_storage_call(
    forge_storage: ForgeStorage, options: dict[str, Any], reason: str
) -> None:
    invocation = forge_storage.installation("site-b").invocation(**options)

    response = remote().put("/settings/acme", json={"theme": "dark"}, headers=invocation.headers)

    assert response.status_code == 401
    assert response.json["error"] == "not a valid Forge invocation"
    assert reason in response.json["reason"]
    forge_storage.assert_not_called()


def test_a_replayed_fit_is_refused_once_it_expired(forge_storage: ForgeStorage) -> None:
    service = remote()
    with freeze_time("2026-12-07 10:00:00") as clock:
        headers = forge_storage.installation("site-b").invocation().headers
        assert service.get("/settings/acme", headers=headers).status_code == 404  # none yet

        clock.tick(timedelta(seconds=26))  # past exp = iat + 25
        response = service.get("/settings/acme", headers=headers)

    assert response.status_code == 401
    assert "expired" in response.json["reason"]
    assert len(forge_storage.calls) == 1  # the replay never reached storage


def test_a_system_token_alone_is_no_invocation(forge_storage: ForgeStorage) -> None:
    headers = forge_storage.installation("site-b").invocation().headers
    del headers["authorization"]

    response = remote().get("/settings/acme", headers=headers)

    assert response.status_code == 401
    assert "no Forge Invocation Token" in response.json["reason"]
    forge_storage.assert_not_called()


# --8<-- [start:tenants]
def two_sites_one_key(
    service: FlaskClient, site_a: Installation, site_b: Installation
) -> dict[str, Any]:
    """Both installations write and read settings under the same key; what each saw."""
    service.put("/settings/acme", json={"theme": "dark"}, headers=site_a.invocation().headers)
    first_look = service.get("/settings/acme", headers=site_b.invocation().headers)
    service.put("/settings/acme", json={"theme": "light"}, headers=site_b.invocation().headers)
    site_a_reads = service.get("/settings/acme", headers=site_a.invocation().headers)
    return {
        "site-b before writing": first_look.status_code,
        "site-a reads": site_a_reads.json["settings"],
    }


def test_each_installation_reads_only_its_own_settings(forge_storage: ForgeStorage) -> None:
    site_a, site_b = forge_storage.installation("site-a"), forge_storage.installation("site-b")

    seen = two_sites_one_key(remote(), site_a, site_b)

    assert seen == {"site-b before writing": 404, "site-a reads": {"theme": "dark"}}
    assert site_a.kvs["settings:acme"] == {"theme": "dark"}
    assert site_b.kvs["settings:acme"] == {"theme": "light"}


class OneTokenForEveryone(InstallationTokens):
    """The bug: the first token the remote ever saw, for every installation."""

    first: str | None = None

    def remember(self, invocation: Invocation) -> None:
        self.first = self.first or invocation.system_token

    def token_for(self, installation_id: str) -> str:
        assert self.first is not None
        return self.first


def test_the_fake_shows_a_remote_that_keeps_the_first_token(forge_storage: ForgeStorage) -> None:
    site_a, site_b = forge_storage.installation("site-a"), forge_storage.installation("site-b")

    seen = two_sites_one_key(remote(OneTokenForEveryone()), site_a, site_b)

    # site-b was served site-a's settings, then overwrote them; site-b's partition is empty.
    assert seen == {"site-b before writing": 200, "site-a reads": {"theme": "light"}}
    assert "settings:acme" not in site_b.kvs
    assert site_b.calls == []  # every call carried site-a's token


# --8<-- [end:tenants]
class FirstTokenPerInstallation(InstallationTokens):
    """The other bug: each installation's first token, kept after it expired."""

    def remember(self, invocation: Invocation) -> None:
        with self._lock:
            self._tokens.setdefault(invocation.installation_id, invocation.system_token)


@pytest.mark.parametrize(
    ("tokens", "status"),
    [(InstallationTokens, 200), (FirstTokenPerInstallation, 502)],
    ids=["newest-token", "first-token-bug"],
)
def test_the_newest_token_is_used_once_the_first_expired(
    forge_storage: ForgeStorage, tokens: type[InstallationTokens], status: int
) -> None:
    site_b = forge_storage.installation("site-b")
    service = remote(tokens())
    with freeze_time("2026-12-07 10:00:00") as clock:
        service.put("/settings/acme", json={"theme": "dark"}, headers=site_b.invocation().headers)
        clock.tick(timedelta(hours=2))  # the system token's lifetime: the first one expired
        response = service.get("/settings/acme", headers=site_b.invocation().headers)

    assert response.status_code == status
    if status == 502:  # Forge answered 401 to the expired token; the service says so
        assert response.json["code"] == "UNAUTHORIZED"
        last = site_b.calls[-1]
        assert "expired" in last.response["message"]


async def test_a_job_outside_an_invocation_uses_that_installations_token(
    forge_storage: ForgeStorage,
) -> None:
    site_a, site_b = forge_storage.installation("site-a"), forge_storage.installation("site-b")
    tokens = InstallationTokens()
    service = remote(tokens)
    for theme in ("dark", "light"):
        service.put("/settings/acme", json={"theme": theme}, headers=site_a.invocation().headers)
    service.put("/settings/acme", json={"theme": "blue"}, headers=site_b.invocation().headers)

    entries = await export_audit("acme", tokens.token_for(site_b.installation_id))

    assert [entry["details"]["current"] for entry in entries] == [{"theme": "blue"}]


def test_the_verifier_wants_the_app_ari() -> None:
    with pytest.raises(ValueError, match="app ARI"):
        FitVerifier("00000000-0000-0000-0000-000000000000")
