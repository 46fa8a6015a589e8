"""Forge Containers: storage through the egress proxy at ``FORGE_EGRESS_PROXY_URL``.

A container calls ``{proxy}/forge/storage/kvs/v1/*`` with ``forge-proxy-authorization: Forge
as=app,id=<invocationId>`` instead of a bearer token (design §2.6; reference §1.2: the header
and the variable belong to Containers, not Remote). ``installation.proxy_authorization()``
mints such a value bound to its installation. The variable is read per request, as a
container reads it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from pytest_forge_storage import BlockedRequestError
from pytest_forge_storage._http import HttpRequest
from tests.multitenant._doors import Door

PROXY = "http://egress-proxy:7072"
STORAGE = f"{PROXY}/forge/storage/kvs/v1/"


@pytest.fixture(autouse=True)
def proxy(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FORGE_EGRESS_PROXY_URL", PROXY)
    return PROXY


def via_proxy(authorization: str) -> dict[str, str]:
    return {"forge-proxy-authorization": authorization}


def test_each_installations_proxy_authorization_reaches_its_partition(
    door: Door, forge_storage: Any
) -> None:
    a = forge_storage.installation("site-a")
    b = forge_storage.installation("site-b")

    body = {"key": "k", "value": "a"}
    assert door.post(STORAGE + "set", body, via_proxy(a.proxy_authorization())).status == 204
    got = door.post(STORAGE + "get", {"key": "k"}, via_proxy(b.proxy_authorization()))

    assert got.error()[:2] == (404, "KEY_NOT_FOUND")
    assert dict(a.kvs) == {"k": "a"}
    assert dict(b.kvs) == {}
    (call,) = a.calls
    assert (call.operation, call.url, call.installation) == ("set", STORAGE + "set", "site-a")


def test_the_header_names_its_invocation(forge_storage: Any) -> None:
    site = forge_storage.installation("site-b")

    first, second = site.proxy_authorization(), site.proxy_authorization()

    assert re.fullmatch(r"Forge as=app,id=[0-9a-f]{32}", first)
    assert first != second  # one invocation id each


@pytest.mark.parametrize(
    "spelling",
    ["forge as=app,id={id}", "Forge  as=app, id={id}", "Forge id={id},as=app"],
    ids=["lower-scheme", "spaces", "reordered"],
)
def test_the_header_is_parsed_leniently(door: Door, forge_storage: Any, spelling: str) -> None:
    site = forge_storage.installation("site-b")
    invocation_id = site.proxy_authorization().rsplit("=", 1)[1]

    header = via_proxy(spelling.format(id=invocation_id))
    door.post(STORAGE + "set", {"key": "k", "value": 1}, header)

    assert dict(site.kvs) == {"k": 1}


def test_without_the_header_it_is_401(door: Door, forge_storage: Any) -> None:
    site = forge_storage.installation("site-b")

    malformed = ["Bearer x", "Forge as=app", "Forge id=1", "Forge as=user,id=1", "Forge"]
    for headers in (
        {},
        {"Authorization": f"Bearer {site.token}"},  # a system token is not what the proxy takes
        *(via_proxy(value) for value in malformed),
    ):
        status, code, message = door.post(STORAGE + "get", {"key": "k"}, headers).error()
        assert (status, code) == (401, "UNAUTHORIZED")
        assert "forge-proxy-authorization: Forge as=app,id=<invocationId>" in message
        assert "installation.proxy_authorization()" in message


def test_an_invocation_id_the_fake_did_not_mint_follows_the_token_rule(
    door: Door, forge_storage: Any
) -> None:
    forge_storage.kvs["k"] = "default"
    unknown = via_proxy("Forge as=app,id=0123456789abcdef")

    assert door.post(STORAGE + "get", {"key": "k"}, unknown).body["value"] == "default"
    forge_storage.strict_tokens = True
    assert door.post(STORAGE + "get", {"key": "k"}, unknown).error()[:2] == (401, "UNAUTHORIZED")


def test_installation_faults_apply_through_the_proxy(door: Door, forge_storage: Any) -> None:
    a = forge_storage.installation("site-a")
    b = forge_storage.installation("site-b")
    a.fail("get", code="RATE_LIMIT_EXCEEDED")

    assert (
        door.post(STORAGE + "get", {"key": "k"}, via_proxy(b.proxy_authorization())).status == 404
    )
    failed = door.post(STORAGE + "get", {"key": "k"}, via_proxy(a.proxy_authorization()))
    assert failed.error()[:2] == (429, "RATE_LIMIT_EXCEEDED")


@pytest.mark.parametrize(
    "path", ["/graphql", "/ex/jira/1234/rest/api/3/myself", "/forge/storage/kvs"]
)
def test_other_proxy_paths_are_blocked(door: Door, forge_storage: Any, path: str) -> None:
    site = forge_storage.installation("site-b")

    # (httpx.AsyncClient resolves in a worker thread, so its message names host:port only)
    with pytest.raises(BlockedRequestError, match="egress-proxy:7072 is a Forge origin"):
        door.post(
            PROXY + path,
            {"query": "{ me { user { name } } }"},
            via_proxy(site.proxy_authorization()),
        )

    assert forge_storage.calls == []


def test_a_proxy_with_a_base_path(
    door: Door, forge_storage: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORGE_EGRESS_PROXY_URL", "http://127.0.0.1:7072/egress/")
    site = forge_storage.installation("site-b")
    url = "http://127.0.0.1:7072/egress/forge/storage/kvs/v1/set"

    door.post(url, {"key": "k", "value": 1}, via_proxy(site.proxy_authorization()))

    assert dict(site.kvs) == {"k": 1}


def test_the_variable_is_read_per_request(
    forge_storage: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = forge_storage.installation("site-b")
    request = HttpRequest(
        "POST",
        STORAGE + "set",
        {"forge-proxy-authorization": site.proxy_authorization()},
        b'{"key": "k", "value": 1}',
    )
    monkeypatch.delenv("FORGE_EGRESS_PROXY_URL")

    assert forge_storage.handle(request) is None  # not a Forge origin any more

    monkeypatch.setenv("FORGE_EGRESS_PROXY_URL", PROXY)
    answer = forge_storage.handle(request)
    assert answer is not None
    assert answer.status == 204
    assert dict(site.kvs) == {"k": 1}
