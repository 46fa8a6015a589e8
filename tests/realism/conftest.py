"""The test's clock under either freezer, frozen (no ticking) so that instants are exact."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


class Clock:
    """A frozen clock: ``advance`` ticks it forward, ``rewind`` moves it backwards."""

    def __init__(self, kind: str, freezer: Any) -> None:
        self.kind = kind
        self._freezer = freezer

    def advance(self, seconds: float) -> None:
        if self.kind == "freezegun":
            self._freezer.tick(timedelta(seconds=seconds))
        else:
            self._freezer.shift(timedelta(seconds=seconds))

    def rewind(self, seconds: float) -> None:
        # freezegun's tick() takes only forward steps on older releases; move_to() both ways.
        import time

        self._freezer.move_to(datetime.fromtimestamp(time.time() - seconds, tz=timezone.utc))


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
