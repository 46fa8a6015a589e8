"""GraphQL ``contextAri`` of another installation: ``CONTEXT_INVALID`` in seed 003's shape.

Seed 003 (Atlassian's remote GraphQL storage page) answers an inaccessible ``contextAri`` with
HTTP 200, ``data.appStoredEntity: null`` and the field error
``{"path": ["appStoredEntity"], "message": "Context <ari> is not accessible in this request",
"extensions": {"statusCode": 400, "errorType": "CONTEXT_INVALID"}}``; mutations carry the
same error in their payload (``success: false``). Only the site segment is compared.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.multitenant._doors import CE_GET, CE_LIST, GET, SET, SUCCESS, Door


@pytest.fixture
def sites(forge_storage: Any) -> tuple[Any, Any]:
    return (
        forge_storage.installation("site-a", product="jira"),
        forge_storage.installation("site-b", product="confluence"),
    )


def refused(context_ari: str) -> dict[str, Any]:
    return {
        "message": f"Context {context_ari} is not accessible in this request",
        "extensions": {"statusCode": 400, "errorType": "CONTEXT_INVALID"},
    }


def field_error(answer: Any) -> dict[str, Any]:
    assert answer.status == 200, answer.text
    (error,) = answer.body["errors"]
    assert error["locations"], error  # graphql-core adds them; the seed omits them
    return {name: error[name] for name in ("path", "message", "extensions")}


def test_a_query_with_another_sites_context_ari_is_a_field_error(
    door: Door, sites: tuple[Any, Any]
) -> None:
    a, b = sites
    a.kvs["settings"] = "a"

    answer = door.graphql(GET, {"key": "settings", "contextAri": a.context_ari}, b.token)

    assert answer.body["data"] == {"appStoredEntity": None}
    assert field_error(answer) == {"path": ["appStoredEntity"], **refused(a.context_ari)}
    (call,) = b.calls
    assert (call.operation, call.error_code, call.installation) == (
        "get",
        "CONTEXT_INVALID",
        "site-b",
    )
    assert a.calls == []


def test_a_mutation_with_another_sites_context_ari_fails_in_its_payload(
    door: Door, sites: tuple[Any, Any]
) -> None:
    a, b = sites
    variables = {"input": {"key": "k", "value": "from-b", "contextAri": a.context_ari}}

    answer = door.graphql(SET, variables, b.token)

    assert answer.status == 200
    assert "errors" not in answer.body
    payload = answer.body["data"]["appStorage"]["setAppStoredEntity"]
    assert payload == {"success": False, "errors": [refused(a.context_ari)]}
    assert (len(a.kvs), len(b.kvs)) == (0, 0)  # nothing written anywhere
    assert b.calls[0].error_code == "CONTEXT_INVALID"


def test_custom_entity_fields_are_checked_too(
    door: Door, sites: tuple[Any, Any], employee: str
) -> None:
    a, b = sites
    a.entity(employee)["e1"] = {"age": 1, "team": "x"}
    get = {"entityName": employee, "key": "e1", "contextAri": a.context_ari}
    query = {**get, "indexName": "by-age", "partition": ["x"]}
    del query["key"]

    for document, field, variables in (
        (CE_GET, "appStoredCustomEntity", get),
        (CE_LIST, "appStoredCustomEntities", query),
    ):
        answer = door.graphql(document, variables, b.token)
        assert answer.body["data"] == {field: None}
        assert field_error(answer) == {"path": [field], **refused(a.context_ari)}


def test_only_the_site_segment_is_compared(door: Door, sites: tuple[Any, Any]) -> None:
    a, _ = sites  # a Jira installation
    a.kvs["k"] = "a"
    # seed 003 builds 'ari:cloud:confluence::site/' + cloudId whatever the product
    as_confluence = f"ari:cloud:confluence::site/{a.cloud_id}"

    got = door.graphql(GET, {"key": "k", "contextAri": as_confluence}, a.token).data

    assert got == {"appStoredEntity": {"key": "k", "value": "a"}}


def test_one_refused_field_leaves_the_others_served(door: Door, sites: tuple[Any, Any]) -> None:
    a, b = sites
    b.kvs["k"] = "b"
    document = """query two($mine: ID, $theirs: ID) {
      mine: appStoredEntity(contextAri: $mine, key: "k") { key value }
      theirs: appStoredEntity(contextAri: $theirs, key: "k") { key value }
    }"""

    answer = door.graphql(document, {"mine": b.context_ari, "theirs": a.context_ari}, b.token)

    assert answer.body["data"] == {"mine": {"key": "k", "value": "b"}, "theirs": None}
    assert field_error(answer) == {"path": ["theirs"], **refused(a.context_ari)}


def test_a_registered_installation_refuses_a_non_site_ari(
    door: Door, sites: tuple[Any, Any]
) -> None:
    _, b = sites
    workspace = "ari:cloud:bitbucket::workspace/8f2b2d5e"

    answer = door.graphql(GET, {"key": "k", "contextAri": workspace}, b.token)

    assert field_error(answer) == {"path": ["appStoredEntity"], **refused(workspace)}


# -- the default installation -----------------------------------------------------------------
UNISSUED = "a-token-the-fake-did-not-issue"


def test_the_default_installation_accepts_a_site_nobody_registered(
    door: Door, forge_storage: Any, sites: tuple[Any, Any]
) -> None:
    forge_storage.kvs["k"] = "default"
    # 0.1 suites send an arbitrary contextAri with an arbitrary token: they keep working
    variables = {"key": "k", "contextAri": "ari:cloud:jira::site/1234"}

    assert door.graphql(GET, variables, UNISSUED).data == {
        "appStoredEntity": {"key": "k", "value": "default"}
    }
    set_variables = {"input": {"key": "n", "value": 1, "contextAri": "ari:cloud:jira::site/9"}}
    set_answer = door.graphql(SET, set_variables, UNISSUED).data
    assert set_answer["appStorage"]["setAppStoredEntity"] == SUCCESS
    assert forge_storage.kvs["n"] == 1


def test_the_default_installation_refuses_the_sites_of_the_others(
    door: Door, forge_storage: Any, sites: tuple[Any, Any]
) -> None:
    a, b = sites
    a.kvs["k"] = "a"

    for inst in (a, b):
        answer = door.graphql(GET, {"key": "k", "contextAri": inst.context_ari}, UNISSUED)
        assert field_error(answer) == {"path": ["appStoredEntity"], **refused(inst.context_ari)}
    default = forge_storage.installation("default")
    answer = door.graphql(GET, {"key": "k", "contextAri": default.context_ari}, UNISSUED)
    assert answer.data == {"appStoredEntity": {"key": "k", "value": None}}  # its own site
    assert [c.installation for c in forge_storage.calls] == ["default"] * 3
