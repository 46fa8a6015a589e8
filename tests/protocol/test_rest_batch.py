"""Batch over REST (ref §11, decision 10), through real requests and httpx clients."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import BASE, Client

EMPLOYEE = "employee"


@pytest.fixture
def employee(forge_storage: Any) -> str:
    forge_storage.define_entity(EMPLOYEE, {"name": "string", "age": "integer"}, ["age", "name"])
    return EMPLOYEE


def ok(answer: Any) -> dict[str, Any]:
    assert answer.status == 200, answer.text
    assert set(answer.body) == {"successfulKeys", "failedKeys"}
    return answer.body  # type: ignore[no-any-return]


def codes(body: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [(f["key"], f.get("entityName"), f["error"]["code"]) for f in body["failedKeys"]]


# -- batch/set ---------------------------------------------------------------------------
def test_set_mixes_kvs_and_entity_items(client: Client, employee: str, forge_storage: Any) -> None:
    items = [
        {"key": "a", "value": 1},
        {"key": "a", "value": {"name": "Ann", "age": 30}, "entityName": employee},
        {"key": "b", "value": [1, {"x": None}]},
        {"key": "e2", "value": {"age": 40}, "entityName": employee},
    ]
    body = ok(client.post("batch/set", items))
    assert body == {
        "successfulKeys": [
            {"key": "a"},  # KVS items carry no entityName (design §2.4)
            {"key": "a", "entityName": employee},
            {"key": "b"},
            {"key": "e2", "entityName": employee},
        ],
        "failedKeys": [],
    }
    assert dict(forge_storage.kvs) == {"a": 1, "b": [1, {"x": None}]}
    assert dict(forge_storage.entity(employee)) == {
        "a": {"name": "Ann", "age": 30},
        "e2": {"age": 40},
    }
    # and the entity records are indexed
    query = {"entityName": employee, "indexName": "age", "range": {"condition": "GREATER_THAN",
             "values": [35]}}  # fmt: skip
    assert [i["key"] for i in client.post("entity/query", query).body["data"]] == ["e2"]


def test_set_items_fail_one_by_one_in_request_order(
    client: Client, employee: str, forge_storage: Any
) -> None:
    deep: Any = 1
    for _ in range(32):
        deep = [deep]
    items = [
        {"key": "ok-1", "value": 1},
        {"key": "", "value": 1},
        {"key": "", "value": {}, "entityName": employee},
        {"key": "a/b", "value": 1},
        {"key": "k" * 501, "value": 1, "entityName": employee},
        {"key": "ok-2", "value": {"age": 2}, "entityName": employee},
        {"key": "bad-age", "value": {"age": "2"}, "entityName": employee},
        {"key": "undeclared", "value": {"age": 2}, "entityName": "manager"},
        {"key": "short", "value": {}, "entityName": "ab"},
        {"key": "deep", "value": deep},
        {"key": "big", "value": "x" * (240 * 1024)},
        {"key": "ok-3", "value": "last"},
    ]
    body = ok(client.post("batch/set", items))
    assert body["successfulKeys"] == [
        {"key": "ok-1"},
        {"key": "ok-2", "entityName": employee},
        {"key": "ok-3"},
    ]
    assert codes(body) == [
        ("", None, "KEY_TOO_SHORT"),
        ("", employee, "EMPTY_KEY"),
        ("a/b", None, "INVALID_KEY"),
        ("k" * 501, employee, "KEY_TOO_LONG"),
        ("bad-age", employee, "INVALID_ENTITY_VALUE"),
        ("undeclared", "manager", "INVALID_ENTITY_TYPE"),
        ("short", "ab", "ENTITY_TYPE_TOO_SHORT"),
        ("deep", None, "MAX_DEPTH"),
        ("big", None, "MAX_SIZE"),
    ]
    for failed in body["failedKeys"]:
        assert set(failed["error"]) == {"code", "message"}
        assert failed["error"]["message"]
    assert sorted(forge_storage.kvs) == ["ok-1", "ok-3"]
    assert list(forge_storage.entity(employee)) == ["ok-2"]


def test_set_items_take_a_ttl(
    client: Client, employee: str, forge_storage: Any, time_machine: Any
) -> None:
    time_machine.move_to(datetime(2026, 2, 1, tzinfo=timezone.utc), tick=False)
    minute = {"ttl": {"value": 1, "unit": "MINUTES"}}
    items = [
        {"key": "kvs", "value": 1, "options": minute},
        {"key": "rec", "value": {"age": 1}, "entityName": employee, "options": minute},
        {"key": "day", "value": 2, "options": {"ttl": {"value": 1, "unit": "DAYS"}}},
        {"key": "forever", "value": 3},
    ]
    ok(client.post("batch/set", items))
    fields = {"metadataFields": ["EXPIRE_TIME"]}
    got = ok(client.post("batch/get", [{"key": k, "options": fields} for k in ("kvs", "forever")]))
    assert got["successfulKeys"] == [
        {"key": "kvs", "value": 1, "expireTime": "2026-02-01T00:01:00.000Z"},
        {"key": "forever", "value": 3},
    ]
    time_machine.shift(timedelta(minutes=1))
    assert sorted(forge_storage.kvs) == ["day", "forever"]
    assert len(forge_storage.entity(employee)) == 0
    query = {"entityName": employee, "indexName": "age"}
    assert client.post("entity/query", query).body == {"data": []}


@pytest.mark.parametrize(
    "ttl",
    [
        {"value": 0, "unit": "SECONDS"},
        {"value": 366, "unit": "DAYS"},
        {"value": 1, "unit": "WEEKS"},
    ],
)
def test_an_invalid_ttl(rq: Client, ttl: Any) -> None:
    # the schema's own rules reject the whole request; the one-year rule is the item's
    items = [{"key": "a", "value": 1}, {"key": "b", "value": 1, "options": {"ttl": ttl}}]
    answer = rq.post("batch/set", items)
    if ttl["value"] == 366:
        assert codes(ok(answer)) == [("b", None, "BAD_REQUEST")]
    else:
        assert answer.error() == (400, "BAD_REQUEST")


# -- batch/get ---------------------------------------------------------------------------
def test_get_returns_values_and_requested_metadata(
    client: Client, employee: str, forge_storage: Any, time_machine: Any
) -> None:
    time_machine.move_to(datetime(2026, 2, 1, tzinfo=timezone.utc), tick=False)
    forge_storage.kvs["a"] = {"v": 1}
    forge_storage.set("e1", {"age": 5}, entity=employee, ttl=60)
    items = [
        {"key": "a"},
        {"key": "e1", "entityName": employee,
         "options": {"metadataFields": ["CREATED_AT", "UPDATED_AT", "EXPIRE_TIME"]}},
        {"key": "a", "options": {"metadataFields": ["UPDATED_AT"]}, "entityName": employee},
        {"key": "missing"},
        {"key": "e1"},  # a KVS key: the entity record of the same key is another namespace
    ]  # fmt: skip
    body = ok(client.post("batch/get", items))
    assert body["successfulKeys"] == [
        {"key": "a", "value": {"v": 1}},
        {
            "key": "e1",
            "entityName": employee,
            "value": {"age": 5},
            "createdAt": 1769904000000,
            "updatedAt": 1769904000000,
            "expireTime": "2026-02-01T00:01:00.000Z",
        },
    ]
    assert codes(body) == [
        ("a", employee, "KEY_NOT_FOUND"),
        ("missing", None, "KEY_NOT_FOUND"),
        ("e1", None, "KEY_NOT_FOUND"),
    ]


def test_get_of_an_expired_key_is_key_not_found(
    client: Client, forge_storage: Any, time_machine: Any
) -> None:
    time_machine.move_to(datetime(2026, 2, 1, tzinfo=timezone.utc), tick=False)
    forge_storage.set("a", 1, ttl=timedelta(seconds=10))
    time_machine.shift(10)
    assert codes(ok(client.post("batch/get", [{"key": "a"}]))) == [("a", None, "KEY_NOT_FOUND")]


# -- batch/delete ------------------------------------------------------------------------
def test_delete_removes_and_reports_missing_keys(
    client: Client, employee: str, forge_storage: Any
) -> None:
    forge_storage.kvs["a"] = 1
    forge_storage.kvs["b"] = 2
    forge_storage.entity(employee)["a"] = {"age": 1}
    items = [
        {"key": "a", "entityName": employee},
        {"key": "nope"},
        {"key": "a"},
        {"key": "nope", "entityName": employee},
        {"key": "x y/", "entityName": employee},
    ]
    body = ok(client.post("batch/delete", items))
    assert body["successfulKeys"] == [{"key": "a", "entityName": employee}, {"key": "a"}]
    assert codes(body) == [
        ("nope", None, "KEY_NOT_FOUND"),
        ("nope", employee, "KEY_NOT_FOUND"),
        ("x y/", employee, "INVALID_KEY"),
    ]
    assert dict(forge_storage.kvs) == {"b": 2}
    assert len(forge_storage.entity(employee)) == 0
    query = {"entityName": employee, "indexName": "age"}
    assert client.post("entity/query", query).body == {"data": []}


# -- whole-request rejection: 400 BAD_REQUEST (decision 10) ------------------------------
def _too_big() -> list[dict[str, Any]]:
    # 25 items of 200 KiB each: every item fits, the request (over 4 MB) does not
    return [{"key": f"k{i}", "value": "x" * (200 * 1024)} for i in range(25)]


WHOLE: list[tuple[str, Any]] = [
    ("empty", []),
    ("26 items", [{"key": f"k{i}", "value": i} for i in range(26)]),
    ("duplicate key", [{"key": "a", "value": 1}, {"key": "b", "value": 2},
                       {"key": "a", "value": 3}]),
    ("duplicate key and entity", [
        {"key": "a", "value": {}, "entityName": EMPLOYEE},
        {"key": "a", "value": {}, "entityName": EMPLOYEE},
    ]),
    ("over 4 MB", _too_big()),
    ("not an array", {"key": "a", "value": 1}),
    ("an item without a key", [{"key": "a", "value": 1}, {"value": 2}]),
    ("a null value", [{"key": "a", "value": 1}, {"key": "b", "value": None}]),
    ("a secret flag", [{"key": "a", "value": 1, "encrypted": True}]),
    ("keyPolicy", [{"key": "a", "value": 1, "options": {"keyPolicy": "FAIL_IF_EXISTS"}}]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "items"), WHOLE, ids=[case for case, _ in WHOLE])
def test_set_requests_rejected_as_a_whole(
    rq: Client, employee: str, forge_storage: Any, case: str, items: Any
) -> None:
    assert rq.post("batch/set", items).error() == (400, "BAD_REQUEST")
    assert len(forge_storage.kvs) == 0
    assert len(forge_storage.entity(employee)) == 0
    call = forge_storage.calls[-1]
    assert (call.operation, call.key, call.status, call.error_code) == (
        "batch/set",
        None,
        400,
        "BAD_REQUEST",
    )


@pytest.mark.parametrize("operation", ["batch/get", "batch/delete"])
@pytest.mark.parametrize(
    "items",
    [[], [{"key": f"k{i}"} for i in range(26)], [{"key": "a"}, {"key": "a"}],
     [{"key": "a", "entityName": EMPLOYEE}, {"key": "a", "entityName": EMPLOYEE}]],
    ids=["empty", "26 items", "duplicate key", "duplicate key and entity"],
)  # fmt: skip
def test_get_and_delete_requests_rejected_as_a_whole(
    client: Client, employee: str, forge_storage: Any, operation: str, items: Any
) -> None:
    forge_storage.kvs["a"] = 1
    assert client.post(operation, items).error() == (400, "BAD_REQUEST")
    assert forge_storage.kvs["a"] == 1


def test_25_items_and_the_same_key_in_two_namespaces_are_fine(
    client: Client, employee: str, forge_storage: Any
) -> None:
    items = [{"key": f"k{i:02}", "value": i} for i in range(24)]
    items.append({"key": "k00", "value": {"age": 1}, "entityName": employee})
    body = ok(client.post("batch/set", items))
    assert len(body["successfulKeys"]) == 25
    assert body["failedKeys"] == []
    assert len(forge_storage.kvs) == 24
    assert dict(forge_storage.entity(employee)) == {"k00": {"age": 1}}


# -- secrets are out of reach ------------------------------------------------------------
def test_batch_never_reaches_secrets(client: Client, forge_storage: Any) -> None:
    forge_storage.secrets["s"] = "hidden"
    assert codes(ok(client.post("batch/get", [{"key": "s"}]))) == [("s", None, "KEY_NOT_FOUND")]
    assert codes(ok(client.post("batch/delete", [{"key": "s"}]))) == [("s", None, "KEY_NOT_FOUND")]
    ok(client.post("batch/set", [{"key": "s", "value": "plain"}]))
    assert forge_storage.secrets["s"] == "hidden"
    assert forge_storage.kvs["s"] == "plain"
    for operation in ("batch/secret/set", "secret/batch/get"):
        assert client.post(operation, [{"key": "s"}]).error() == (403, "FORBIDDEN")


# -- faults on items and on whole requests -----------------------------------------------
def test_a_keyed_fault_fails_only_that_item(client: Client, forge_storage: Any) -> None:
    forge_storage.fail("batch/set", key="b", code="INTERNAL_SERVER_ERROR")
    items = [{"key": "a", "value": 1}, {"key": "b", "value": 2}, {"key": "c", "value": 3}]
    body = ok(client.post("batch/set", items))
    assert body["successfulKeys"] == [{"key": "a"}, {"key": "c"}]
    assert body["failedKeys"] == [
        {
            "key": "b",
            "error": {
                "code": "INTERNAL_SERVER_ERROR",
                "message": "An internal server error has occurred",
            },
        }
    ]
    assert dict(forge_storage.kvs) == {"a": 1, "c": 3}  # nothing written for b
    call = forge_storage.calls[-1]
    assert (call.operation, call.key, call.status, call.error_code) == (
        "batch/set",
        None,
        200,
        None,
    )
    assert call.response == body
    assert call.request == items
    # times=1: the next batch writes b
    assert ok(client.post("batch/set", items))["failedKeys"] == []
    assert forge_storage.kvs["b"] == 2


def test_a_fault_without_a_key_fails_the_whole_batch(client: Client, forge_storage: Any) -> None:
    forge_storage.fail("batch/set")
    items = [{"key": "a", "value": 1}, {"key": "b", "value": 2}]
    assert client.post("batch/set", items).error() == (429, "RATE_LIMIT_EXCEEDED")
    assert len(forge_storage.kvs) == 0
    call = forge_storage.calls[-1]
    assert (call.operation, call.key, call.status, call.error_code) == (
        "batch/set",
        None,
        429,
        "RATE_LIMIT_EXCEEDED",
    )
    assert ok(client.post("batch/set", items))["failedKeys"] == []


def test_a_whole_batch_fault_counts_requests_not_items(rq: Client, forge_storage: Any) -> None:
    # after=1: the first batch goes through whole, the second fails whole (never one item)
    forge_storage.fail("batch/set", after=1)
    items = [{"key": "a", "value": 1}, {"key": "b", "value": 2}]
    assert ok(rq.post("batch/set", items))["failedKeys"] == []
    assert rq.post("batch/set", items).error() == (429, "RATE_LIMIT_EXCEEDED")
    assert ok(rq.post("batch/set", items))["failedKeys"] == []
    forge_storage.fail(after=1)  # any operation: a get, then the batch
    assert rq.post("get", {"key": "a"}).status == 200
    assert rq.post("batch/get", [{"key": "a"}, {"key": "b"}]).error() == (
        429,
        "RATE_LIMIT_EXCEEDED",
    )


def test_an_entity_name_fault_hits_that_entitys_items(
    rq: Client, employee: str, forge_storage: Any
) -> None:
    forge_storage.fail("batch/set", entity_name=employee, times=2)
    items = [
        {"key": "a", "value": 1},
        {"key": "b", "value": {"age": 1}, "entityName": employee},
        {"key": "c", "value": {"age": 2}, "entityName": employee},
        {"key": "d", "value": {"age": 3}, "entityName": employee},
    ]
    body = ok(rq.post("batch/set", items))
    assert body["successfulKeys"] == [{"key": "a"}, {"key": "d", "entityName": employee}]
    assert codes(body) == [("b", employee, "RATE_LIMIT_EXCEEDED"),
                           ("c", employee, "RATE_LIMIT_EXCEEDED")]  # fmt: skip


def test_a_keyed_fault_without_an_operation_hits_batch_items(
    client: Client, forge_storage: Any
) -> None:
    forge_storage.kvs["b"] = "old"
    forge_storage.fail(key="b", code="KEY_CONFLICT", times=2)
    got = ok(client.post("batch/get", [{"key": "a"}, {"key": "b"}]))
    assert codes(got) == [("a", None, "KEY_NOT_FOUND"), ("b", None, "KEY_CONFLICT")]
    deleted = ok(client.post("batch/delete", [{"key": "b"}]))
    assert codes(deleted) == [("b", None, "KEY_CONFLICT")]
    assert forge_storage.kvs["b"] == "old"
    assert ok(client.post("batch/delete", [{"key": "b"}]))["successfulKeys"] == [{"key": "b"}]


def test_item_faults_filter_by_entity_name(
    client: Client, employee: str, forge_storage: Any
) -> None:
    forge_storage.fail("batch/set", key="b", entity_name=employee, code="INTERNAL_SERVER_ERROR")
    items = [{"key": "b", "value": 1}, {"key": "b", "value": {"age": 1}, "entityName": employee}]
    body = ok(client.post("batch/set", items))
    assert body["successfulKeys"] == [{"key": "b"}]
    assert codes(body) == [("b", employee, "INTERNAL_SERVER_ERROR")]
    assert len(forge_storage.entity(employee)) == 0


def test_item_faults_honour_after_times_status_and_message(rq: Client, forge_storage: Any) -> None:
    forge_storage.fail(
        "batch/set", key="b", code="STORAGE_LIMIT_EXCEEDED", message="full", after=1, times=None
    )
    items = [{"key": "a", "value": 1}, {"key": "b", "value": 2}]
    assert ok(rq.post("batch/set", items))["failedKeys"] == []  # the first one goes through
    for _ in range(3):
        failed = ok(rq.post("batch/set", items))["failedKeys"]
        assert failed == [
            {"key": "b", "error": {"code": "STORAGE_LIMIT_EXCEEDED", "message": "full"}}
        ]


def test_a_transport_fault_on_a_batch_fails_the_request(rq: Client, forge_storage: Any) -> None:
    forge_storage.fail_transport("batch/get")
    with pytest.raises(requests.ConnectionError):
        rq.post("batch/get", [{"key": "a"}])
    call = forge_storage.calls[-1]
    assert (call.operation, call.key, call.status, call.response) == ("batch/get", None, 0, None)


def test_the_sdk_bodies_of_ref_3_1(client: Client, employee: str) -> None:
    # kvs.batchSet / batchGet / batchDelete, verbatim (ref §3.1, §14.4)
    body = ok(
        client.post(
            "batch/set",
            [
                {"key": "a", "value": 1},
                {"key": "b", "value": {"age": 1}, "entityName": "employee",
                 "options": {"ttl": {"value": 5, "unit": "MINUTES"}}},
            ],
        )
    )  # fmt: skip
    assert body["failedKeys"] == []
    got = ok(
        client.post(
            "batch/get",
            [
                {"key": "a", "options": {"metadataFields": ["CREATED_AT"]}},
                {"key": "b", "entityName": "employee"},
            ],
        )
    )
    assert [set(item) for item in got["successfulKeys"]] == [
        {"key", "value", "createdAt"},
        {"key", "entityName", "value"},
    ]
    gone = ok(client.post("batch/delete", [{"key": "a"}, {"key": "b", "entityName": "employee"}]))
    assert gone == {"successfulKeys": [{"key": "a"}, {"key": "b", "entityName": employee}],
                    "failedKeys": []}  # fmt: skip


# -- the docs' example: retry only the failed keys ---------------------------------------
# Between the two markers: the example of docs/batch-and-transactions.md, verbatim (a test
# below keeps them equal).
# [docs:start]
URL = "https://api.atlassian.com/forge/storage/kvs/v1/"
RETRYABLE = {"RATE_LIMIT_EXCEEDED", "TOO_MANY_REQUESTS", "INTERNAL_SERVER_ERROR"}


class BatchError(Exception):
    def __init__(self, failed):
        super().__init__(", ".join(f"{f['key']}: {f['error']['code']}" for f in failed))
        self.failed = failed


def save_all(items, *, token="system-token", attempts=3):
    """Store every item with batch/set, retrying only the items that failed transiently."""
    pending = items
    for _ in range(attempts):
        r = requests.post(
            URL + "batch/set",
            json=pending,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        r.raise_for_status()  # a whole-batch failure: 400, 429, 500...
        failed = r.json()["failedKeys"]
        permanent = [f for f in failed if f["error"]["code"] not in RETRYABLE]
        if permanent:
            raise BatchError(permanent)
        retry = {(f["key"], f.get("entityName")) for f in failed}
        pending = [item for item in pending if (item["key"], item.get("entityName")) in retry]
        if not pending:
            return
    raise BatchError(failed)


def test_retries_only_the_failed_keys(forge_storage):
    forge_storage.fail("batch/set", key="b", code="INTERNAL_SERVER_ERROR")

    save_all([{"key": "a", "value": 1}, {"key": "b", "value": 2}, {"key": "c", "value": 3}])

    assert dict(forge_storage.kvs) == {"a": 1, "b": 2, "c": 3}
    first, second = forge_storage.calls_to("batch/set")
    assert [item["key"] for item in first.request] == ["a", "b", "c"]
    assert [item["key"] for item in second.request] == ["b"]
    assert second.response == {"successfulKeys": [{"key": "b"}], "failedKeys": []}


def test_gives_up_on_a_key_that_keeps_failing(forge_storage):
    forge_storage.fail("batch/set", key="b", code="RATE_LIMIT_EXCEEDED", times=None)

    with pytest.raises(BatchError, match="b: RATE_LIMIT_EXCEEDED"):
        save_all([{"key": "a", "value": 1}, {"key": "b", "value": 2}])

    forge_storage.assert_called("batch/set", times=3)
    assert dict(forge_storage.kvs) == {"a": 1}


def test_does_not_retry_a_permanent_failure(forge_storage):
    with pytest.raises(BatchError, match="a/b: INVALID_KEY"):
        save_all([{"key": "ok", "value": 1}, {"key": "a/b", "value": 2}])

    forge_storage.assert_called("batch/set", times=1)
    assert dict(forge_storage.kvs) == {"ok": 1}


def test_a_whole_batch_failure_raises(forge_storage):
    forge_storage.fail("batch/set", code="INTERNAL_SERVER_ERROR")

    with pytest.raises(requests.HTTPError):
        save_all([{"key": "a", "value": 1}])

    assert "a" not in forge_storage.kvs


# [docs:end]


def test_the_docs_example_is_this_code() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    example = source.split("# [docs:start]\n")[1].split("# [docs:end]\n")[0].rstrip() + "\n"
    docs = Path(__file__).parents[2] / "docs" / "batch-and-transactions.md"
    block = f"```python\nimport pytest\nimport requests\n\n{example}```"
    assert block in docs.read_text(encoding="utf-8")


@pytest.fixture
def rq(forge_storage: Any) -> Client:
    """requests only: for the long tables, where every client would only repeat the cost."""
    return Client("requests")


def test_auth_applies_to_batches(forge_storage: Any) -> None:
    r = requests.post(BASE + "batch/get", json=[{"key": "a"}], headers={}, timeout=5)
    assert (r.status_code, r.json()["code"]) == (401, "UNAUTHORIZED")
    assert forge_storage.calls[-1].status == 401
