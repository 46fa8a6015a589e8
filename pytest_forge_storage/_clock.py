"""The process clock, read at every call so freezegun and time-machine both apply."""

from __future__ import annotations

import time
from datetime import datetime, timezone


def now_ms() -> int:
    """Milliseconds since the epoch, from ``time.time()`` looked up at call time."""
    return int(time.time() * 1000)


def iso_ms(epoch_ms: int) -> str:
    """``2026-01-15T16:12:19.000Z`` — Forge's ``expireTime`` format (decision 4)."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"
