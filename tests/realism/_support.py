"""The realism tests' clock (the fixture that makes one is in conftest.py).

Not in ``conftest.py``: several directories have a conftest, and ``from conftest import``
gets whichever was imported last.
"""

from __future__ import annotations

from datetime import datetime, timezone

from tests._clock import Clock

__all__ = ["START", "Clock"]

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
