"""Bounded GraphQL (design §3): at most 100 storage fields per document, 32 MiB per response,
names and messages echoed at most 1,000 characters, a parse cache bounded by bytes."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from pytest_forge_storage import BlockedRequestError
from pytest_forge_storage.protocol import _graphql_document, graphql

URL = "https://api.atlassian.com/graphql"
AUTH = {"Authorization": "Bearer t"}


def post(query: str) -> requests.Response:
    return requests.post(URL, json={"query": query}, headers=AUTH, timeout=10)


def aliases(n: int, field: str = 'appStoredEntity(key: "big") { value }') -> str:
    return "{ " + " ".join(f"a{i}: {field}" for i in range(n)) + " }"


def test_a_thousand_aliases_are_refused_before_running(forge_storage: Any) -> None:
    # The break: a 38 KB request with 1,000 aliases of a 240 KiB value made a 234 MiB answer.
    forge_storage.kvs["big"] = "x" * 240_000
    r = post(aliases(1_000))
    assert r.status_code == 400
    (error,) = r.json()["errors"]
    assert error["extensions"] == {"errorType": "BAD_REQUEST", "statusCode": 400}
    assert "at most 100 root fields or aliases" in error["message"]
    assert len(r.content) < 1_000
    [call] = forge_storage.calls  # nothing ran: the refusal alone is recorded
    assert (call.operation, call.status, call.error_code) == (None, 400, "BAD_REQUEST")


def test_a_hundred_fields_are_served(forge_storage: Any) -> None:
    forge_storage.kvs["big"] = "x" * 1_000
    r = post(aliases(100))
    assert r.status_code == 200
    assert len(r.json()["data"]) == 100
    assert len(forge_storage.calls) == 100


def test_mutation_fields_count_inside_their_namespace(forge_storage: Any) -> None:
    sets = " ".join(
        f'm{i}: setAppStoredEntity(input: {{key: "k{i}", value: {i}}}) {{ success }}'
        for i in range(101)
    )
    r = post(f"mutation {{ appStorage {{ {sets} }} }}")
    assert r.status_code == 400
    assert "101 storage fields" in r.json()["errors"][0]["message"]
    assert len(forge_storage.kvs) == 0


def test_fragments_count_where_they_are_spread(forge_storage: Any) -> None:
    fragment = (
        "fragment F on Query { "
        + " ".join(f'f{i}: appStoredEntity(key: "k") {{ value }}' for i in range(51))
        + " }"
    )
    r = post('{ ...F a: appStoredEntity(key: "k") { value } } ' + fragment)
    assert r.status_code == 200
    r = post("{ ...F ... on Query { ...F } } " + fragment)
    assert r.status_code == 400


def test_responses_over_32_mib_are_refused(forge_storage: Any) -> None:
    for i in range(20):
        forge_storage.kvs[f"p{i:02}"] = "y" * 240_000
    r = post(aliases(100, "appStoredEntities(first: 20) { nodes { value } }"))
    assert r.status_code == 400
    (error,) = r.json()["errors"]
    assert error["extensions"]["errorType"] == "BAD_REQUEST"
    assert "32 MiB" in error["message"]
    assert len(r.content) < 1_000


def test_names_are_echoed_at_most_1000_characters(forge_storage: Any) -> None:
    r = post("{ appStoredEntity" + "x" * 1_000_000 + " { value } }")
    assert r.status_code == 400
    message = r.json()["errors"][0]["message"]
    assert len(message) <= 1_000
    assert "characters elided" in message


def test_the_cache_keeps_only_storage_documents_that_parse(
    forge_storage: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_graphql_document, "_cache", type(_graphql_document._cache)())
    monkeypatch.setattr(_graphql_document, "_cache_bytes", 0)
    post("{ appStoredEntity(key: ")  # a syntax error
    with pytest.raises(BlockedRequestError):  # not storage: passed on, and the guard refuses
        post("{ me { name } }")
    assert len(_graphql_document._cache) == 0
    post('{ appStoredEntity(key: "k") { value } }')
    assert len(_graphql_document._cache) == 1


def test_the_cache_is_bounded_by_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_graphql_document, "_cache", type(_graphql_document._cache)())
    monkeypatch.setattr(_graphql_document, "_cache_bytes", 0)
    monkeypatch.setattr(_graphql_document, "CACHE_BYTES", 10_000)
    padding = "#" + "p" * 3_000 + "\n"
    for i in range(10):
        _graphql_document.document(f'{padding}{{ appStoredEntity(key: "k{i}") {{ value }} }}')
    assert _graphql_document._cache_bytes <= 10_000
    assert 1 <= len(_graphql_document._cache) <= 3
    assert graphql.MAX_RESPONSE_BYTES == 32 * 2**20


def test_the_cache_counts_bytes_of_utf8_not_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_graphql_document, "_cache", type(_graphql_document._cache)())
    monkeypatch.setattr(_graphql_document, "_cache_bytes", 0)
    monkeypatch.setattr(_graphql_document, "CACHE_BYTES", 10_000)
    padding = "#" + "é" * 3_000 + "\n"  # 3,000 characters, 6,000 bytes
    for i in range(3):
        _graphql_document.document(f'{padding}{{ appStoredEntity(key: "k{i}") {{ value }} }}')
    assert len(_graphql_document._cache) == 1  # two of them would be over 12,000 bytes
    (source,) = _graphql_document._cache
    assert _graphql_document._cache_bytes == len(source.encode()) > 6_000
