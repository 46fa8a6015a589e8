"""The job with ``httpx``, sync and async (tested with respx and with pytest-httpx)."""

from __future__ import annotations

from typing import Any

import httpx

from . import GITHUB_API, STORAGE, release_record, storage_key


def cache_latest_release(client: httpx.Client, repo: str, token: str) -> dict[str, Any]:
    reply = client.get(f"{GITHUB_API}/repos/{repo}/releases/latest")
    reply.raise_for_status()
    record = release_record(reply.json())
    stored = client.post(
        f"{STORAGE}/set",
        json={"key": storage_key(repo), "value": record},
        headers={"Authorization": f"Bearer {token}"},
    )
    stored.raise_for_status()
    return record


async def cache_latest_release_async(
    client: httpx.AsyncClient, repo: str, token: str
) -> dict[str, Any]:
    reply = await client.get(f"{GITHUB_API}/repos/{repo}/releases/latest")
    reply.raise_for_status()
    record = release_record(reply.json())
    stored = await client.post(
        f"{STORAGE}/set",
        json={"key": storage_key(repo), "value": record},
        headers={"Authorization": f"Bearer {token}"},
    )
    stored.raise_for_status()
    return record
