"""Cache a GitHub repository's latest release in Forge hosted storage.

The same small job written once per HTTP client, the way a Forge remote would run it: ask
GitHub's REST API for the latest release, then store its tag and date in the Forge
Key-Value Store under ``release:<owner>:<repo>`` with the app's system token. Each test
mocks GitHub with the mocking library its client's users reach for, and lets
pytest-forge-storage serve the Forge storage call in the same test.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FORGE_API", "GITHUB_API", "STORAGE", "release_record", "storage_key"]

GITHUB_API = "https://api.github.com"
FORGE_API = "https://api.atlassian.com"
STORAGE = f"{FORGE_API}/forge/storage/kvs/v1"


def storage_key(repo: str) -> str:
    return "release:" + repo.replace("/", ":")  # "/" is not allowed in a Forge key


def release_record(release: dict[str, Any]) -> dict[str, Any]:
    """What the cache keeps of GitHub's release object."""
    return {"tag": release["tag_name"], "published": release["published_at"]}
