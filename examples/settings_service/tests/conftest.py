"""Fixtures shared by the example's tests.

The ``forge_storage`` fixture comes from the pytest-forge-storage plugin: while a test
runs, every ``requests``/``httpx`` call to ``https://api.atlassian.com/forge/storage/...``
and to ``https://api.atlassian.com/graphql`` (storage fields only) is served by an
in-memory fake of Forge storage, which the test can seed and inspect.
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from forge_settings_service import (
    ForgeStorageClient,
    GraphQLStorageClient,
    RetryPolicy,
    create_app,
)

SYSTEM_TOKEN = "system-token-for-tests"
RETRY = RetryPolicy(max_attempts=4, base_delay=0.1)


@pytest.fixture
def sleeps() -> list[float]:
    """The backoff delays the service slept (nothing really sleeps in tests)."""
    return []


@pytest.fixture
def app(sleeps: list[float]) -> Flask:
    return create_app(retry=RETRY, sleep=sleeps.append)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def headers() -> dict[str, str]:
    """What Forge sends the remote: the app system token."""
    return {"x-forge-oauth-system": SYSTEM_TOKEN}


@pytest.fixture
def storage_client(sleeps: list[float]) -> ForgeStorageClient:
    """The storage client on its own, for tests of the client itself."""
    return ForgeStorageClient(SYSTEM_TOKEN, retry=RETRY, sleep=sleeps.append)


@pytest.fixture
def graphql_client(sleeps: list[float]) -> GraphQLStorageClient:
    """Forge storage through the GraphQL API, for tests of that client."""
    return GraphQLStorageClient(SYSTEM_TOKEN, retry=RETRY, sleep=sleeps.append)
