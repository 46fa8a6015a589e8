"""The job with ``aiohttp`` (tested with aioresponses)."""

from __future__ import annotations

from typing import Any

import aiohttp

from . import GITHUB_API, STORAGE, release_record, storage_key


async def cache_latest_release(
    session: aiohttp.ClientSession, repo: str, token: str
) -> dict[str, Any]:
    async with session.get(f"{GITHUB_API}/repos/{repo}/releases/latest") as reply:
        reply.raise_for_status()
        record = release_record(await reply.json())
    async with session.post(
        f"{STORAGE}/set",
        json={"key": storage_key(repo), "value": record},
        headers={"Authorization": f"Bearer {token}"},
    ) as stored:
        stored.raise_for_status()
    return record
