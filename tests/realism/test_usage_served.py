"""Usage as tests meet it: every call through a real client is counted, with realism off.

The accounting rule (design §2.7): a write counts the compact JSON of its request body, a
read the compact JSON of its response body; units are max(1, ceil(bytes / 10,000)); only a
served call is charged, but every call counts in ``requests``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.conftest import AUTH, BASE, Client

GRAPHQL = "https://api.atlassian.com/graphql"


def compact(body: Any) -> int:
    """What the fake charges for ``body``: its compact JSON, UTF-8, non-ASCII as itself."""
    return len(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())


def figures(usage: Any) -> dict[str, int]:
    return usage.as_dict()


def usage_of(
    requests: int = 0,
    read_bytes: int = 0,
    write_bytes: int = 0,
    read_units: int = 0,
    write_units: int = 0,
    rate_limited: int = 0,
) -> dict[str, int]:
    return {
        "requests": requests,
        "read_bytes": read_bytes,
        "write_bytes": write_bytes,
        "read_units": read_units,
        "write_units": write_units,
        "rate_limited": rate_limited,
    }


def padded(key: str, size: int) -> dict[str, Any]:
    """A ``set`` body whose compact JSON is exactly ``size`` bytes."""
    body = {"key": key, "value": ""}
    body["value"] = "x" * (size - compact(body))
    assert compact(body) == size
    return body


# -- KVS ---------------------------------------------------------------------------------
def test_a_set_then_a_get_count_their_compact_json(client: Client, forge_storage: Any) -> None:
    # spaces and non-ASCII: requests sends ", " and "\u00e9", httpx neither; same figure
    body = {"key": "profile", "value": {"name": "Zoë Ångström", "tags": ["a", "b"]}}

    assert client.post("set", body).status == 204
    assert figures(forge_storage.usage) == usage_of(1, write_bytes=compact(body), write_units=1)

    answer = client.post("get", {"key": "profile"})
    assert answer.status == 200
    read = compact(answer.body)
    assert read == len(answer.text.encode())  # the fake answers compactly already
    assert figures(forge_storage.usage) == usage_of(
        2, read_bytes=read, write_bytes=compact(body), read_units=1, write_units=1
    )


@pytest.mark.parametrize(
    ("size", "units"),
    [(30, 1), (10_000, 1), (10_001, 2), (20_000, 2), (60_001, 7), (65_000, 7), (70_000, 7)],
)
def test_units_are_10_kb_rounded_up_so_65_kb_is_7(
    forge_storage: Any, size: int, units: int
) -> None:
    rq = Client("httpx")
    body = padded("big", size)

    rq.post("set", body)
    answer = rq.post("get", {"key": "big"})

    # the answer to the get has exactly the set body's shape, so the same size
    assert len(answer.text.encode()) == size
    assert figures(forge_storage.usage) == usage_of(
        2, read_bytes=size, write_bytes=size, read_units=units, write_units=units
    )


def test_a_delete_is_a_write_of_its_request_and_a_query_a_read_of_its_answer(
    forge_storage: Any,
) -> None:
    rq = Client("requests")
    forge_storage.kvs["item:1"] = {"n": 1}
    forge_storage.kvs["item:2"] = {"n": 2}
    query = {"where": [{"property": "key", "condition": "BEGINS_WITH", "values": ["item:"]}]}

    answer = rq.post("query", query)
    assert [entry["key"] for entry in answer.body["data"]] == ["item:1", "item:2"]
    assert rq.post("delete", {"key": "item:1"}).status == 204

    assert figures(forge_storage.usage) == usage_of(
        2,
        read_bytes=len(answer.text.encode()),
        write_bytes=compact({"key": "item:1"}),
        read_units=1,
        write_units=1,
    )


def test_secrets_count_like_kvs_in_the_same_counters(client: Client, forge_storage: Any) -> None:
    body = {"key": "api-token", "value": "s3cr3t-" + "z" * 12_000}

    assert client.post("secret/set", body).status == 204
    answer = client.post("secret/get", {"key": "api-token"})
    assert answer.body == body
    assert client.post("secret/delete", {"key": "api-token"}).status == 204

    size = compact(body)
    assert figures(forge_storage.usage) == usage_of(
        3,
        read_bytes=size,
        write_bytes=size + compact({"key": "api-token"}),
        read_units=2,
        write_units=2 + 1,
    )
    assert "s3cr3t" not in repr(forge_storage.usage)


def test_entities_count_like_kvs_entity_name_included(forge_storage: Any) -> None:
    forge_storage.define_entity("employee", {"name": "string", "age": "integer"}, ["age"])
    rq = Client("requests")
    record = {"entityName": "employee", "key": "e1", "value": {"name": "Ada", "age": 36}}
    query = {"entityName": "employee", "indexName": "age"}

    assert rq.post("entity/set", record).status == 204
    got = rq.post("entity/get", {"entityName": "employee", "key": "e1"})
    found = rq.post("entity/query", query)
    assert rq.post("entity/delete", {"entityName": "employee", "key": "e1"}).status == 204

    assert got.body == {"key": "e1", "value": {"name": "Ada", "age": 36}, "entityName": "employee"}
    assert [item["key"] for item in found.body["data"]] == ["e1"]
    assert figures(forge_storage.usage) == usage_of(
        4,
        read_bytes=len(got.text.encode()) + len(found.text.encode()),
        write_bytes=compact(record) + compact({"entityName": "employee", "key": "e1"}),
        read_units=2,
        write_units=2,
    )


# -- batch and transaction ----------------------------------------------------------------
def test_a_batch_is_one_request_charged_by_its_whole_payload(
    client: Client, forge_storage: Any
) -> None:
    items = [{"key": f"k{i:02}", "value": {"n": i, "text": "y" * 1_000}} for i in range(25)]
    keys = [{"key": item["key"]} for item in items]

    assert client.post("batch/set", items).status == 200
    got = client.post("batch/get", keys)
    assert len(got.body["successfulKeys"]) == 25
    assert client.post("batch/delete", keys).status == 200

    written = compact(items) + compact(keys)
    read = len(got.text.encode())
    assert compact(items) > 25_000  # 25 items of 1 KB: three units, not 25
    assert figures(forge_storage.usage) == usage_of(
        3,
        read_bytes=read,
        write_bytes=written,
        read_units=-(-read // 10_000),
        write_units=-(-compact(items) // 10_000) + 1,
    )


def test_a_transaction_is_one_write_of_its_body(client: Client, forge_storage: Any) -> None:
    forge_storage.kvs["old"] = 1
    body = {
        "set": [{"key": "a", "value": "v" * 15_000}, {"key": "b", "value": 2}],
        "delete": [{"key": "old"}],
    }

    assert client.post("transaction", body).status == 204

    assert figures(forge_storage.usage) == usage_of(1, write_bytes=compact(body), write_units=2)
    assert forge_storage.kvs["b"] == 2


# -- failures -----------------------------------------------------------------------------
def test_failed_calls_count_as_requests_and_cost_nothing(forge_storage: Any) -> None:
    rq = Client("requests")
    forge_storage.kvs["taken"] = 1

    assert rq.post("get", {"key": "missing"}).error() == (404, "KEY_NOT_FOUND")
    assert rq.post("set", {"key": "", "value": 1}).status == 400
    taken = {"key": "taken", "value": 2, "options": {"keyPolicy": "FAIL_IF_EXISTS"}}
    assert rq.post("set", taken).error() == (409, "KEY_CONFLICT")
    assert rq.post("batch/set", []).error() == (400, "BAD_REQUEST")
    forge_storage.fail("set", code="INTERNAL_SERVER_ERROR", status=500)
    assert rq.post("set", {"key": "a", "value": 1}).status == 500
    forge_storage.fail("get")  # a planned 429 is a fault, not the rate limiter
    assert rq.post("get", {"key": "taken"}).error() == (429, "RATE_LIMIT_EXCEEDED")
    forge_storage.fail_transport("get")
    with pytest.raises(requests.ConnectionError):
        requests.post(BASE + "get", json={"key": "taken"}, headers=AUTH, timeout=5)
    assert requests.post(BASE + "get", json={"key": "taken"}, timeout=5).status_code == 401

    assert len(forge_storage.calls) == 8
    assert figures(forge_storage.usage) == usage_of(8)


def test_a_write_answered_with_an_error_after_a_good_one_charges_only_the_good_one(
    forge_storage: Any,
) -> None:
    rq = Client("httpx")
    good = {"key": "a", "value": 1}

    rq.post("set", good)
    forge_storage.fail("set", code="INTERNAL_SERVER_ERROR", status=503)
    rq.post("set", good)

    assert figures(forge_storage.usage) == usage_of(2, write_bytes=compact(good), write_units=1)


# -- GraphQL ------------------------------------------------------------------------------
GET_TWO = """
    # a comment the document carries: the document text is never counted
    query two($a: ID!, $b: ID!) {
      first: appStoredEntity(key: $a, encrypted: false) { key value }
      second: appStoredEntity(key: $b, encrypted: false) { key value }
    }
