"""What the invocation tests share beside fixtures: the start instant, the app id, the clock.

Not in ``conftest.py``: several directories have a conftest, and ``from conftest import``
gets whichever was imported last.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

START = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
APP_ID = "ari:cloud:ecosystem::app/8db33809-1f32-48bb-8c52-5877dab48107"


class Clock:
    """The test's clock, frozen at :data:`START`; ``advance`` moves it (and ``time.time()``,
    ``datetime.now()``: what the fake and PyJWT read)."""

    def __init__(self, kind: str, freezer: Any) -> None:
        self.kind = kind
        self._freezer = freezer
        self.now = START

    def advance(self, seconds: float) -> None:
        delta = timedelta(seconds=seconds)
        if self.kind == "freezegun":
            self._freezer.tick(delta)
        else:
            self._freezer.shift(delta)
        self.now += delta

    @property
    def epoch(self) -> int:
        return int(self.now.timestamp())
