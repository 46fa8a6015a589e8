"""An async client for Forge hosted storage over REST, on ``httpx.AsyncClient``.

Every call is a ``POST https://api.atlassian.com/forge/storage/kvs/v1/<operation>`` with the
app system token as a bearer token. A call that Forge rate-limits (HTTP 429) is retried with
exponential backoff, honouring ``Retry-After`` when Forge sends one, up to
``Backoff.max_attempts`` attempts in all; then it raises :class:`RateLimited`. Every other
error raises at once as a :class:`StorageError` carrying Forge's ``code``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_BASE_URL = "https://api.atlassian.com"
STORAGE_PATH = "/forge/storage/kvs/v1/"
#: Forge takes at most 25 items in one batch request.
BATCH_SIZE = 25

Sleep = Callable[[float], Awaitable[Any]]


class StorageError(Exception):
    """Forge storage answered with an error: HTTP ``status`` and Forge's ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.status = status
        self.code = code
        self.message = message

    @classmethod
    def from_response(cls, response: httpx.Response) -> StorageError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "code" in body:
            code, message = str(body["code"]), str(body.get("message", ""))
        else:
            code, message = "UNKNOWN_ERROR", response.text[:200]
        kind = {"KEY_NOT_FOUND": KeyNotFound, "CONDITIONAL_CHECK_FAILED": ConditionFailed}
        return kind.get(code, cls)(response.status_code, code, message)


class KeyNotFound(StorageError):
    """404 ``KEY_NOT_FOUND``."""


class ConditionFailed(StorageError):
    """400 ``CONDITIONAL_CHECK_FAILED``: a transaction's condition was false; nothing changed."""


class RateLimited(StorageError):
    """Still 429 after every attempt; ``retry_after`` is the last delay Forge asked for."""

    def __init__(self, status: int, code: str, message: str, retry_after: float) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Backoff:
    """Retry 429s after ``base_delay * 2 ** (retry - 1)`` seconds (or Forge's Retry-After)."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, retry: int, retry_after: str | None) -> float:
        if retry_after is not None:
            try:
                return min(float(retry_after), self.max_delay)
            except ValueError:
                pass
        return min(self.base_delay * 2 ** (retry - 1), self.max_delay)


@dataclass(frozen=True)
class Page:
    """One page of a query: the items, and the cursor for the next page (``None``: no more)."""

    items: list[dict[str, Any]]
    cursor: str | None


class ForgeStorage:
    """Forge storage for one caller's token, over a shared ``httpx.AsyncClient``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        backoff: Backoff = Backoff(),
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + STORAGE_PATH
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.backoff = backoff
        self._sleep = sleep

    # -- Key-Value Store and secrets ---------------------------------------------------
    async def get(self, key: str, *, secret: bool = False) -> Any:
        """The value at ``key``; raises :class:`KeyNotFound` when there is none."""
        response = await self._post("secret/get" if secret else "get", {"key": key})
        return response.json()["value"]

    async def set(self, key: str, value: Any, *, secret: bool = False) -> None:
        await self._post("secret/set" if secret else "set", {"key": key, "value": value})

    async def delete(self, key: str, *, secret: bool = False) -> None:
        await self._post("secret/delete" if secret else "delete", {"key": key})

    # -- custom entities ---------------------------------------------------------------
    async def entity_get(self, entity: str, key: str) -> dict[str, Any]:
        response = await self._post("entity/get", {"entityName": entity, "key": key})
        value: dict[str, Any] = response.json()["value"]
        return value

    async def entity_query(
        self,
        entity: str,
        index: str,
        *,
        partition: Sequence[Any] | None = None,
        where: dict[str, Any] | None = None,
        sort: str = "ASC",
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page:
        body: dict[str, Any] = {"entityName": entity, "indexName": index, "sort": sort}
        body["limit"] = limit
        if partition is not None:
            body["partition"] = list(partition)
        if where is not None:
            body["range"] = where
        if cursor is not None:
            body["cursor"] = cursor
        data = (await self._post("entity/query", body)).json()
        return Page(data["data"], data.get("cursor"))

    async def iter_entity_query(
        self, entity: str, index: str, **query: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of the query, page by page, until Forge sends no cursor."""
        cursor = None
        while True:
            page = await self.entity_query(entity, index, cursor=cursor, **query)
            for item in page.items:
                yield item
            if page.cursor is None:
                return
            cursor = page.cursor

    # -- several items at once ---------------------------------------------------------
    async def batch_set(self, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """``batch/set`` in requests of 25; returns the ``failedKeys`` of every request.

        A batch answers 200 even when some items failed, so the caller must look.
        """
        failed: list[dict[str, Any]] = []
        for start in range(0, len(items), BATCH_SIZE):
            chunk = list(items[start : start + BATCH_SIZE])
            failed.extend((await self._post("batch/set", chunk)).json()["failedKeys"])
        return failed

    async def transaction(
        self,
        *,
        sets: Sequence[dict[str, Any]] = (),
        deletes: Sequence[dict[str, Any]] = (),
        checks: Sequence[dict[str, Any]] = (),
    ) -> None:
        """All writes or none; :class:`ConditionFailed` when a condition is false."""
        groups = {"set": list(sets), "delete": list(deletes), "check": list(checks)}
        await self._post("transaction", {name: ops for name, ops in groups.items() if ops})

    # -- transport ---------------------------------------------------------------------
    async def _post(self, operation: str, body: Any) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            response = await self._http.post(
                self._url + operation, json=body, headers=self._headers
            )
            if response.is_success:
                return response
            if response.status_code != 429:
                raise StorageError.from_response(response)
            delay = self.backoff.delay(attempt, response.headers.get("retry-after"))
            if attempt >= self.backoff.max_attempts:
                error = StorageError.from_response(response)
                raise RateLimited(error.status, error.code, error.message, retry_after=delay)
            await self._sleep(delay)
