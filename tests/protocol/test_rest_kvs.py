"""The Key-Value Store and secrets over REST, through real requests and httpx clients."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

SECRET = "secret/"


def test_set_then_get_round_trips_every_json_type(client: Any) -> None:
    values = [{"a": [1, 2, {"b": None}]}, [1, "x"], "text", 0, 1.5, False, True, ""]
    for i, value in enumerate(values):
        assert client.post("set", {"key": f"k{i}", "value": value}).status == 204
    for i, value in enumerate(values):
        got = client.post("get", {"key": f"k{i}"})
        assert (got.status, got.body) == (200, {"key": f"k{i}", "value": value})


def test_set_answers_204_with_an_empty_body(client: Any) -> None:
    answer = client.post("set", {"key": "k", "value": 1})
    assert (answer.status, answer.text) == (204, "")


@pytest.mark.parametrize("prefix", ["", SECRET])
def test_get_and_delete_of_a_missing_key_are_404_key_not_found(client: Any, prefix: str) -> None:
    assert client.post(prefix + "get", {"key": "nope"}).error() == (404, "KEY_NOT_FOUND")
    assert client.post(prefix + "delete", {"key": "nope"}).error() == (404, "KEY_NOT_FOUND")


def test_delete_removes_the_key(client: Any, forge_storage: Any) -> None:
    forge_storage.kvs["k"] = 1
    answer = client.post("delete", {"key": "k"})
    assert (answer.status, answer.text) == (204, "")
    assert "k" not in forge_storage.kvs


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("", "KEY_TOO_SHORT"),
        ("k" * 501, "KEY_TOO_LONG"),
        ("a/b", "INVALID_KEY"),
        ("a@b", "INVALID_KEY"),
        ("ü", "INVALID_KEY"),
        ("   ", "INVALID_KEY"),
    ],
)
@pytest.mark.parametrize("operation", ["get", "set", "delete", "secret/get", "secret/set"])
def test_invalid_keys_get_forge_key_codes(client: Any, key: str, code: str, operation: str) -> None:
    body: dict[str, Any] = {"key": key}
    if operation.endswith("set"):
        body["value"] = 1
    assert client.post(operation, body).error() == (400, code)


@pytest.mark.parametrize("key", ["a", "k" * 500, "a b", "a\tb", "a\n", "-", "#", "a:b.c_d-e#f"])
def test_keys_at_the_edges_of_the_pattern_are_valid(client: Any, key: str) -> None:
    assert client.post("set", {"key": key, "value": 1}).status == 204
    assert client.post("get", {"key": key}).body == {"key": key, "value": 1}


def test_a_secret_key_is_measured_in_bytes_a_kvs_key_in_characters(
    client: Any, forge_storage: Any
) -> None:
    # ref §5: KVS "Key length 500" (characters); secrets "a key of up to 500 bytes". U+3000
    # (ideographic space) matches the key pattern's \s and takes 3 bytes in UTF-8.
    wide = "a" * 499 + "\u3000"  # 500 characters, 502 bytes
    assert client.post("set", {"key": wide, "value": 1}).status == 204
    for operation in ("secret/set", "secret/get", "secret/delete"):
        body: dict[str, Any] = (
            {"key": wide, "value": 1} if operation.endswith("set") else {"key": wide}
        )
        answer = client.post(operation, body)
        assert answer.error() == (400, "KEY_TOO_LONG")
        assert answer.body["message"] == (
            "Key was 502 bytes in UTF-8, but a secret's key should be at most 500 bytes"
        )
    fits = "a" * 497 + "\u3000"  # 500 bytes
    assert client.post("secret/set", {"key": fits, "value": 1}).status == 204
    assert client.post("secret/get", {"key": fits}).body == {"key": fits, "value": 1}
    assert dict(forge_storage.secrets) == {fits: 1}


def test_null_value_is_rejected(client: Any) -> None:
    status, code = client.post("set", {"key": "k", "value": None}).error()
    assert (status, code) == (400, "BAD_REQUEST")


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


def test_depth_31_is_stored_and_32_is_max_depth(client: Any) -> None:
    assert client.post("set", {"key": "ok", "value": _nested(31)}).status == 204
    assert client.post("set", {"key": "deep", "value": _nested(32)}).error() == (400, "MAX_DEPTH")


def test_value_size_limits(client: Any) -> None:
    overhead = len('""')
    fits = "x" * (240 * 1024 - overhead)
    assert client.post("set", {"key": "big", "value": fits}).status == 204
    assert client.post("set", {"key": "big", "value": fits + "x"}).error() == (400, "MAX_SIZE")
    secret_fits = "x" * (128 * 1024 - overhead)
    assert client.post("secret/set", {"key": "s", "value": secret_fits}).status == 204
    over = {"key": "s", "value": secret_fits + "x"}
    assert client.post("secret/set", over).error() == (400, "MAX_SIZE")


def test_size_counts_utf8_bytes(client: Any) -> None:
    euro = "€" * (240 * 1024 // 3)  # 3 bytes each: over the limit once the quotes are added
    assert client.post("set", {"key": "k", "value": euro}).error() == (400, "MAX_SIZE")


# -- metadata and TTL ------------------------------------------------------------------
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_metadata_only_when_requested(client: Any) -> None:
    client.post("set", {"key": "k", "value": 1, "options": {"ttl": {"value": 1, "unit": "HOURS"}}})
    assert client.post("get", {"key": "k"}).body == {"key": "k", "value": 1}
    fields = ["CREATED_AT", "UPDATED_AT", "EXPIRE_TIME"]
    body = client.post("get", {"key": "k", "options": {"metadataFields": fields}}).body
    assert set(body) == {"key", "value", "createdAt", "updatedAt", "expireTime"}
    assert isinstance(body["createdAt"], int)
    assert body["createdAt"] > 1_600_000_000_000
    assert ISO.match(body["expireTime"])
    expires = datetime.fromisoformat(body["expireTime"].replace("Z", "+00:00"))
    created = datetime.fromtimestamp(body["createdAt"] / 1000, tz=timezone.utc)
    assert abs((expires - created) - timedelta(hours=1)) < timedelta(seconds=1)


def test_created_at_is_kept_on_overwrite(client: Any, time_machine: Any) -> None:
    time_machine.move_to(datetime(2026, 1, 1, tzinfo=timezone.utc), tick=False)
    client.post("set", {"key": "k", "value": 1})
    time_machine.move_to(datetime(2026, 1, 2, tzinfo=timezone.utc), tick=False)
    client.post("set", {"key": "k", "value": 2})
    meta = {"metadataFields": ["CREATED_AT", "UPDATED_AT", "EXPIRE_TIME"]}
    body = client.post("get", {"key": "k", "options": meta}).body
    assert body == {
        "key": "k",
        "value": 2,
        "createdAt": 1767225600000,
        "updatedAt": 1767312000000,
    }


@pytest.mark.parametrize(
    ("unit", "value", "seconds"),
    [("SECONDS", 30, 30), ("MINUTES", 2, 120), ("HOURS", 1, 3600), ("DAYS", 365, 31_536_000)],
)
def test_ttl_expires_under_freezegun(client: Any, unit: str, value: int, seconds: int) -> None:
    from freezegun import freeze_time

    with freeze_time("2026-03-01 12:00:00") as frozen:
        options = {"ttl": {"value": value, "unit": unit}}
        assert client.post("set", {"key": "k", "value": 1, "options": options}).status == 204
        frozen.tick(timedelta(seconds=seconds - 1))
        assert client.post("get", {"key": "k"}).status == 200
        frozen.tick(timedelta(seconds=1))
        assert client.post("get", {"key": "k"}).error() == (404, "KEY_NOT_FOUND")
        assert client.post("query", {}).body == {"data": []}


def test_ttl_expires_under_time_machine(client: Any, forge_storage: Any, time_machine: Any) -> None:
    time_machine.move_to(datetime(2026, 3, 1, 12, tzinfo=timezone.utc), tick=False)
    forge_storage.set("seeded", {"a": 1}, ttl=timedelta(minutes=5))
    options = {"ttl": {"value": 10, "unit": "MINUTES"}}
    client.post("set", {"key": "sent", "value": 1, "options": options})
    time_machine.shift(timedelta(minutes=5))
    assert "seeded" not in forge_storage.kvs
    assert client.post("get", {"key": "sent"}).status == 200
    time_machine.shift(timedelta(minutes=5))
    assert client.post("delete", {"key": "sent"}).error() == (404, "KEY_NOT_FOUND")
    assert len(forge_storage.kvs) == 0


@pytest.mark.parametrize(
    "ttl",
    [
        {"value": 0, "unit": "SECONDS"},
        {"value": -1, "unit": "DAYS"},
        {"value": 1.5, "unit": "HOURS"},
        {"value": 366, "unit": "DAYS"},
        {"value": 31_536_001, "unit": "SECONDS"},
        {"value": 1, "unit": "WEEKS"},
        {"value": 1},
    ],
)
def test_invalid_ttl_is_bad_request(client: Any, ttl: Any) -> None:
    body = {"key": "k", "value": 1, "options": {"ttl": ttl}}
    assert client.post("set", body).error() == (400, "BAD_REQUEST")


def test_unknown_metadata_field_is_bad_request(client: Any) -> None:
    body = {"key": "k", "options": {"metadataFields": ["SIZE"]}}
    assert client.post("get", body).error() == (400, "BAD_REQUEST")


# -- keyPolicy / returnValue -------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["", SECRET])
def test_fail_if_exists(client: Any, forge_storage: Any, prefix: str) -> None:
    options = {"keyPolicy": "FAIL_IF_EXISTS"}
    assert client.post(prefix + "set", {"key": "k", "value": 1, "options": options}).status == 204
    answer = client.post(prefix + "set", {"key": "k", "value": 2, "options": options})
    assert answer.error() == (409, "KEY_CONFLICT")
    store = forge_storage.secrets if prefix else forge_storage.kvs
    assert store["k"] == 1


def test_fail_if_exists_writes_over_an_expired_key(client: Any, time_machine: Any) -> None:
    time_machine.move_to(datetime(2026, 3, 1, tzinfo=timezone.utc), tick=False)
    client.post(
        "set", {"key": "k", "value": 1, "options": {"ttl": {"value": 1, "unit": "SECONDS"}}}
    )
    time_machine.shift(2)
    options = {"keyPolicy": "FAIL_IF_EXISTS"}
    assert client.post("set", {"key": "k", "value": 2, "options": options}).status == 204


def test_return_value_latest_and_previous(client: Any) -> None:
    latest = {"returnValue": "LATEST", "returnMetadataFields": ["CREATED_AT"]}
    answer = client.post("set", {"key": "k", "value": 1, "options": latest})
    assert answer.status == 200
    assert answer.body["key"] == "k"
    assert answer.body["value"] == 1
    assert set(answer.body) == {"key", "value", "createdAt"}
    previous = {"keyPolicy": "OVERRIDE", "returnValue": "PREVIOUS"}
    answer = client.post("set", {"key": "k", "value": 2, "options": previous})
    assert (answer.status, answer.body) == (200, {"key": "k", "value": 1})


def test_return_previous_of_a_new_key_is_204(client: Any) -> None:
    answer = client.post("set", {"key": "new", "value": 1, "options": {"returnValue": "PREVIOUS"}})
    assert (answer.status, answer.text) == (204, "")


@pytest.mark.parametrize(
    "options",
    [
        {"keyPolicy": "FAIL_IF_EXISTS", "returnValue": "LATEST"},
        {"returnMetadataFields": ["CREATED_AT"]},
    ],
)
def test_invalid_policy_combinations(client: Any, options: Any) -> None:
    answer = client.post("set", {"key": "k", "value": 1, "options": options})
    assert answer.error() == (400, "INVALID_KEY_POLICY_RETURN_VALUE_COMBINATION")


# -- query -----------------------------------------------------------------------------
def _where(prefix: str) -> list[dict[str, Any]]:
    return [{"property": "key", "condition": "BEGINS_WITH", "values": [prefix]}]


def test_query_pages_like_the_forge_docs_example(client: Any, forge_storage: Any) -> None:
    for i in range(1, 6):
        forge_storage.kvs[f"account.{i}"] = i
    forge_storage.kvs["other"] = 0
    pages, after = [], None
    while True:
        body: dict[str, Any] = {"limit": 2, "where": _where("account.")}
        if after:
            body["after"] = after
        answer = client.post("query", body)
        assert answer.status == 200
        pages.append([item["key"] for item in answer.body["data"]])
        after = answer.body.get("cursor")
        if after is None:
            break
    assert pages == [["account.1", "account.2"], ["account.3", "account.4"], ["account.5"]]


def test_full_last_page_has_no_cursor(client: Any, forge_storage: Any) -> None:
    for i in range(4):
        forge_storage.kvs[f"k{i}"] = i
    first = client.post("query", {"limit": 2}).body
    second = client.post("query", {"limit": 2, "after": first["cursor"]}).body
    assert [i["key"] for i in second["data"]] == ["k2", "k3"]
    assert "cursor" not in second


def test_query_orders_by_code_point_and_excludes_secrets(client: Any, forge_storage: Any) -> None:
    for key in ["b", "B", "a", "#", "A", "-"]:
        forge_storage.kvs[key] = key
    forge_storage.secrets["aaa"] = "hidden"
    data = client.post("query", {"limit": 100}).body["data"]
    assert [item["key"] for item in data] == ["#", "-", "A", "B", "a", "b"]


def test_query_default_limit_is_10_with_metadata(client: Any, forge_storage: Any) -> None:
    for i in range(12):
        forge_storage.kvs[f"k{i:02}"] = i
    body = client.post("query", {"options": {"metadataFields": ["UPDATED_AT"]}}).body
    assert len(body["data"]) == 10
    assert "cursor" in body
    assert set(body["data"][0]) == {"key", "value", "updatedAt"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"limit": 0}, "LIST_QUERY_LIMIT_EXCEEDED"),
        ({"limit": 101}, "LIST_QUERY_LIMIT_EXCEEDED"),
        ({"where": _where("a") * 2}, "QUERY_WHERE_INVALID"),
        ({"where": [{"property": "value", "condition": "BEGINS_WITH", "values": ["a"]}]},
         "QUERY_WHERE_FIELD_INVALID"),
        ({"where": [{"property": "key", "condition": "EQUAL_TO", "values": ["a"]}]},
         "INVALID_FILTER_CONDITION"),
        ({"where": [{"property": "key", "condition": "BEGINS_WITH", "values": ["a", "b"]}]},
         "INVALID_FILTER_VALUES"),
        ({"where": [{"property": "key", "condition": "BEGINS_WITH", "values": []}]},
         "INVALID_FILTER_VALUES"),
        ({"after": "not a cursor!"}, "BAD_REQUEST"),
        ({"limit": "10"}, "BAD_REQUEST"),
        ({"cursor": "x"}, "BAD_REQUEST"),
    ],
)  # fmt: skip
def test_query_errors(client: Any, body: Any, code: str) -> None:
    assert client.post("query", body).error() == (400, code)


def test_query_limit_100_is_allowed(client: Any) -> None:
    assert client.post("query", {"limit": 100}).status == 200


# -- secrets ---------------------------------------------------------------------------
def test_secrets_and_kvs_are_disjoint(client: Any, forge_storage: Any) -> None:
    client.post("set", {"key": "k", "value": "plain"})
    client.post("secret/set", {"key": "k", "value": "hidden"})
    assert client.post("get", {"key": "k"}).body["value"] == "plain"
    assert client.post("secret/get", {"key": "k"}).body["value"] == "hidden"
    client.post("secret/delete", {"key": "k"})
    assert client.post("get", {"key": "k"}).status == 200
    assert dict(forge_storage.secrets) == {}


# -- the wire --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer "}, {"Authorization": "Basic dXNlcg=="}, {"Authorization": "t"}],
)
def test_missing_or_blank_bearer_token_is_401(client: Any, headers: dict[str, str]) -> None:
    assert client.post("get", {"key": "k"}, headers=headers).error() == (401, "UNAUTHORIZED")


def test_allowed_tokens(client: Any, forge_storage: Any) -> None:
    forge_storage.allowed_tokens = {"good"}
    bad = client.post("get", {"key": "k"}, headers={"Authorization": "Bearer test-token"})
    assert bad.error() == (401, "UNAUTHORIZED")
    good = client.post("get", {"key": "k"}, headers={"Authorization": "Bearer good"})
    assert good.error() == (404, "KEY_NOT_FOUND")


@pytest.mark.parametrize("operation", ["secret/query", "entity/transaction", "nope", "v2/get"])
def test_unknown_path_is_403(client: Any, operation: str) -> None:
    assert client.post(operation, {"key": "k"}).error() == (403, "FORBIDDEN")


def test_unknown_path_outside_v1_is_403(forge_storage: Any) -> None:
    import requests

    from tests.conftest import AUTH

    r = requests.post("https://api.atlassian.com/forge/storage/kvs/get", json={}, headers=AUTH)
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"key": "k", "value": 1, "extra": 1}, "extra"),
        ({"value": 1}, "key"),
        ({"key": 5, "value": 1}, "key"),
        ({"key": "k", "value": 1, "options": {"ttl": {"value": 1, "unit": "YEARS"}}}, "unit"),
    ],
)
def test_schema_violations_are_bad_request_naming_the_field(
    client: Any, body: Any, message: str
) -> None:
    answer = client.post("set", body)
    assert answer.error() == (400, "BAD_REQUEST")
    assert message in answer.body["message"]


def test_non_json_body_is_400(forge_storage: Any) -> None:
    import requests

    from tests.conftest import AUTH, BASE

    for data in [b"not json", b"", b"\xff\xfe", b"[1,", b'{"key": NaN}']:
        r = requests.post(BASE + "get", data=data, headers=AUTH)
        assert r.status_code == 400, data
        assert r.json()["code"] == "BAD_REQUEST"


def test_hostile_nesting_is_max_depth_not_a_crash(forge_storage: Any) -> None:
    import requests

    from tests.conftest import AUTH, BASE

    body = b'{"key":"k","value":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = requests.post(BASE + "set", data=body, headers=AUTH)
    assert (r.status_code, r.json()["code"]) == (400, "MAX_DEPTH")


def test_get_method_is_rejected(forge_storage: Any) -> None:
    import requests

    from tests.conftest import AUTH, BASE

    r = requests.get(BASE + "get", headers=AUTH)
    assert r.status_code == 405
    assert r.json()["code"] == "METHOD_NOT_ALLOWED"
