"""The test's clock, frozen under freezegun or time-machine: one class for every directory.

A frozen clock never ticks, so instants are exact; ``advance`` and ``rewind`` move it (and
``time.time()``, ``datetime.now()``: what the fake and PyJWT read). Each directory's conftest
makes a ``clock`` fixture from :func:`frozen` with its own start instant.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

KINDS = ["freezegun", "time-machine"]


class Clock:
    def __init__(self, kind: str, freezer: Any, start: datetime) -> None:
        self.kind = kind
        self._freezer = freezer
        #: The frozen instant (as ``datetime.now(timezone.utc)`` reads it).
        self.now = start

    def advance(self, by: float | timedelta) -> None:
        """Move forward ``by`` (seconds, or a ``timedelta``)."""
        delta = by if isinstance(by, timedelta) else timedelta(seconds=by)
        if self.kind == "freezegun":
            self._freezer.tick(delta)
        else:
            self._freezer.shift(delta)
        self.now += delta

    def rewind(self, seconds: float) -> None:
        """Move backwards (``tick()`` takes only forward steps on older freezeguns;
        ``move_to()`` goes both ways under both freezers)."""
        self._freezer.move_to(datetime.fromtimestamp(time.time() - seconds, tz=timezone.utc))
        self.now -= timedelta(seconds=seconds)

    @property
    def epoch(self) -> int:
        return int(self.now.timestamp())


def frozen(kind: str, start: datetime) -> Iterator[Clock]:
    """The body of a ``clock`` fixture: ``yield from frozen(request.param, START)``."""
    if kind == "freezegun":
        import freezegun

        with freezegun.freeze_time(start) as freezer:
            yield Clock(kind, freezer, start)
    else:
        import time_machine

        with time_machine.travel(start, tick=False) as traveller:
            yield Clock(kind, traveller, start)
