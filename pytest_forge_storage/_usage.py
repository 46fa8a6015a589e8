"""Usage of Forge storage: what a test read and wrote, in Forge's units and at Forge's prices.

Forge bills hosted storage by the GB read and written (since 2026-01-01) and rate-limits it
in 10 KB units per installation (``shared/reference/forge-limits-and-pricing.md`` §2, §6).
Neither figure says which bytes count, so the fake has one rule, :func:`charge_for`, used by
the usage counters, the rate limiter and the reports alike (design §2.7):

* a **write** (``set``, ``delete``, ``secret/set``, ``secret/delete``, ``entity/set``,
  ``entity/delete``, ``batch/set``, ``batch/delete``, ``transaction``) counts the compact JSON
  of its request body: what the client sent, re-encoded with no insignificant whitespace, so
  the figure is the same whichever client sent it;
* a **read** (``get``, ``query``, ``secret/get``, ``entity/get``, ``entity/query``,
  ``batch/get``) counts the compact JSON of its response body;
* units per request = max(1, ceil(bytes / 10,000)): 65 KB is 7 units (L-KVS's own example);
  a KB is 10,000 bytes and a GB 10^9 (the stricter, decimal reading);
* only a **served** request (HTTP 2xx and no error code) is charged bytes and units: a refused
  one (any 4xx or 5xx, a GraphQL field that failed, an injected fault, a transport fault, a
  429 of the rate limiter) read or wrote nothing, and counts in ``requests`` alone (a 429 of
  the rate limiter also in ``rate_limited``);
* secrets and custom entities count like plain KVS: Forge's price table names only the
  "Key-Value Store", its preview said KVS pricing includes custom entities, and secrets are a
  KVS API. One budget, one price.

``requests`` counts one per recorded call (a REST request, or one root field of a GraphQL
document), so ``usage.requests`` matches the number of calls recorded for that installation.
:class:`~pytest_forge_storage._meter.Meter` does the counting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from ._json_size import encoded_size as _encoded_size

__all__ = [
    "COUNTERS",
    "GB_BYTES",
    "NO_CHARGE",
    "PRICING",
    "READ_OPERATIONS",
    "UNIT_BYTES",
    "WRITE_OPERATIONS",
    "Charge",
    "Pricing",
    "Usage",
    "assert_usage",
    "charge_for",
    "compact_size",
    "kind_of",
    "request_size",
    "units_for",
]

#: "10KB" of L-KVS, read as 10,000 bytes (the decimal reading gives more units: stricter).
UNIT_BYTES = 10_000
#: A GB as billed, read as 10^9 bytes (PRICE does not say).
GB_BYTES = 10**9

READ_OPERATIONS = frozenset(
    {"get", "query", "secret/get", "entity/get", "entity/query", "batch/get"}
)
WRITE_OPERATIONS = frozenset(
    {
        "set", "delete", "secret/set", "secret/delete", "entity/set", "entity/delete",
        "batch/set", "batch/delete", "transaction",
    }
)  # fmt: skip

#: The counters of :class:`Usage`, in the order reports show them.
COUNTERS = ("requests", "read_bytes", "write_bytes", "read_units", "write_units", "rate_limited")


@dataclass(frozen=True)
class Pricing:
    """Forge's price table for hosted storage, with where and when it was published."""

    source: str
    updated: str
    billing_from: str
    read_usd_per_gb: float
    write_usd_per_gb: float
    #: The monthly allowance at no cost, per app (not per installation, not per test).
    free_read_gb: float
    free_write_gb: float


#: PRICE (reference §6): "the source of truth for current Forge pricing", KVS rows only.
PRICING = Pricing(
    source="https://developer.atlassian.com/platform/forge/forge-platform-pricing",
    updated="2025-06-30",
    billing_from="2026-01-01",
    read_usd_per_gb=0.055,
    write_usd_per_gb=1.090,
    free_read_gb=0.1,
    free_write_gb=0.1,
)


_NANO = 10**9


def _nano(figure: float) -> int:
    """A published price or allowance in billionths, exactly (they have at most 9 decimals)."""
    return round(figure * _NANO)


