"""Served calls through real clients, each beside its bare-mock baseline.

* ``requests`` (one ``Session`` reused on both sides) against a bare ``responses`` callback;
* ``httpx.Client`` / ``httpx.AsyncClient`` (one client reused on both sides) against a bare
  respx ``side_effect`` route;
* a GraphQL ``appStoredEntity`` query against a REST ``get``, both served by the fake;
* a set + get pair against moto's DynamoDB ``put_item`` + ``get_item`` through boto3.

The baselines do the least a hand-written mock can: decode the JSON body and answer
``json.dumps`` of a small dict, on the same URL, with the same headers and body.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from _timing import Config, Row, Side, at_most, faster_by, median, paired, paired_async, us

from pytest_forge_storage import mock_forge_storage

BASE = "https://api.atlassian.com/forge/storage/kvs/v1/"
GRAPHQL_URL = "https://api.atlassian.com/graphql"
AUTH = {"Authorization": "Bearer benchmark-token"}
KEY = "bench:key"
VALUE = {"name": "Ada Lovelace", "age": 36, "tags": ["math", "engines"]}
BODIES: dict[str, dict[str, Any]] = {
    "get": {"key": KEY},
    "set": {"key": KEY, "value": VALUE},
}
#: What a served ``get`` answers; the baselines answer the same bytes.
ANSWER = json.dumps({"key": KEY, "value": VALUE}, separators=(",", ":"))
JSON_HEADERS = {"content-type": "application/json"}
#: ``UntypedQueries.get("k", false)`` exactly as ``@forge/storage@2.0.3`` builds it (ref §12.3).
GRAPHQL_GET = """
      query forge_app_getApplicationStorageEntity($key: ID!, $encrypted: Boolean!) {
        appStoredEntity(key: $key, encrypted: $encrypted) {
          key
          value
        }
      }
    """
GRAPHQL_BODY = {"query": GRAPHQL_GET, "variables": {"key": KEY, "encrypted": False}}
#: What the fake answers for each operation (checked once per batch, before timing).
EXPECTED_STATUS = {"get": 200, "set": 204}


@contextlib.contextmanager
def _forge(send: Callable[[], Any], status: int) -> Iterator[Callable[[], Any]]:
    with mock_forge_storage() as storage:
        storage.kvs[KEY] = VALUE
        _check(send(), status)
        yield send


def _check(response: Any, status: int) -> None:
    got = getattr(response, "status_code", None)
    if got != status:
        text = getattr(response, "text", response)
        raise RuntimeError(f"benchmark request answered {got}, expected {status}: {text}")


def _rows(
    group: str,
    client: str,
    operation: str,
    samples: dict[str, list[float]],
    baseline: str,
    budget: float,
) -> Row:
    return Row(
        group,
        f"REST {operation} via {client}",
        us(median(samples["fake"])),
        "us",
        baseline,
        us(median(samples["baseline"])),
        at_most(budget),
        samples=samples,
    )


#: Issue 17 sets the httpx floor for a served ``get`` (0.65x); a ``set`` keeps issue 12's
#: budget for served calls (0.85x): it also validates and copies the value it stores.
HTTPX_BUDGETS = {"get": 0.65, "set": 0.85}


# -- requests -------------------------------------------------------------------------------


def _responses_callback(request: Any) -> tuple[int, dict[str, str], str]:
    json.loads(request.body)
    return 200, JSON_HEADERS, ANSWER


def requests_rows(config: Config) -> list[Row]:
    import requests
    import responses

    rows = []
    with requests.Session() as session:
        for operation, body in BODIES.items():
            url = BASE + operation

            def send(url: str = url, body: Any = body) -> Any:
                return session.post(url, json=body, headers=AUTH)

            @contextlib.contextmanager
            def bare(url: str = url, send: Callable[[], Any] = send) -> Iterator[Any]:
                with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
                    rsps.add_callback("POST", url, callback=_responses_callback)
                    _check(send(), 200)
                    yield send

            status = EXPECTED_STATUS[operation]
            sides: dict[str, Side] = {
                "baseline": bare,
                "fake": lambda send=send, status=status: _forge(send, status),
            }
            samples = paired(sides, config)
            rows.append(
                _rows("requests", "requests", operation, samples, "bare responses callback", 1.05)
            )
    return rows


# -- httpx ----------------------------------------------------------------------------------


def _respx_side_effect(request: Any) -> Any:
    import httpx

    json.loads(request.content)
    return httpx.Response(200, headers=JSON_HEADERS, content=ANSWER.encode())


@contextlib.contextmanager
def _respx_route(url: str) -> Iterator[None]:
    import respx

    with respx.MockRouter(assert_all_called=False) as router:
        router.post(url).mock(side_effect=_respx_side_effect)
        yield


def httpx_rows(config: Config) -> list[Row]:
    import httpx

    rows = []
    with httpx.Client() as client:
        for operation, body in BODIES.items():
            url = BASE + operation

            def send(url: str = url, body: Any = body) -> Any:
                return client.post(url, json=body, headers=AUTH)

            @contextlib.contextmanager
            def bare(url: str = url, send: Callable[[], Any] = send) -> Iterator[Any]:
                with _respx_route(url):
                    _check(send(), 200)
                    yield send

            status = EXPECTED_STATUS[operation]
            sides: dict[str, Side] = {
                "baseline": bare,
                "fake": lambda send=send, status=status: _forge(send, status),
            }
            samples = paired(sides, config)
            rows.append(
                _rows(
                    "httpx",
                    "httpx.Client",
                    operation,
                    samples,
                    "bare respx route (sync)",
                    HTTPX_BUDGETS[operation],
                )
            )
    return rows


def httpx_async_rows(config: Config) -> list[Row]:
    import asyncio

    import httpx

    rows = []
    client = httpx.AsyncClient()
    try:
        for operation, body in BODIES.items():
            url = BASE + operation

            async def send(url: str = url, body: Any = body) -> Any:
                return await client.post(url, json=body, headers=AUTH)

            @contextlib.contextmanager
            def bare(url: str = url) -> Iterator[Any]:
                with _respx_route(url):
                    yield send

            @contextlib.contextmanager
            def fake() -> Iterator[Any]:
                with mock_forge_storage() as storage:
                    storage.kvs[KEY] = VALUE
                    yield send

            expected = {"baseline": 200, "fake": EXPECTED_STATUS[operation]}
            samples = paired_async(
                {"baseline": bare, "fake": fake},
                config,
                check=lambda side, response, expected=expected: _check(response, expected[side]),
            )
            rows.append(
                _rows(
                    "httpx-async",
                    "httpx.AsyncClient",
                    operation,
                    samples,
                    "bare respx route (async)",
                    HTTPX_BUDGETS[operation],
                )
            )
    finally:
        asyncio.run(client.aclose())
    return rows


# -- GraphQL --------------------------------------------------------------------------------


def graphql_rows(config: Config) -> list[Row]:
    import httpx

    with httpx.Client() as client:

        def rest() -> Any:
            return client.post(BASE + "get", json=BODIES["get"], headers=AUTH)

        def graphql() -> Any:
            return client.post(GRAPHQL_URL, json=GRAPHQL_BODY, headers=AUTH)

        @contextlib.contextmanager
        def graphql_side() -> Iterator[Any]:
            with _forge(graphql, 200) as op:
                answer = op().json()
                if answer != {"data": {"appStoredEntity": {"key": KEY, "value": VALUE}}}:
                    raise RuntimeError(f"unexpected GraphQL answer: {answer}")
                yield op

        samples = paired({"baseline": lambda: _forge(rest, 200), "fake": graphql_side}, config)
    return [
        Row(
            "graphql",
            "GraphQL appStoredEntity via httpx.Client",
            us(median(samples["fake"])),
            "us",
            "REST get via httpx.Client (fake)",
            us(median(samples["baseline"])),
            at_most(1.2),
            samples=samples,
        )
    ]


# -- moto -----------------------------------------------------------------------------------


def moto_rows(config: Config) -> list[Row]:
    figure = "set + get pair via httpx.Client"
    try:
        import boto3
        from moto import mock_aws
    except ImportError:
        return [
            Row(
                "moto",
                figure,
                None,
                "us",
                "moto DynamoDB put_item + get_item",
                budget=faster_by(3),
                note="moto/boto3 missing: pip install 'pytest-forge-storage[bench]'",
            )
        ]
    import httpx

    # One client for every batch (creating one loads botocore's service model: ~100 ms);
    # moto intercepts its calls whenever a mock_aws() is active.
    ddb = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="benchmark",
        aws_secret_access_key="benchmark",  # fake credentials: moto answers every call
    )
    item = {
        "key": {"S": KEY},
        "name": {"S": VALUE["name"]},
        "age": {"N": str(VALUE["age"])},
        "tags": {"L": [{"S": tag} for tag in VALUE["tags"]]},
    }

    def put_get() -> Any:
        ddb.put_item(TableName="bench", Item=item)
        return ddb.get_item(TableName="bench", Key={"key": {"S": KEY}})

    @contextlib.contextmanager
    def dynamodb() -> Iterator[Callable[[], Any]]:
        with mock_aws():
            ddb.create_table(
                TableName="bench",
                KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            if put_get().get("Item") != item:
                raise RuntimeError("moto did not return the item it stored")
            yield put_get

    with httpx.Client() as client:

        def pair() -> Any:
            client.post(BASE + "set", json=BODIES["set"], headers=AUTH)
            return client.post(BASE + "get", json=BODIES["get"], headers=AUTH)

        # moto costs milliseconds per call: fewer operations per batch, same batches.
        number = max(10, config.number // 8)
        samples = paired(
            {"baseline": dynamodb, "fake": lambda: _forge(pair, 200)}, config, number=number
        )
    return [
        Row(
            "moto",
            figure,
            us(median(samples["fake"])),
            "us",
            "moto DynamoDB put_item + get_item",
            us(median(samples["baseline"])),
            faster_by(3),
            samples=samples,
        )
    ]
