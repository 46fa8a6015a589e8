"""Fixtures shared by the example's tests.

The ``forge_storage`` fixture comes from the pytest-forge-storage plugin: while a test runs,
every ``httpx`` call (sync or async, including the app's own ``AsyncClient``) to
``https://api.atlassian.com/forge/storage/...`` is served by an in-memory fake of Forge
storage, which the test can seed and inspect.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from forge_deploy_tracker import Backoff, create_app

SYSTEM_TOKEN = "system-token-for-tests"
BACKOFF = Backoff(max_attempts=4, base_delay=0.5)


@pytest.fixture
def sleeps() -> list[float]:
    """The backoff delays the service slept (nothing really sleeps in tests)."""
    return []


@pytest.fixture
def client(sleeps: list[float]) -> Iterator[TestClient]:
    """The app under FastAPI's TestClient, sending what Forge sends: the system token."""

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    app = create_app(backoff=BACKOFF, sleep=sleep)
    with TestClient(app, headers={"x-forge-oauth-system": SYSTEM_TOKEN}) as client:
        yield client  # inside "with": the lifespan has opened the app's httpx.AsyncClient