def units_for(nbytes: int) -> int:
    """Forge's rate-limit units for one request of ``nbytes``: max(1, ceil(bytes / 10,000))."""
    return max(1, -(-nbytes // UNIT_BYTES))


def compact_size(body: Any) -> int:
    """The UTF-8 length of ``body`` as compact JSON.

    ``bytes`` are taken as already compact (the fake's own answers are, being encoded by
    :func:`pytest_forge_storage._json.dumps`); anything else is a parsed JSON body and is
    encoded. A client's raw request bytes are **not** compact in general (``requests`` sends
    ``", "`` and ``": "``): pass the parsed body for requests.
    """
    if isinstance(body, (bytes, bytearray)):
        return len(body)
    return _encoded_size(body)


def kind_of(operation: str | None) -> Literal["read", "write"] | None:
    """Whether ``operation`` is metered as a read, a write, or neither (an unknown path)."""
    if operation in READ_OPERATIONS:
        return "read"
    if operation in WRITE_OPERATIONS:
        return "write"
    return None


class Charge(NamedTuple):
    """What one request is charged: bytes and units, each on its read or write side."""

    read_bytes: int = 0
    write_bytes: int = 0
    read_units: int = 0
    write_units: int = 0


NO_CHARGE = Charge()
#: ``Charge((r, w, ru, wu))`` without NamedTuple's Python-level ``__new__`` (a few hundred ns
#: on every metered request otherwise).
_new_charge = tuple.__new__


def charge_for(
    operation: str | None,
    request: Any = None,
    response: Any = b"",
    *,
    status: int = 200,
    error_code: str | None = None,
    request_bytes: int | None = None,
) -> Charge:
    """The accounting rule (module docstring): the one function every figure comes from.

    ``request`` is the parsed request body (or compact bytes), ``response`` the response body
    as the fake encoded it (or parsed); only the side that counts is measured, so a read never
    encodes its request and a write never looks at its response. A request is served when its
    ``status`` is 2xx and it has no ``error_code`` (a GraphQL field that failed is answered
    with HTTP 200 and a code). ``request_bytes``, when given, is a write's size already
    measured by :func:`request_size` (the rate limiter needs it before serving): the body is
    then not encoded a second time.
    """
    if not 200 <= status < 300 or error_code is not None:
        return NO_CHARGE
    if operation in WRITE_OPERATIONS:
        if request_bytes is not None:
            size = request_bytes
        elif isinstance(request, (bytes, bytearray)):
            size = len(request)
        else:
            size = _encoded_size(request)  # compact_size, one call less on every write
        return _new_charge(Charge, (0, size, 0, -(-size // UNIT_BYTES) or 1))
    if operation in READ_OPERATIONS:
        size = len(response) if response.__class__ is bytes else compact_size(response)
        return _new_charge(Charge, (size, 0, -(-size // UNIT_BYTES) or 1, 0))
    return NO_CHARGE


def request_size(operation: str | None, request: Any) -> int:
    """What a write will be charged, known before it is served (0 for anything else)."""
    return compact_size(request) if operation in WRITE_OPERATIONS else 0


@dataclass(slots=True)
class Usage:
    """Counters of storage use: per installation, per test, or summed over a run.

    Counts with realism off too. ``cost_usd()`` is the gross marginal price of these bytes at
    Forge's published prices; the monthly free allowance is shown beside it
    (:meth:`allowance_share`), never subtracted: it is per app and month, so no single test
    or run can be said to use it up.
    """

    requests: int = 0
    read_bytes: int = 0
    write_bytes: int = 0
    read_units: int = 0
    write_units: int = 0
    rate_limited: int = 0

    def add(self, other: Usage | Mapping[str, int]) -> Usage:
        """Add ``other``'s counters to these (in place); returns ``self``."""
        figures = other.as_dict() if isinstance(other, Usage) else Usage.from_dict(other).as_dict()
        for name, value in figures.items():
            setattr(self, name, getattr(self, name) + value)
        return self

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return self.copy().add(other)

    def copy(self) -> Usage:
        return Usage(**self.as_dict())

    def as_dict(self) -> dict[str, int]:
        """The counters as a new plain dict (a snapshot: changing it changes nothing here)."""
        return {name: getattr(self, name) for name in COUNTERS}

    @classmethod
    def from_dict(cls, data: Mapping[str, int]) -> Usage:
        """The inverse of :meth:`as_dict` (missing counters are 0), for figures sent by
        xdist workers or read back from a usage JSON file."""
        unknown = sorted(str(name) for name in data if name not in COUNTERS)
        if unknown:
            raise ValueError(
                f"Unknown usage counter(s) {', '.join(unknown)}; the counters are "
                f"{', '.join(COUNTERS)}"
            )
        for name, value in data.items():
            if type(value) is not int or value < 0:
                raise ValueError(f"Usage counter {name} must be an integer >= 0, not {value!r}")
        return cls(**data)

    @property
    def read_gb(self) -> float:
        return self.read_bytes / GB_BYTES

    @property
    def write_gb(self) -> float:
        return self.write_bytes / GB_BYTES

    def cost_usd(self) -> float:
        """GB read x $0.055 + GB written x $1.090 (:data:`PRICING`), before any allowance.

        Worked out exactly, then rounded once: 100 MB written costs ``0.109``, the float
        ``assert_usage(cost_usd=0.109)`` compares it with, not ``0.10900000000000001``.
        """
        read, write = _nano(PRICING.read_usd_per_gb), _nano(PRICING.write_usd_per_gb)
        # int / int is the correctly rounded float of the exact quotient
        return (self.read_bytes * read + self.write_bytes * write) / (GB_BYTES * _NANO)

    def allowance_share(self) -> dict[str, float]:
        """The share of the monthly free allowance (0.1 GB each way) these bytes are:
        ``{"read": 0.5, "write": 0.02}`` is half the reads and 2 % of the writes (exactly:
        150 MB read is ``1.5``)."""
        return {
            "read": self.read_bytes * _NANO / (_nano(PRICING.free_read_gb) * GB_BYTES),
            "write": self.write_bytes * _NANO / (_nano(PRICING.free_write_gb) * GB_BYTES),
        }

    def describe(self, maxima: Mapping[str, float] | None = None) -> str:
        """Every figure, one per line, with its maximum beside it where one is given."""
        maxima = maxima or {}
        figures: list[tuple[str, str, str]] = []
        for name in COUNTERS:
            figures.append((name, f"{getattr(self, name):,}", _limit_note(name, self, maxima)))
        cost = self.cost_usd()
        figures.append(("cost_usd", f"{cost:.6f}", _limit_note("cost_usd", self, maxima)))
        width = max(len(name) for name, _, _ in figures)
        digits = max(len(value) for _, value, _ in figures)
        lines = [
            f"  {name:<{width}}  {value:>{digits}}{note}".rstrip() for name, value, note in figures
        ]
        share = self.allowance_share()
        lines.append(f"  cost_usd is gross, at Forge's prices of {PRICING.updated}, before the")
        lines.append(
            f"  monthly free allowance ({PRICING.free_read_gb:g} GB read, "
            f"{PRICING.free_write_gb:g} GB written, per app): this is "
            f"{_percent(share['read'])} and {_percent(share['write'])} of it"
        )
        return "\n".join(lines)


def _limit_note(name: str, usage: Usage, maxima: Mapping[str, float]) -> str:
    if name not in maxima:
        return ""
    limit = maxima[name]
    shown = _shown_limit(name, limit)
    exceeded = ": EXCEEDED" if _figure(usage, name) > limit else ""
    return f"  (at most {shown}{exceeded})"


def _figure(usage: Usage, name: str) -> float:
    return usage.cost_usd() if name == "cost_usd" else float(getattr(usage, name))


def _percent(share: float) -> str:
    """``<0.001%``, ``0.0653%``, ``22.6%``, ``150%``, ``12,345%``: never an exponent."""
    percent = share * 100
    if percent == 0:
        return "0%"
    if percent >= 100:
        return f"{percent:,.0f}%"
    return f"{percent:.3g}%" if percent >= 0.001 else "<0.001%"


#: The names ``assert_usage`` takes: the counters and the gross cost.
MAXIMA = (*COUNTERS, "cost_usd")


def assert_usage(usage: Usage, /, **maxima: float) -> None:
    """``AssertionError`` unless every figure named is at most its maximum.

    ``assert_usage(storage.usage, write_units=100, requests=50, cost_usd=0.001)``. The message
    shows every figure, not only the ones that failed, and names the maxima exceeded.
    """
    __tracebackhide__ = True
    _check_maxima(maxima)
    exceeded = [name for name in maxima if _figure(usage, name) > maxima[name]]
    if not exceeded:
        return
    over = ", ".join(
        f"{name} {_shown(usage, name)} > {_shown_limit(name, maxima[name])}" for name in exceeded
    )
    raise AssertionError(
        f"Forge storage usage exceeds {len(exceeded)} of the maxima: {over}\n"
        f"{usage.describe(maxima)}"
    )


def _shown(usage: Usage, name: str) -> str:
    return f"{usage.cost_usd():.6f}" if name == "cost_usd" else f"{getattr(usage, name):,}"


def _shown_limit(name: str, limit: float) -> str:
    return f"{limit:.6f}" if name == "cost_usd" else f"{limit:,}"


def _check_maxima(maxima: Mapping[str, Any]) -> None:
    __tracebackhide__ = True
    if not maxima:
        raise TypeError(
            "assert_usage() needs at least one maximum, e.g. assert_usage(write_units=100); "
            f"the names are: {', '.join(MAXIMA)}"
        )
    unknown = sorted(name for name in maxima if name not in MAXIMA)
    if unknown:
        raise TypeError(
            f"assert_usage() got unknown maxima {', '.join(unknown)}; "
            f"the names are: {', '.join(MAXIMA)}"
        )
    for name, limit in maxima.items():
        number = isinstance(limit, (int, float)) and not isinstance(limit, bool)
        if not number or limit != limit or limit < 0:
            example = "cost_usd=0.01" if name == "cost_usd" else f"{name}=100"
            raise ValueError(
                f"assert_usage() maximum {name} must be a number >= 0, like {example}; "
                f"got {limit!r}"
            )