"""
SET = """
    mutation set($input: SetAppStoredEntityMutationInput!) {
      appStorage { setAppStoredEntity(input: $input) { success errors { message } } }
    }
"""


def graphql(query: str, variables: dict[str, Any]) -> Any:
    answer = requests.post(
        GRAPHQL, json={"query": query, "variables": variables}, headers=AUTH, timeout=5
    )
    return answer.status_code, answer.json()


def test_graphql_counts_each_storage_field_as_one_request(forge_storage: Any) -> None:
    forge_storage.kvs["a"] = {"colour": "blue"}
    forge_storage.kvs["b"] = [1, 2, 3]

    status, body = graphql(GET_TWO, {"a": "a", "b": "b"})

    assert status == 200
    first, second = body["data"]["first"], body["data"]["second"]
    assert [call.api for call in forge_storage.calls] == ["graphql", "graphql"]
    # each field's own answer, not the envelope around it
    assert figures(forge_storage.usage) == usage_of(
        2, read_bytes=compact(first) + compact(second), read_units=2
    )


def test_a_graphql_write_counts_its_variables_and_a_failed_field_nothing(
    forge_storage: Any,
) -> None:
    variables = {"input": {"key": "k", "value": {"on": True}, "encrypted": False}}
    assert graphql(SET, variables) == (
        200,
        {"data": {"appStorage": {"setAppStoredEntity": {"success": True, "errors": None}}}},
    )
    bad = {"input": {"key": "", "value": 1, "encrypted": False}}
    status, body = graphql(SET, bad)
    assert status == 200
    assert body["data"]["appStorage"]["setAppStoredEntity"]["success"] is False

    assert forge_storage.calls[1].error_code is not None
    assert figures(forge_storage.usage) == usage_of(
        2, write_bytes=compact(variables), write_units=1
    )


# -- what is not counted, and where figures live -------------------------------------------
def test_seeding_and_inspecting_through_the_fixture_are_not_metered(forge_storage: Any) -> None:
    forge_storage.kvs["a"] = {"x": 1}
    forge_storage.secrets["s"] = "token"
    forge_storage.set("t", 1, ttl=60)
    assert forge_storage.kvs["a"] == {"x": 1}
    forge_storage.snapshot()
    forge_storage.load_data({"kvs": {"b": 2}})

    assert figures(forge_storage.usage) == usage_of()
    forge_storage.assert_usage(requests=0, cost_usd=0)


def test_usage_is_a_snapshot(forge_storage: Any) -> None:
    rq = Client("requests")
    rq.post("set", {"key": "a", "value": 1})

    before = forge_storage.usage
    before.requests = 100
    rq.post("set", {"key": "a", "value": 2})

    assert forge_storage.usage.requests == 2


def test_each_installation_has_its_usage_and_the_storage_has_the_sum(forge_storage: Any) -> None:
    site_a = forge_storage.installation("site-a")
    site_b = forge_storage.installation("site-b")
    rq = Client("requests")
    as_a = {"Authorization": f"Bearer {site_a.token}"}
    as_b = {"Authorization": f"Bearer {site_b.token}"}
    big = padded("big", 25_000)

    rq.post("set", big, headers=as_a)
    rq.post("get", {"key": "big"}, headers=as_a)
    rq.post("set", {"key": "small", "value": 1}, headers=as_b)
    rq.post("get", {"key": "big"}, headers=as_b)  # not in site-b's partition: 404
    rq.post("set", {"key": "default", "value": True})  # a token the fake did not issue

    assert figures(site_a.usage) == usage_of(
        2, read_bytes=25_000, write_bytes=25_000, read_units=3, write_units=3
    )
    small = compact({"key": "small", "value": 1})
    assert figures(site_b.usage) == usage_of(2, write_bytes=small, write_units=1)
    default = compact({"key": "default", "value": True})
    assert figures(forge_storage.usage) == usage_of(
        5,
        read_bytes=25_000,
        write_bytes=25_000 + small + default,
        read_units=3,
        write_units=3 + 1 + 1,
    )
    assert len(site_a.calls) == 2
    site_b.assert_usage(write_units=1, read_units=0)
    with pytest.raises(AssertionError, match=r"read_units 3 > 2"):
        site_a.assert_usage(read_units=2)


def test_reset_forgets_usage(forge_storage: Any) -> None:
    rq = Client("requests")
    rq.post("set", {"key": "a", "value": 1})

    forge_storage.reset()

    assert figures(forge_storage.usage) == usage_of()
    rq.post("get", {"key": "a"})
    assert figures(forge_storage.usage) == usage_of(1)


def test_cost_is_the_gross_price_of_the_bytes(forge_storage: Any) -> None:
    rq = Client("httpx")
    body = padded("big", 200_000)
    for _ in range(5):
        rq.post("set", body)
        rq.post("get", {"key": "big"})

    usage = forge_storage.usage
    assert (usage.write_bytes, usage.read_bytes) == (1_000_000, 1_000_000)
    assert usage.cost_usd() == pytest.approx(0.001 * 1.090 + 0.001 * 0.055)
    assert usage.allowance_share() == pytest.approx({"read": 0.01, "write": 0.01})
    forge_storage.assert_usage(cost_usd=0.0012, write_units=100)


# -- assert_usage as a failing test shows it ------------------------------------------------
def test_assert_usage_fails_with_every_figure_and_its_maximum(forge_storage: Any) -> None:
    rq = Client("requests")
    for i in range(3):
        rq.post("set", padded(f"k{i}", 12_000))
    rq.post("get", {"key": "missing"})

    with pytest.raises(AssertionError) as failed:
        forge_storage.assert_usage(write_units=5, requests=10, rate_limited=0)

    assert str(failed.value) == (
        "Forge storage usage exceeds 1 of the maxima: write_units 6 > 5\n"
        "  requests             4  (at most 10)\n"
        "  read_bytes           0\n"
        "  write_bytes     36,000\n"
        "  read_units           0\n"
        "  write_units          6  (at most 5: EXCEEDED)\n"
        "  rate_limited         0  (at most 0)\n"
        "  cost_usd      0.000039\n"
        "  cost_usd is gross, at Forge's prices of 2025-06-30, before the\n"
        "  monthly free allowance (0.1 GB read, 0.1 GB written, per app): this is "
        "0% and 0.036% of it"
    )


def test_assert_usage_refuses_names_it_does_not_know(forge_storage: Any) -> None:
    with pytest.raises(TypeError, match=r"unknown maxima writes; the names are: requests, "):
        forge_storage.assert_usage(writes=1)
    with pytest.raises(TypeError, match=r"needs at least one maximum"):
        forge_storage.assert_usage()
    with pytest.raises(ValueError, match=r"write_units must be a number >= 0, like write_units="):
        forge_storage.assert_usage(write_units=-1)


def test_a_failing_assert_usage_points_at_the_test_line(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        """
        import requests
        URL = "https://api.atlassian.com/forge/storage/kvs/v1/"

        def test_import(forge_storage):
            for i in range(3):
                requests.post(URL + "set", json={"key": f"k{i}", "value": i},
                              headers={"Authorization": "Bearer t"}, timeout=5)
            forge_storage.assert_usage(write_units=2)
        """
    )
    result = pytester.runpytest("-p", "no:randomly")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            ">       forge_storage.assert_usage(write_units=2)",
            "E       AssertionError: Forge storage usage exceeds 1 of the maxima: "
            "write_units 3 > 2",
            "E         requests             3",
            "E         write_units          3  (at most 2: EXCEEDED)",
        ],
        consecutive=False,
    )
    assert "_usage.py" not in result.stdout.str()  # no frames from inside the plugin


def test_server_mode_counts_and_limits_alike(forge_storage: Any, forge_storage_server: Any) -> None:
    import freezegun

    url = forge_storage_server.url + "/forge/storage/kvs/v1/"
    forge_storage.realism = "limits"
    with requests.Session() as session, freezegun.freeze_time("2026-03-02 09:00:00"):
        statuses = [
            session.post(url + "set", json={"key": "k", "value": 1}, headers=AUTH).status_code
            for _ in range(1001)
        ]
        refused = session.post(url + "get", json={"key": "k"}, headers=AUTH)

    assert forge_storage_server.storage is forge_storage
    assert statuses == [204] * 1000 + [429]
    assert refused.json()["code"] == "RATE_LIMIT_EXCEEDED"
    assert figures(forge_storage.usage) == usage_of(
        1002, write_bytes=1000 * compact({"key": "k", "value": 1}), write_units=1000,
        rate_limited=2,
    )  # fmt: skip
