"""The realism tests' clock (the fixture that makes one is in conftest.py).

Not in ``conftest.py``: several directories have a conftest, and ``from conftest import``
gets whichever was imported last.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

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
