"""What the invocation tests share beside fixtures: the start instant, the app id,
and the clock (``tests._clock``).

Not in ``conftest.py``: several directories have a conftest, and ``from conftest import``
gets whichever was imported last.
"""

from __future__ import annotations

from datetime import datetime, timezone

from tests._clock import Clock

__all__ = ["APP_ID", "START", "Clock"]

START = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
APP_ID = "ari:cloud:ecosystem::app/8db33809-1f32-48bb-8c52-5877dab48107"
