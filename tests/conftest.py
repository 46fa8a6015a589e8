"""Shared helpers for the test suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

# pytester is used by the plugin tests; declared here, the one place, so that a run which
# overrides addopts (tox min) still has it.
pytest_plugins = ["pytester"]

HERE = Path(__file__).parent

#: The compatibility subset that tox ``min`` and ``latest`` run against the oldest and newest
#: supported libraries (design §3): every interception door (requests through responses, httpx
#: sync and async through respx, the server and its CLI: tests/transports), the pytest surface
#: (fixture, marker, ini options, pytester runs: tests/plugin) and the inbound invocations,
#: whose PyJWT and cryptography floors are pinned in min. The engine and protocol tests depend
#: on no library's version beyond what these doors already exercise.
COMPAT_DIRS = frozenset({"transports", "plugin", "invocations"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            top = item.path.relative_to(HERE).parts[0]
        except ValueError:  # an item outside tests/ (none today)
            continue
        if top in COMPAT_DIRS:
            item.add_marker(pytest.mark.compat)


BASE = "https://api.atlassian.com/forge/storage/kvs/v1/"
AUTH = {"Authorization": "Bearer test-token"}


class Client:
    """Sends Forge REST calls through one real HTTP client: requests, httpx or httpx async."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def post(self, operation: str, body: Any, *, headers: dict[str, str] | None = None) -> Any:
        import anyio

        url = BASE + operation
        sent = AUTH if headers is None else headers
        if self.kind == "requests":
            import requests

            return _Answer.of_requests(requests.post(url, json=body, headers=sent, timeout=5))
        import httpx

        if self.kind == "httpx":
            with httpx.Client() as client:
                return _Answer.of_httpx(client.post(url, json=body, headers=sent))

        async def run() -> Any:
            async with httpx.AsyncClient() as client:
                return _Answer.of_httpx(await client.post(url, json=body, headers=sent))

        return anyio.run(run)


class _Answer:
    def __init__(self, status: int, text: str, body: Any) -> None:
        self.status = status
        self.text = text
        self.body = body

    @classmethod
    def of_requests(cls, r: Any) -> _Answer:
        return cls(r.status_code, r.text, r.json() if r.content else None)

    @classmethod
    def of_httpx(cls, r: Any) -> _Answer:
        return cls(r.status_code, r.text, r.json() if r.content else None)

    def error(self) -> tuple[int, str]:
        assert isinstance(self.body, dict), self.text
        assert set(self.body) == {"code", "message"}, self.body
        assert self.body["message"], self.body
        return self.status, self.body["code"]


@pytest.fixture(params=["requests", "httpx", "httpx-async"])
def client(request: pytest.FixtureRequest, forge_storage: Any) -> Client:
    """A real HTTP client of each kind, with the fake active."""
    return Client(request.param)
