"""The job with ``requests`` (tested with ``responses``)."""

from __future__ import annotations

from typing import Any

import requests

from . import FORGE_API, GITHUB_API, STORAGE, release_record, storage_key


def cache_latest_release(repo: str, token: str) -> dict[str, Any]:
    with requests.Session() as session:
        reply = session.get(f"{GITHUB_API}/repos/{repo}/releases/latest", timeout=10)
        reply.raise_for_status()
        record = release_record(reply.json())
        stored = session.post(
            f"{STORAGE}/set",
            json={"key": storage_key(repo), "value": record},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        stored.raise_for_status()
    return record


def jira_account_id(cloud_id: str, token: str) -> str:
    """Who the app is on a Jira site: a call to Forge's host that is not storage."""
    reply = requests.get(
        f"{FORGE_API}/ex/jira/{cloud_id}/rest/api/3/myself",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    reply.raise_for_status()
    account_id: str = reply.json()["accountId"]
    return account_id
