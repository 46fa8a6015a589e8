"""The doors to the fake that the reliability tests share (their fixtures are in conftest.py).

Not in ``conftest.py``: several directories have a conftest, and ``from conftest import``
gets whichever was imported last.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from pytest_forge_storage import ForgeStorageError

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


#: The manifest of the ``--db`` tests (in process and as a subprocess): one entity, ``task``.
DURABLE_MANIFEST = """
app:
  id: ari:cloud:ecosystem::app/00000000-0000-4000-8000-000000000000
  storage:
    entities:
      - name: task
        attributes:
          n: {type: integer}
"""
