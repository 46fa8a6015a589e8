"""The test's clock under either freezer, frozen (no ticking) so that instants are exact."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.realism._support import START, Clock


@pytest.fixture(params=["freezegun", "time-machine"])
def clock(request: pytest.FixtureRequest) -> Iterator[Clock]:
    if request.param == "freezegun":
        import freezegun

        with freezegun.freeze_time(START) as frozen:
            yield Clock("freezegun", frozen)
    else:
        import time_machine

        with time_machine.travel(START, tick=False) as traveller:
            yield Clock("time-machine", traveller)
