"""Shared pieces of the reliability suite: the doors to the fake, and the fuzzing tally."""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from pytest_forge_storage import ForgeStorageError

#: (door, operation, phase, mode) → examples sent, and (door, status) → responses seen.
_TALLY = pytest.StashKey["collections.Counter[tuple[str, ...]]"]()
_STATUSES = pytest.StashKey["collections.Counter[tuple[str, int]]"]()


class FuzzTally:
    """Counts what the spec fuzzer sent and what came back, for the terminal summary."""

    def __init__(self, config: pytest.Config) -> None:
        self.examples = config.stash.setdefault(_TALLY, collections.Counter())
        self.statuses = config.stash.setdefault(_STATUSES, collections.Counter())

    def add(self, door: str, operation: str, phase: str, mode: str, status: int) -> None:
        self.examples[(door, operation, phase, mode)] += 1
        self.statuses[(door, status)] += 1

    def total(self, door: str | None = None) -> int:
        return sum(n for key, n in self.examples.items() if door in (None, key[0]))


@pytest.fixture(scope="session")
def fuzz_tally(pytestconfig: pytest.Config) -> FuzzTally:
    return FuzzTally(pytestconfig)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    examples = config.stash.get(_TALLY, None)
    if not examples:
        return
    statuses = config.stash[_STATUSES]
    write = terminalreporter.write_line
    terminalreporter.section("forge storage spec fuzzing")
    for door in sorted({key[0] for key in examples}):
        per_op: collections.Counter[str] = collections.Counter()
        per_kind: collections.Counter[str] = collections.Counter()
        for (d, operation, phase, mode), n in examples.items():
            if d == door:
                per_op[operation] += n
                per_kind[f"{phase}/{mode}"] += n
        total = sum(per_op.values())
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(per_kind.items()))
        seen = ", ".join(f"{s}: {n}" for (d, s), n in sorted(statuses.items()) if d == door)
        write(f"{door}: {total} examples over {len(per_op)} operations ({kinds})")
        write(f"{door}: statuses {seen}")


# -- doors: one client per way a request reaches the fake --------------------------------------

REST = "/forge/storage/kvs/v1/"
GRAPHQL = "/graphql"
TOKEN = "reliability-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"Content-Type": "application/json"}
#: In-process through requests (responses), httpx and httpx async (respx); real HTTP to the server.
DOORS = ("requests", "httpx", "httpx-async", "server")
ENTITY = "employee"
ENTITY_ATTRIBUTES = {"name": "string", "age": "integer", "profile": "any"}
ENTITY_INDEXES = [{"name": "by-age", "range": ["age"]}]


class Answer:
    """An HTTP answer as any client saw it: status, lower-cased headers, raw body."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = {name.lower(): value for name, value in headers.items()}
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def error(self) -> tuple[int, str]:
        """``(status, code)`` of a REST error, after checking its body is ``{code, message}``."""
        body = self.json()
        assert isinstance(body, dict), self.body[:300]
        assert set(body) == {"code", "message"}, self.body[:300]
        assert isinstance(body["code"], str), body
        assert isinstance(body["message"], str), body
        assert body["code"], body
        assert body["message"], body
        assert len(body["message"]) <= 1000, (
            f"the message echoes the input: {body['message'][:200]}"
        )
        assert "Traceback" not in body["message"], body["message"]
        return self.status, body["code"]

    def graphql_errors(self) -> list[dict[str, Any]]:
        body = self.json()
        assert set(body) <= {"data", "errors"}, body
        errors: list[dict[str, Any]] = body["errors"]
        for error in errors:
            assert isinstance(error["message"], str), error
            assert len(error["message"]) <= 1000, error["message"][:200]
            assert set(error["extensions"]) >= {"errorType", "statusCode"}, error
        return errors

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.body[:200]!r})"


class Door:
    """Sends raw bytes to the fake through one client: ``door.rest("set", b'{...}')``."""

    def __init__(self, name: str, base: str, storage: Any) -> None:
        self.name = name
        self.base = base
        self.storage = storage

    @property
    def in_process(self) -> bool:
        return self.name != "server"

    def rest(self, operation: str, body: bytes, headers: Mapping[str, str] | None = None) -> Answer:
        return self.send("POST", REST + operation, body, headers)

    def graphql(self, body: bytes, headers: Mapping[str, str] | None = None) -> Answer:
        return self.send("POST", GRAPHQL, body, headers)

    def send(
        self, method: str, path: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> Answer:
        sent = dict({**AUTH, **JSON} if headers is None else headers)
        url = self.base + path
        if self.name in ("requests", "server"):
            import requests

            r = requests.request(method, url, data=body, headers=sent, timeout=30)
            return Answer(r.status_code, r.headers, r.content)
        import httpx

        if self.name == "httpx":
            with httpx.Client(timeout=30) as client:
                h = client.request(method, url, content=body, headers=sent)
            return Answer(h.status_code, h.headers, h.content)

        async def call() -> httpx.Response:
            async with httpx.AsyncClient(timeout=30) as client:
                return await client.request(method, url, content=body, headers=sent)

        h = asyncio.run(call())
        return Answer(h.status_code, h.headers, h.content)


def prepare(storage: Any) -> Any:
    """The state every door starts from: an empty store, auth on, one declared entity."""
    storage.reset()
    storage.auth = True
    storage.allowed_tokens = None
    try:
        storage.entity(ENTITY)
    except ForgeStorageError:  # not declared yet
        storage.define_entity(ENTITY, ENTITY_ATTRIBUTES, ENTITY_INDEXES)
    return storage


@pytest.fixture(scope="module")
def reliability_server() -> Iterator[Any]:
    from pytest_forge_storage.server import ForgeStorageServer

    with ForgeStorageServer(log=lambda _line: None) as server:
        yield server


@pytest.fixture(params=DOORS)
def door(request: pytest.FixtureRequest) -> Door:
    """The fake behind each door in turn, empty, with the entity ``employee`` declared."""
    if request.param == "server":
        server = request.getfixturevalue("reliability_server")
        return Door("server", server.url, prepare(server.storage))
    storage = request.getfixturevalue("forge_storage")
    return Door(request.param, "https://api.atlassian.com", prepare(storage))
