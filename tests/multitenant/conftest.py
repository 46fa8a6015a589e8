"""Shared pieces of the multi-tenant tests: real clients, two installations, a frozen clock.

Every request goes through a real ``requests``, ``httpx`` or ``httpx.AsyncClient`` call, as a
remote makes it; the installation is chosen by the token the request carries, never by
anything else (reference: remote-invocation §2.4).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests._clock import KINDS, Clock, frozen
from tests.multitenant._doors import START, Door


@pytest.fixture(params=["requests", "httpx", "httpx-async"])
def door(request: pytest.FixtureRequest, forge_storage: Any) -> Iterator[Door]:
    """One real HTTP client of each kind, with the fake active."""
    door = Door(request.param)
    yield door
    door.close()


@pytest.fixture
def employee(forge_storage: Any) -> str:
    """A custom entity declared app-wide: every installation has it, each with its own data."""
    forge_storage.define_entity(
        "employee",
        {"age": "integer", "team": "string"},
        [{"name": "by-age", "range": ["age"], "partition": ["team"]}],
    )
    return "employee"


@pytest.fixture(params=KINDS)
def clock(request: pytest.FixtureRequest) -> Iterator[Clock]:
    yield from frozen(request.param, START)
