"""Transactions over REST (ref §10, decision 11), through real requests and httpx clients."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from tests.conftest import AUTH, BASE, Client

EMPLOYEE = "employee"


@pytest.fixture
def employee(forge_storage: Any) -> str:
    forge_storage.define_entity(
        EMPLOYEE,
        {"name": "string", "age": "integer", "version": "integer", "active": "boolean",
         "profile": "any"},
        ["age"],
    )  # fmt: skip
    return EMPLOYEE


@pytest.fixture
def rq(forge_storage: Any) -> Client:
    """requests only: for the long tables, where every client would only repeat the cost."""
    return Client("requests")


def cond(prop: str, condition: str, *values: Any) -> dict[str, Any]:
    return {"property": prop, "condition": condition, "values": list(values)}


def all_of(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"and": list(conditions)}


def any_of(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"or": list(conditions)}


def done(answer: Any) -> None:
    assert (answer.status, answer.text) == (204, ""), answer.text


# -- success -----------------------------------------------------------------------------
def test_set_delete_and_check_together(client: Client, employee: str, forge_storage: Any) -> None:
    forge_storage.kvs["old"] = 1
    view = forge_storage.entity(employee)
    view["e1"] = {"age": 30}
    view["e2"] = {"age": 50}
    view["gone"] = {"age": 1}
    body = {
        "set": [
            {"key": "a", "value": {"x": [1]}},
            {"key": "e1", "value": {"age": 31}, "entityName": employee,
             "conditions": all_of(cond("age", "EQUAL_TO", 30))},
        ],
        "delete": [{"key": "old"}, {"key": "gone", "entityName": employee}],
        "check": [{"key": "e2", "entityName": employee,
                   "conditions": any_of(cond("age", "GREATER_THAN", 40))}],
    }  # fmt: skip
    done(client.post("transaction", body))
    assert dict(forge_storage.kvs) == {"a": {"x": [1]}}
    assert dict(view) == {"e1": {"age": 31}, "e2": {"age": 50}}
    query = {"entityName": employee, "indexName": "age"}
    assert [i["key"] for i in client.post("entity/query", query).body["data"]] == ["e1", "e2"]
    call = forge_storage.calls_to("transaction")[-1]
    assert (call.key, call.entity_name, call.status, call.response, call.error_code) == (
        None,
        None,
        204,
        None,
        None,
    )
    assert call.request == body


def test_deleting_a_missing_key_succeeds(client: Client, employee: str, forge_storage: Any) -> None:
    done(client.post("transaction", {"delete": [{"key": "nope"}]}))
    done(client.post("transaction", {"delete": [{"key": "nope", "entityName": employee}]}))
    assert [c.status for c in forge_storage.calls] == [204, 204]


def test_the_same_key_in_two_namespaces_is_not_a_duplicate(
    client: Client, employee: str, forge_storage: Any
) -> None:
    body = {
        "set": [{"key": "k", "value": "plain"}],
        "delete": [{"key": "k", "entityName": employee}],
    }
    done(client.post("transaction", body))
    assert forge_storage.kvs["k"] == "plain"


def test_the_body_of_ref_10(client: Client, employee: str, forge_storage: Any) -> None:
    forge_storage.kvs["b"] = 1
    forge_storage.entity(employee)["e1"] = {"age": 1}
    forge_storage.entity(employee)["e3"] = {"age": 3}
    body = {
        "set": [
            {"key": "a", "value": 1, "options": {"ttl": {"value": 1, "unit": "SECONDS"}}},
            {"key": "e1", "value": {"age": 1}, "entityName": "employee",
             "conditions": {"and": [{"property": "age", "condition": "LESS_THAN", "values": [5]}]}},
        ],
        "delete": [{"key": "b"}, {"key": "e2", "entityName": "employee"}],
        "check": [{"key": "e3", "entityName": "employee",
                   "conditions": {"or": [{"property": "age", "condition": "EXISTS",
                                          "values": [True]}]}}],
    }  # fmt: skip
    done(client.post("transaction", body))
    assert dict(forge_storage.kvs) == {"a": 1}


def test_set_items_take_a_ttl(
    client: Client, employee: str, forge_storage: Any, time_machine: Any
) -> None:
    time_machine.move_to(datetime(2026, 4, 1, tzinfo=timezone.utc), tick=False)
    hour = {"ttl": {"value": 1, "unit": "HOURS"}}
    body = {
        "set": [
            {"key": "a", "value": 1, "options": hour},
            {"key": "e", "value": {"age": 1}, "entityName": employee, "options": hour},
        ]
    }
    done(client.post("transaction", body))
    meta = {"metadataFields": ["EXPIRE_TIME"]}
    got = client.post("entity/get", {"entityName": employee, "key": "e", "options": meta}).body
    assert got["expireTime"] == "2026-04-01T01:00:00.000Z"
    time_machine.shift(timedelta(hours=1))
    assert len(forge_storage.kvs) == 0
    assert len(forge_storage.entity(employee)) == 0


# -- CONDITIONAL_CHECK_FAILED: nothing applied -------------------------------------------
FAILING: list[tuple[str, dict[str, Any]]] = [
    ("a false check", {"check": [{"key": "e1", "entityName": EMPLOYEE,
                                  "conditions": all_of(cond("age", "GREATER_THAN", 30))}]}),
    ("a false set condition", {"set": [{"key": "e1", "value": {"age": 2}, "entityName": EMPLOYEE,
                                        "conditions": all_of(cond("age", "EQUAL_TO", 29))}]}),
    ("a false delete condition", {"delete": [{"key": "e1", "entityName": EMPLOYEE,
        "conditions": all_of(cond("age", "LESS_THAN", 30))}]}),
    ("a missing record", {"check": [{"key": "nobody", "entityName": EMPLOYEE,
                                     "conditions": all_of(cond("age", "NOT_EQUAL_TO", 1))}]}),
    ("a missing attribute", {"check": [{"key": "e1", "entityName": EMPLOYEE,
                                        "conditions": all_of(cond("name", "EXISTS", True))}]}),
    ("one false in and", {"check": [{"key": "e1", "entityName": EMPLOYEE, "conditions": all_of(
        cond("age", "EQUAL_TO", 30), cond("active", "EQUAL_TO", False))}]}),
    ("every false in or", {"check": [{"key": "e1", "entityName": EMPLOYEE, "conditions": any_of(
        cond("age", "BETWEEN", 31, 40), cond("active", "NOT_EXISTS", True))}]}),
    ("NOT_EXISTS on a live record", {"set": [{"key": "e1", "value": {"age": 1},
        "entityName": EMPLOYEE, "conditions": all_of(cond("age", "NOT_EXISTS", True))}]}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "failing"), FAILING, ids=[case for case, _ in FAILING])
def test_a_false_condition_applies_nothing(
    rq: Client, employee: str, forge_storage: Any, time_machine: Any, case: str, failing: Any
) -> None:
    time_machine.move_to(datetime(2026, 4, 1, tzinfo=timezone.utc), tick=False)
    forge_storage.set("ttl-kvs", {"n": 1}, ttl=timedelta(hours=2))
    forge_storage.set("e1", {"age": 30, "active": True}, entity=employee, ttl=3600)
    forge_storage.entity(employee)["e2"] = {"age": 40}
    forge_storage.kvs["plain"] = 0
    before = forge_storage.snapshot()
    time_machine.shift(timedelta(minutes=5))
    body = {
        "set": [
            {"key": "plain", "value": 1, "options": {"ttl": {"value": 1, "unit": "DAYS"}}},
            {"key": "new", "value": 2, "options": {"ttl": {"value": 10, "unit": "SECONDS"}}},
            {"key": "e3", "value": {"age": 3}, "entityName": employee},
            *failing.get("set", []),
        ],
        "delete": [{"key": "ttl-kvs"}, {"key": "e2", "entityName": employee},
                   *failing.get("delete", [])],
        **({"check": failing["check"]} if "check" in failing else {}),
    }  # fmt: skip
    answer = rq.post("transaction", body)
    assert answer.error() == (400, "CONDITIONAL_CHECK_FAILED")
    assert forge_storage.snapshot() == before
    call = forge_storage.calls[-1]
    assert (call.operation, call.status, call.error_code) == (
        "transaction",
        400,
        "CONDITIONAL_CHECK_FAILED",
    )


def test_conditional_check_failed_through_every_client(
    client: Client, employee: str, forge_storage: Any
) -> None:
    forge_storage.entity(employee)["e1"] = {"age": 30}
    before = forge_storage.snapshot()
    body = {
        "set": [{"key": "a", "value": 1}],
        "check": [{"key": "e1", "entityName": employee,
                   "conditions": all_of(cond("age", "LESS_THAN", 30))}],
    }  # fmt: skip
    answer = client.post("transaction", body)
    assert answer.error() == (400, "CONDITIONAL_CHECK_FAILED")
    assert forge_storage.snapshot() == before


def test_an_expired_record_fails_its_conditions(
    client: Client, employee: str, forge_storage: Any, time_machine: Any
) -> None:
    time_machine.move_to(datetime(2026, 4, 1, tzinfo=timezone.utc), tick=False)
    forge_storage.set("e1", {"age": 30}, entity=employee, ttl=60)
    check = {"key": "e1", "entityName": employee, "conditions": all_of(cond("age", "EXISTS", True))}
    done(client.post("transaction", {"check": [check]}))
    time_machine.shift(60)
    assert client.post("transaction", {"check": [check]}).error() == (
        400,
        "CONDITIONAL_CHECK_FAILED",
    )
    # ... and a NOT_EXISTS condition now holds: create-if-absent
    create = {"key": "e1", "value": {"age": 1}, "entityName": employee,
              "conditions": all_of(cond("age", "NOT_EXISTS", True))}  # fmt: skip
    done(client.post("transaction", {"set": [create]}))
    assert forge_storage.entity(employee)["e1"] == {"age": 1}


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        (cond("name", "BEGINS_WITH", "Al"), True),
        (cond("name", "CONTAINS", "lic"), True),
        (cond("name", "NOT_CONTAINS", "lic"), False),
        (cond("age", "BETWEEN", 30, 30), True),
        (cond("age", "GREATER_THAN_EQUAL_TO", 31), False),
        (cond("age", "LESS_THAN_EQUAL_TO", 30), True),
        (cond("active", "EQUAL_TO", True), True),
        (cond("active", "NOT_EQUAL_TO", True), False),
        (cond("version", "NOT_EXISTS", True), True),
    ],
)
def test_every_filter_condition_in_a_check(
    rq: Client, employee: str, forge_storage: Any, condition: Any, holds: bool
) -> None:
    forge_storage.entity(employee)["e1"] = {"name": "Alice", "age": 30, "active": True}
    body = {"check": [{"key": "e1", "entityName": employee, "conditions": all_of(condition)}]}
    answer = rq.post("transaction", body)
    if holds:
        done(answer)
    else:
        assert answer.error() == (400, "CONDITIONAL_CHECK_FAILED")


# -- INVALID_TRANSACTION_REQUEST (decision 11), never pre-empted by the schema -----------
SOME = all_of(cond("age", "EXISTS", True))
INVALID: list[tuple[str, Any]] = [
    ("empty body", {}),
    ("empty groups", {"set": [], "delete": [], "check": []}),
    ("26 operations", {"set": [{"key": f"k{i}", "value": i} for i in range(13)],
                       "delete": [{"key": f"d{i}"} for i in range(13)]}),
    ("a key twice", {"set": [{"key": "k", "value": 1}], "delete": [{"key": "k"}]}),
    ("a record twice", {
        "set": [{"key": "k", "value": {}, "entityName": EMPLOYEE}],
        "check": [{"key": "k", "entityName": EMPLOYEE, "conditions": SOME}]}),
    ("conditions on a KVS set", {"set": [{"key": "k", "value": 1, "conditions": SOME}]}),
    ("conditions on a KVS delete", {"delete": [{"key": "k", "conditions": SOME}]}),
    ("a check of a KVS item", {"check": [{"key": "k", "conditions": SOME}]}),
    ("over 4 MB", {"set": [{"key": f"k{i}", "value": "x" * (200 * 1024)} for i in range(21)]}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body"), INVALID, ids=[case for case, _ in INVALID])
def test_invalid_transaction_requests(
    rq: Client, employee: str, forge_storage: Any, case: str, body: Any
) -> None:
    from pytest_forge_storage.protocol.openapi import validate_request

    validate_request("transaction", body)  # the schema lets it through: decision 11 wins
    answer = rq.post("transaction", body)
    assert answer.error() == (400, "INVALID_TRANSACTION_REQUEST")
    assert len(forge_storage.kvs) == 0
    assert len(forge_storage.entity(employee)) == 0


@pytest.mark.parametrize("case", ["empty body", "26 operations", "conditions on a KVS set"])
def test_invalid_transaction_requests_through_every_client(
    client: Client, employee: str, case: str
) -> None:
    body = dict(INVALID)[case]
    assert client.post("transaction", body).error() == (400, "INVALID_TRANSACTION_REQUEST")


def test_25_operations_are_allowed(client: Client, forge_storage: Any) -> None:
    body = {"set": [{"key": f"k{i:02}", "value": i} for i in range(25)]}
    done(client.post("transaction", body))
    assert len(forge_storage.kvs) == 25


# -- item codes and schema violations: nothing applied -----------------------------------
ITEM_ERRORS: list[tuple[dict[str, Any], int, str]] = [
    ({"delete": [{"key": ""}]}, 400, "KEY_TOO_SHORT"),
    ({"delete": [{"key": "", "entityName": EMPLOYEE}]}, 400, "EMPTY_KEY"),
    ({"delete": [{"key": "a/b"}]}, 400, "INVALID_KEY"),
    ({"delete": [{"key": "k", "entityName": "ab"}]}, 400, "ENTITY_TYPE_TOO_SHORT"),
    ({"delete": [{"key": "k", "entityName": "e" * 61}]}, 400, "ENTITY_TYPE_TOO_LARGE"),
    ({"delete": [{"key": "k", "entityName": "manager"}]}, 400, "INVALID_ENTITY_TYPE"),
    ({"set": [{"key": "k", "value": {"age": "1"}, "entityName": EMPLOYEE}]}, 400,
     "INVALID_ENTITY_VALUE"),
    ({"set": [{"key": "k", "value": 1, "entityName": EMPLOYEE}]}, 400, "INVALID_ENTITY_VALUE"),
    ({"set": [{"key": "k", "value": "x" * (240 * 1024)}]}, 400, "MAX_SIZE"),
    ({"set": [{"key": "k", "value": 1, "options": {"ttl": {"value": 366, "unit": "DAYS"}}}]},
     400, "BAD_REQUEST"),
    ({"check": [{"key": "k", "entityName": EMPLOYEE,
                 "conditions": all_of(cond("age", "BETWEEN", 1))}]}, 400,
     "INSUFFICIENT_FILTER_VALUES"),
    ({"check": [{"key": "k", "entityName": EMPLOYEE,
                 "conditions": all_of(cond("profile", "EXISTS", True))}]}, 422,
     "UNPROCESSABLE_ENTITY"),
    ({"check": [{"key": "k", "entityName": EMPLOYEE,
                 "conditions": all_of(cond("nickname", "EXISTS", True))}]}, 400, "BAD_REQUEST"),
    # schema violations
    ({"update": [{"key": "k"}]}, 400, "BAD_REQUEST"),
    ({"set": [{"key": "k"}]}, 400, "BAD_REQUEST"),
    ({"set": [{"key": "k", "value": None}]}, 400, "BAD_REQUEST"),
    ({"set": {"key": "k", "value": 1}}, 400, "BAD_REQUEST"),
    ({"set": [{"key": "k", "value": 1, "options": {"keyPolicy": "FAIL_IF_EXISTS"}}]}, 400,
     "BAD_REQUEST"),
    ({"check": [{"key": "k", "entityName": EMPLOYEE}]}, 400, "BAD_REQUEST"),
    ({"check": [{"key": "k", "entityName": EMPLOYEE, "conditions": {"and": []}}]}, 400,
     "BAD_REQUEST"),
]  # fmt: skip


@pytest.mark.parametrize(("failing", "status", "code"), ITEM_ERRORS)
def test_item_errors_apply_nothing(
    rq: Client, employee: str, forge_storage: Any, failing: Any, status: int, code: str
) -> None:
    body = {"set": [{"key": "first", "value": 1}], **failing}
    if "set" in failing and isinstance(failing["set"], list):
        body["set"] = [{"key": "first", "value": 1}, *failing["set"]]
    assert rq.post("transaction", body).error() == (status, code)
    assert "first" not in forge_storage.kvs


def test_a_non_object_body_is_bad_request(rq: Client) -> None:
    assert rq.post("transaction", [{"key": "k"}]).error() == (400, "BAD_REQUEST")


# -- optimistic locking with check -------------------------------------------------------
def read_version(session: requests.Session, key: str) -> tuple[int, dict[str, Any]]:
    r = session.post(BASE + "entity/get", json={"entityName": EMPLOYEE, "key": key}, timeout=5)
    r.raise_for_status()
    value = r.json()["value"]
    return value["version"], value


def write_if_unchanged(
    session: requests.Session, key: str, version: int, value: dict[str, Any]
) -> bool:
    """Write ``value`` as ``version + 1`` unless someone else wrote since we read ``version``."""
    body = {
        "set": [{"key": key, "entityName": EMPLOYEE, "value": {**value, "version": version + 1},
                 "conditions": all_of(cond("version", "EQUAL_TO", version))}],
    }  # fmt: skip
    r = session.post(BASE + "transaction", json=body, timeout=5)
    if r.status_code == 400 and r.json()["code"] == "CONDITIONAL_CHECK_FAILED":
        return False
    assert r.status_code == 204, r.text
    return True


def test_optimistic_locking_rejects_a_stale_write(employee: str, forge_storage: Any) -> None:
    forge_storage.entity(employee)["e1"] = {"age": 30, "version": 1}
    with requests.Session() as session:
        session.headers.update(AUTH)
        version, value = read_version(session, "e1")
        forge_storage.entity(employee)["e1"] = {"age": 31, "version": 2}  # someone else wrote
        assert not write_if_unchanged(session, "e1", version, {**value, "age": 40})
        assert forge_storage.entity(employee)["e1"] == {"age": 31, "version": 2}
        version, value = read_version(session, "e1")
        assert write_if_unchanged(session, "e1", version, {**value, "age": 40})
    assert forge_storage.entity(employee)["e1"] == {"age": 40, "version": 3}


def test_check_guards_a_write_to_another_record(
    client: Client, employee: str, forge_storage: Any
) -> None:
    # write a KVS value only while the entity record is at the version we read
    forge_storage.entity(employee)["lock"] = {"version": 7}
    guard = {"key": "lock", "entityName": employee,
             "conditions": all_of(cond("version", "EQUAL_TO", 7))}  # fmt: skip
    done(client.post("transaction", {"set": [{"key": "doc", "value": "v1"}], "check": [guard]}))
    forge_storage.entity(employee)["lock"] = {"version": 8}
    answer = client.post("transaction", {"set": [{"key": "doc", "value": "v2"}], "check": [guard]})
    assert answer.error() == (400, "CONDITIONAL_CHECK_FAILED")
    assert forge_storage.kvs["doc"] == "v1"


def test_concurrent_increments_are_atomic(employee: str, forge_storage: Any) -> None:
    forge_storage.entity(employee)["counter"] = {"age": 0, "version": 0}
    threads, per_thread = 4, 50
    successes: list[int] = []
    conflicts: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def worker() -> None:
        try:
            with requests.Session() as session:
                session.headers.update(AUTH)
                start.wait()
                done_here = 0
                while done_here < per_thread:
                    version, value = read_version(session, "counter")
                    if write_if_unchanged(session, "counter", version, {"age": value["age"] + 1}):
                        done_here += 1
                        successes.append(1)
                    else:
                        conflicts.append(1)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert not errors, errors
    final = forge_storage.entity(employee)["counter"]
    assert final == {"age": len(successes), "version": len(successes)}
    assert len(successes) == threads * per_thread
    recorded = forge_storage.calls_to("transaction")
    assert len(recorded) == len(successes) + len(conflicts)
    assert sum(c.status == 204 for c in recorded) == len(successes)


# -- faults ------------------------------------------------------------------------------
def test_a_fault_fails_the_transaction_and_applies_nothing(
    client: Client, forge_storage: Any
) -> None:
    forge_storage.fail("transaction")
    body = {"set": [{"key": "a", "value": 1}]}
    assert client.post("transaction", body).error() == (429, "RATE_LIMIT_EXCEEDED")
    assert "a" not in forge_storage.kvs
    forge_storage.fail("transaction", code="TOO_MANY_REQUESTS")
    assert client.post("transaction", body).error() == (429, "TOO_MANY_REQUESTS")
    done(client.post("transaction", body))
    assert forge_storage.kvs["a"] == 1
    statuses = [(c.status, c.error_code) for c in forge_storage.calls_to("transaction")]
    assert statuses == [(429, "RATE_LIMIT_EXCEEDED"), (429, "TOO_MANY_REQUESTS"), (204, None)]


def test_a_keyed_fault_never_matches_a_transaction(client: Client, forge_storage: Any) -> None:
    forge_storage.fail(key="a")
    done(client.post("transaction", {"set": [{"key": "a", "value": 1}]}))
    assert client.post("get", {"key": "a"}).error() == (429, "RATE_LIMIT_EXCEEDED")
