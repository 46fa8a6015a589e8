"""The test's clock under either freezer, frozen (no ticking) so that instants are exact, and
one ``httpx.Client`` per test for the served-call tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests._clock import KINDS, frozen
from tests.realism._support import START, Clock


@pytest.fixture(params=KINDS)
def clock(request: pytest.FixtureRequest) -> Iterator[Clock]:
    yield from frozen(request.param, START)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client
