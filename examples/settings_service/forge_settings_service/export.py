"""Exporting the audit log with ``httpx.AsyncClient`` (for a nightly job, say).

Each export keeps its own cursor, so several sites can be exported concurrently over
one client: :func:`export_many` runs them with :func:`asyncio.gather`. Rate limits
(429) and connection errors or timeouts are retried as in the ``requests`` client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx

from .audit import audit_prefix, entry_from_item
from .forge_storage_client import (
    DEFAULT_BASE_URL,
    STORAGE_PATH,
    Page,
    RetryPolicy,
    StorageError,
    StorageUnavailable,
    prefix_query,
)

AsyncSleep = Callable[[float], Awaitable[Any]]


class AsyncForgeStorageClient:
    """The part of the storage client the export needs, on ``httpx.AsyncClient``."""

    def __init__(
        self,
        token: str,
        client: httpx.AsyncClient,
        *,
        base_url: str = DEFAULT_BASE_URL,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass, safe as default
        sleep: AsyncSleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.retry = retry
        self._sleep = sleep

    async def query(
        self,
        prefix: str,
        *,
        limit: int | None = None,
        after: str | None = None,
        metadata: Iterable[str] = (),
    ) -> Page:
        body = prefix_query(prefix, limit=limit, after=after, metadata=list(metadata))
        data = (await self._post("query", body)).json()
        return Page(data["data"], data.get("cursor"))

    async def _post(self, operation: str, body: Any) -> httpx.Response:
        url = f"{self._base_url}{STORAGE_PATH}{operation}"
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._client.post(url, json=body, headers=self._headers)
            except httpx.TransportError as exc:
                if attempt >= self.retry.max_attempts:
                    raise StorageUnavailable(
                        f"{operation}: {type(exc).__name__} after {attempt} attempts"
                    ) from exc
            else:
                if response.is_success:
                    return response
                if not self.retry.retryable(response.status_code) or (
                    attempt >= self.retry.max_attempts
                ):
                    try:
                        payload = response.json()
                    except ValueError:
                        payload = None
                    raise StorageError.from_status_and_body(
                        response.status_code, payload, response.text
                    )
            await self._sleep(self.retry.delay(attempt))


async def export_audit(
    site: str,
    token: str,
    *,
    base_url: str = DEFAULT_BASE_URL,
    page_size: int = 100,
    client: httpx.AsyncClient | None = None,
    retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass, safe as default
    sleep: AsyncSleep = asyncio.sleep,
) -> list[dict[str, Any]]:
    """Every audit entry of ``site``, oldest first, following the query cursor."""
    if client is None:
        async with httpx.AsyncClient(timeout=10.0) as own:
            return await export_audit(
                site,
                token,
                base_url=base_url,
                page_size=page_size,
                client=own,
                retry=retry,
                sleep=sleep,
            )
    storage = AsyncForgeStorageClient(token, client, base_url=base_url, retry=retry, sleep=sleep)
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await storage.query(
            audit_prefix(site), limit=page_size, after=cursor, metadata=["EXPIRE_TIME"]
        )
        entries.extend(entry_from_item(item) for item in page.items)
        if page.cursor is None:
            return entries
        cursor = page.cursor


async def export_many(
    sites: Iterable[str],
    token: str,
    *,
    base_url: str = DEFAULT_BASE_URL,
    page_size: int = 100,
    retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass, safe as default
    sleep: AsyncSleep = asyncio.sleep,
) -> dict[str, list[dict[str, Any]]]:
    """The audit logs of several sites, exported concurrently over one client."""
    sites = list(sites)
    async with httpx.AsyncClient(timeout=10.0) as client:
        logs = await asyncio.gather(
            *(
                export_audit(
                    site,
                    token,
                    base_url=base_url,
                    page_size=page_size,
                    client=client,
                    retry=retry,
                    sleep=sleep,
                )
                for site in sites
            )
        )
    return dict(zip(sites, logs, strict=True))
