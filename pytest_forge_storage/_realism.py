"""``Realism``: the opt-in knobs that make the fake behave like Forge under load (design §2.7).

Off by default, so tests stay deterministic and fast unless they ask. Each knob stands for a
documented Forge fact (``shared/reference/forge-limits-and-pricing.md``; ``docs/realism.md``
gives source and confidence for each):

* ``rate_limits`` — L-KVS's per-installation limits (:mod:`._ratelimit`);
* ``query_lag`` — ``query``/``entity/query`` are eventually consistent; Forge publishes no
  delay, so the figure is ours (``full`` uses 1 s);
* ``expiry_lag`` — "Deletion may take up to 48 hours", and reads may return expired items
  meanwhile; ``"max"`` is those 48 hours (172,800 s);
* ``batch_payload_limit`` — 4 MB documented for batch and transaction requests, but bug
  FRGE-1916 limits them to 1 MB: with realism on it defaults to 1,000,000 bytes, and one
  assignment (``= 4_000_000``) restores the documented figure. With realism off the cap is
  today's :data:`._limits.PAYLOAD_MAX_BYTES`;
* ``retry_after`` — send ``Retry-After`` on a 429 (Forge documents none: opt-in, ours);
* ``seed`` — with ``query_lag``, give each write its own lag drawn from [0, ``query_lag``]
  by a seeded generator (:func:`write_lags`), instead of the same lag for every write.

Presets: ``off``; ``limits`` (rate limits and the FRGE-1916 payload cap); ``full`` (limits,
``query_lag = 1`` and ``expiry_lag = "max"``, with no warning). The marker's
``realism=`` takes a preset name or a dict of knobs; a dict changes knobs of the preset the
ini option ``forge_storage_realism`` chose (``off`` unless set).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Literal

from ._limits import PAYLOAD_MAX_BYTES

__all__ = [
    "EXPIRY_LAG_MAX",
    "FRGE_1916_PAYLOAD_LIMIT",
    "KNOBS",
    "PRESETS",
    "Realism",
    "parse_ini",
    "parse_realism",
    "write_lags",
]

#: "Deletion may take up to 48 hours" (KVS-API, CE-API; reference §8, D).
EXPIRY_LAG_MAX = 48 * 3600
#: The payload cap that Atlassian's bug FRGE-1916 applies to batch and transaction requests
#: (TXN, BATCH newer copies; reference §3, D): "1MB instead of 4MB".
FRGE_1916_PAYLOAD_LIMIT = 1_000_000
#: ``full``'s query lag: Forge publishes no figure; one second is our choice (design §2.7).
FULL_QUERY_LAG = 1.0

KNOBS = ("rate_limits", "query_lag", "expiry_lag", "batch_payload_limit", "retry_after", "seed")
PresetName = Literal["off", "limits", "full"]
PRESETS: tuple[PresetName, ...] = ("off", "limits", "full")


class Realism:
    """The realism knobs of one :class:`~pytest_forge_storage.ForgeStorage`.

    Mutable: ``storage.realism.query_lag = 2`` takes effect from the next request. Every
    assignment is checked, and a wrong value raises ``ValueError`` saying what to write.
    """

    __slots__ = KNOBS

    rate_limits: bool
    query_lag: float
    expiry_lag: float
    batch_payload_limit: int
    retry_after: bool
    seed: int | None

    def __init__(
        self,
        *,
        rate_limits: bool = False,
        query_lag: float | timedelta = 0.0,
        expiry_lag: float | timedelta | Literal["max"] = 0.0,
        batch_payload_limit: int = PAYLOAD_MAX_BYTES,
        retry_after: bool = False,
        seed: int | None = None,
    ) -> None:
        self.rate_limits = rate_limits
        self.query_lag = query_lag  # type: ignore[assignment]  # normalised by __setattr__
        self.expiry_lag = expiry_lag  # type: ignore[assignment]
        self.batch_payload_limit = batch_payload_limit
        self.retry_after = retry_after
        self.seed = seed

    @classmethod
    def preset(cls, name: str) -> Realism:
        """``off``, ``limits`` or ``full`` (case and surrounding blanks ignored)."""
        chosen = name.strip().lower() if isinstance(name, str) else name
        if chosen == "off":
            return cls()
        if chosen == "limits":
            return cls(rate_limits=True, batch_payload_limit=FRGE_1916_PAYLOAD_LIMIT)
        if chosen == "full":
            return cls(
                rate_limits=True,
                batch_payload_limit=FRGE_1916_PAYLOAD_LIMIT,
                query_lag=FULL_QUERY_LAG,
                expiry_lag="max",
            )
        raise ValueError(
            f"Unknown realism preset {name!r}; write 'off', 'limits' or 'full', or a dict of "
            "knobs such as {'rate_limits': True, 'query_lag': 2}"
        )

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in KNOBS:
            raise AttributeError(_unknown_knob(name))
        object.__setattr__(self, name, _CHECKS[name](value))

    def replace(self, knobs: Mapping[str, Any]) -> Realism:
        """A copy with ``knobs`` changed (``ValueError`` for an unknown knob or bad value)."""
        if not isinstance(knobs, Mapping):
            raise ValueError(_WHAT_TO_WRITE.format(got=repr(knobs)))
        for name in knobs:
            if name not in KNOBS:
                raise ValueError(_unknown_knob(str(name)))
        copy = Realism(**self.as_dict())
        for name, value in knobs.items():
            setattr(copy, name, value)
        return copy

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in KNOBS}

    @property
    def preset_name(self) -> PresetName | None:
        """The preset these knobs equal, or ``None`` for a custom mix."""
        for name in PRESETS:
            if self == Realism.preset(name):
                return name
        return None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Realism):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        knobs = ", ".join(f"{name}={value!r}" for name, value in self.as_dict().items())
        return f"Realism({knobs})"


def parse_realism(value: Any, *, base: Realism | None = None) -> Realism:
    """The marker's ``realism=``: ``None`` (the base), a preset name, a dict of knobs over the
    base (the ini option's preset), or a :class:`Realism` (copied)."""
    start = base if base is not None else Realism()
    if value is None:
        return start.replace({})
    if isinstance(value, Realism):
        return value.replace({})
    if isinstance(value, str):
        return Realism.preset(value)
    if isinstance(value, Mapping):
        return start.replace(value)
    raise ValueError(_WHAT_TO_WRITE.format(got=repr(value)))


def parse_ini(value: str | None) -> Realism:
    """``forge_storage_realism = off | limits | full`` (empty: off)."""
    text = (value or "").strip()
    if not text:
        return Realism()
    try:
        return Realism.preset(text)
    except ValueError:
        raise ValueError(
            f"forge_storage_realism must be off, limits or full, not {value!r}; e.g. "
            "forge_storage_realism = limits under [tool.pytest.ini_options] or [pytest]"
        ) from None


def write_lags(realism: Realism) -> Callable[[], float]:
    """The lag, in seconds, of each successive write under ``realism.query_lag``.

    Without a seed every write lags ``query_lag``; with one, each write draws its lag
    uniformly from [0, ``query_lag``], the same sequence for the same seed.
    """
    lag = realism.query_lag
    if realism.seed is None or lag == 0:
        return lambda: lag
    import random

    uniform = random.Random(realism.seed).uniform
    return lambda: uniform(0.0, lag)


# -- checks ----------------------------------------------------------------------------

_WHAT_TO_WRITE = (
    "realism= takes a preset name ('off', 'limits', 'full') or a dict of knobs such as "
    "{{'rate_limits': True, 'query_lag': 2}}; got {got}"
)


def _unknown_knob(name: str) -> str:
    import difflib  # only for a message

    close = difflib.get_close_matches(name, KNOBS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"Unknown realism knob {name!r}{hint}; the knobs are: {', '.join(KNOBS)}"


def _flag(name: str) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(
                f"realism {name} must be True or False, like {name}=True; got {value!r}"
            )
        return value

    return check


def _seconds(name: str, value: Any, *, max_allowed: bool = False) -> float:
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if max_allowed and isinstance(value, str) and value.strip().lower() == "max":
        return float(EXPIRY_LAG_MAX)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value < 0:
        also = ', or "max" (48 hours)' if max_allowed else ""
        raise ValueError(
            f"realism {name} must be a number of seconds >= 0 or a timedelta{also}, "
            f"like {name}=1.5; got {value!r}"
        )
    return float(value)


def _payload_limit(value: Any) -> int:
    if type(value) is not int or value < 1:
        raise ValueError(
            "realism batch_payload_limit must be a whole number of bytes >= 1, like "
            f"batch_payload_limit=4_000_000 (Forge's documented 4 MB); got {value!r}"
        )
    return value


def _seed(value: Any) -> int | None:
    if value is not None and type(value) is not int:
        raise ValueError(f"realism seed must be an integer or None, like seed=1234; got {value!r}")
    return value


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "rate_limits": _flag("rate_limits"),
    "retry_after": _flag("retry_after"),
    "query_lag": lambda value: _seconds("query_lag", value),
    "expiry_lag": lambda value: _seconds("expiry_lag", value, max_allowed=True),
    "batch_payload_limit": _payload_limit,
    "seed": _seed,
}
