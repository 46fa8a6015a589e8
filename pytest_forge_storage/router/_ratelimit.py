"""Forge's rate limits per installation, as sliding windows on the test's clock.

L-KVS (reference §2, D) sets, per installation: 1000 requests per second, 4000 read and 4000
write "10KB requests" per minute, and per key 1 MB/s of writes and 12 MB/s of reads. Over a
limit Forge answers 429 ``RATE_LIMIT_EXCEEDED`` (a transaction: ``TOO_MANY_REQUESTS``) and
documents no ``Retry-After`` header; the fake sends one only when asked
(``realism.retry_after``), and says in the docs that it is not Forge's.

How the fake counts (decisions where Forge is silent, each in ``docs/realism.md``):

* **Sliding windows**, not fixed ones: a request counts for exactly one second (or minute)
  after it was admitted, whatever the epoch second. Stricter and deterministic.
* **The clock** is ``time.time()``, looked up at every call, so freezegun and time-machine
  apply (``time.monotonic()`` is not patched by time-machine). Instants are whole
  microseconds. A frozen clock that never ticks is one instant: the 1001st request in it is
  refused, and the message says how far to advance the clock. A clock that moves
  **backwards** counts as one that stood still: the windows keep their contents and go on
  ageing as the clock moves forward again (an internal offset keeps the windows' time
  monotonic). Nothing crashes, and no budget grows because the clock went back.
* **Admission, then charge.** :meth:`RateLimiter.admit` runs before a request is served:
  it counts the request against the 1 s request window and checks the unit windows. A write's
  units are known then (its request body), so it is refused if it would go over. A read's
  units are known only from its response, so a read is refused only when its windows are
  already at or over budget, and :meth:`RateLimiter.settle` charges it after serving: one
  large read can overshoot, and the overshoot holds the next reads back until it ages out.
* Units come from :func:`pytest_forge_storage._usage.charge_for` (the usage rule): a refused
  request, or one answered with an error, consumes no units; a request larger than a whole
  budget is admitted only into an empty window, so nothing is refused forever.
* Per-key windows apply to single-key operations (``get``/``set``/``delete`` and their
  ``secret/`` and ``entity/`` forms): keys are per namespace (KVS, secrets, each entity).
  Batch and transaction items count toward the installation's windows only. A MB is 10^6.
* Not enforced: 24 MB/s per index value (how it maps onto KVS ``query`` is not stated) and
  BATCH's "45 batch operations per minute" (it conflicts with the unit model).

Cost: amortised O(1) per request (each window is a FIFO, :mod:`._windows`, evicted as its
entries age out); memory is bounded by what the windows hold.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage._usage import (
    NO_CHARGE,
    READ_OPERATIONS,
    UNIT_BYTES,
    WRITE_OPERATIONS,
    Charge,
)

from ._windows import KeyWindows, Window

__all__ = ["FORGE_RATE_LIMITS", "RateLimiter", "RateLimits", "Refusal"]

SOURCE = "https://developer.atlassian.com/platform/forge/limits-kvs-ce (Dec 1, 2025)"
#: Window lengths, in microseconds (the limiter's unit of time).
SECOND = 1_000_000
MINUTE = 60 * SECOND


@dataclass(frozen=True)
class RateLimits:
    """The numbers of the limits (L-KVS); tests of the limiter may use smaller ones."""

    requests_per_second: int = 1000
    read_units_per_minute: int = 4000
    write_units_per_minute: int = 4000
    key_write_bytes_per_second: int = 1_000_000
    key_read_bytes_per_second: int = 12_000_000

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if type(value) is not int or value < 1:
                raise ValueError(f"RateLimits.{item.name} must be an integer >= 1, not {value!r}")


FORGE_RATE_LIMITS = RateLimits()

#: Single-key operations → the namespace their key lives in (decision 3: disjoint).
_KEY_NAMESPACE = {
    "get": "kvs", "set": "kvs", "delete": "kvs",
    "secret/get": "secret", "secret/set": "secret", "secret/delete": "secret",
    "entity/get": "entity", "entity/set": "entity", "entity/delete": "entity",
}  # fmt: skip


@dataclass(frozen=True)
class Refusal:
    """A request the limiter refused: answer ``error`` (429) with ``headers``."""

    error: ForgeStorageError
    #: The :class:`RateLimits` field that was exceeded.
    limit: str
    #: Whole seconds until the window admits the request (at least 1).
    retry_after: int
    #: ``{"retry-after": "<seconds>"}`` when the limiter's ``retry_after`` is on, else empty.
    headers: Mapping[str, str] = field(default_factory=dict)


class RateLimiter:
    """The rate limits of one installation; thread-safe.

    Per request: ``admit()`` before serving (a :class:`Refusal` to answer, or ``None``), then
    ``settle()`` with what the request was charged (:func:`~._usage.charge_for`).
    """

    def __init__(self, limits: RateLimits = FORGE_RATE_LIMITS, *, retry_after: bool = False):
        self.limits = limits
        #: Send ``Retry-After`` on a refusal (not Forge's behaviour: opt-in).
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._requests = Window(SECOND)
        self._reads = Window(MINUTE)
        self._writes = Window(MINUTE)
        self._key_reads = KeyWindows(SECOND)
        self._key_writes = KeyWindows(SECOND)
        self._last_real = 0
        #: The latest instant of the windows' time (settle books charges there).
        self._latest = 0
        self._offset = 0

    def _now(self, clock: float | None = None) -> int:
        """The windows' time in microseconds: the test's clock, never moving backwards.

        Called with the lock held. ``time.time`` is looked up at every call (freezegun
        replaces the attribute; time-machine patches the function), unless the caller read
        it already (``clock``): under freezegun a read costs microseconds.
        """
        real = int((time.time() if clock is None else clock) * 1_000_000 + 0.5)
        last = self._last_real
        if real < last:
            self._offset += last - real
        self._last_real = real
        self._latest = now = real + self._offset
        return now

    def admit(
        self,
        operation: str | None,
        key: str | None = None,
        entity_name: str | None = None,
        *,
        write_bytes: int = 0,
        now: float | None = None,
    ) -> Refusal | None:
        """Admit one request (counting it against the request window) or refuse it.

        ``write_bytes`` is a write's compact request size (``_usage.request_size``); ``now``
        the ``time.time()`` the caller read for this request, if it read one.
        """
        ident = _key_ident(operation, key, entity_name)
        limits = self.limits
        with self._lock:
            instant = self._now(now)
            window = self._requests
            if window.times and window.times[0] <= instant - SECOND:
                window.evict(instant)
            if window.total and window.total + 1 > limits.requests_per_second:
                return self._refuse(operation, "requests_per_second", window, instant, 1)
            if operation in WRITE_OPERATIONS:
                units = -(-write_bytes // UNIT_BYTES) or 1
                writes = self._writes
                if writes.times and writes.times[0] <= instant - MINUTE:
                    writes.evict(instant)
                if writes.total and writes.total + units > limits.write_units_per_minute:
                    return self._refuse(operation, "write_units_per_minute", writes, instant, units)
                if ident is not None:
                    keyed = self._key_writes
                    if keyed.entries and keyed.entries[0][0] <= instant - SECOND:
                        keyed.evict(instant)
                    used = keyed.totals.get(ident, 0)
                    if used and used + write_bytes > limits.key_write_bytes_per_second:
                        return self._refuse_key(operation, keyed, ident, instant, write_bytes)
            elif operation in READ_OPERATIONS:
                reads = self._reads
                if reads.times and reads.times[0] <= instant - MINUTE:
                    reads.evict(instant)
                if reads.total >= limits.read_units_per_minute:
                    return self._refuse(operation, "read_units_per_minute", reads, instant, 1)
                if ident is not None:
                    keyed = self._key_reads
                    if keyed.entries and keyed.entries[0][0] <= instant - SECOND:
                        keyed.evict(instant)
                    if keyed.totals.get(ident, 0) >= limits.key_read_bytes_per_second:
                        return self._refuse_key(operation, keyed, ident, instant, 1)
            window.add(instant, 1)
        return None

    def withdraw(self, admitted: int) -> None:
        """Take back ``admitted`` requests this limiter just admitted and nothing served: the
        earlier fields of a GraphQL request that is then answered as a whole with an error."""
        with self._lock:
            self._requests.take_back(admitted)

    def settle(
        self,
        operation: str | None,
        key: str | None = None,
        entity_name: str | None = None,
        charge: Charge = NO_CHARGE,
    ) -> None:
        """Charge an admitted request's units once it was served (nothing for an error).

        The charge is booked at the latest instant the limiter has seen (the request's own
        admission, or a later one on another thread): no second clock read.
        """
        if charge is NO_CHARGE:
            return
        ident = _key_ident(operation, key, entity_name)
        read_units, write_units = charge.read_units, charge.write_units
        with self._lock:
            now = self._latest
            if write_units:
                self._writes.add(now, write_units)
                if ident is not None:
                    self._key_writes.add(now, ident, charge.write_bytes)
            if read_units:
                self._reads.add(now, read_units)
                if ident is not None and charge.read_bytes:
                    self._key_reads.add(now, ident, charge.read_bytes)

    def remaining(self) -> dict[str, int]:
        """What each installation-wide window admits now (never below 0)."""
        with self._lock:
            now = self._now()
            limits = self.limits
            figures = {}
            for name, window, limit in (
                ("requests_per_second", self._requests, limits.requests_per_second),
                ("read_units_per_minute", self._reads, limits.read_units_per_minute),
                ("write_units_per_minute", self._writes, limits.write_units_per_minute),
            ):
                window.evict(now)
                figures[name] = max(0, limit - window.total)
            return figures

    def stored_entries(self) -> int:
        """How many window entries are held (memory is bounded by the windows' contents)."""
        with self._lock:
            windows = (self._requests, self._reads, self._writes)
            keyed = (self._key_reads, self._key_writes)
            return sum(len(w.times) for w in windows) + sum(len(k.entries) for k in keyed)

    def reset(self) -> None:
        with self._lock:
            for window in (self._requests, self._reads, self._writes):
                window.times.clear()
                window.amounts.clear()
                window.total = 0
            for keyed in (self._key_reads, self._key_writes):
                keyed.entries.clear()
                keyed.totals.clear()

    # -- refusals ------------------------------------------------------------------
    def _refuse(
        self,
        operation: str | None,
        limit: str,
        window: Window,
        now: int,
        need: int,
    ) -> Refusal:
        allowed = getattr(self.limits, limit)
        wait, frozen = window.wait(now, need, allowed)
        if limit == "requests_per_second":
            what = (
                f"at most {allowed:,} requests per second per installation, and "
                f"{window.total:,} were made in the last second"
            )
        else:
            side = "read" if limit.startswith("read") else "write"
            body = "response" if side == "read" else "request body"
            what = (
                f"at most {allowed:,} {side} units per minute per installation (a unit is "
                f"{UNIT_BYTES:,} bytes of {body}, rounded up), and {window.total:,} were used "
                "in the last 60 seconds"
            )
            if side == "write":
                what += f"; this request needs {need:,}"
        return self._refusal(operation, limit, what, wait, frozen)

    def _refuse_key(
        self, operation: str | None, keyed: KeyWindows, ident: tuple[str, str | None, str],
        now: int, need: int,
    ) -> Refusal:  # fmt: skip
        writes = keyed is self._key_writes
        limit = "key_write_bytes_per_second" if writes else "key_read_bytes_per_second"
        allowed = getattr(self.limits, limit)
        wait, frozen = keyed.wait(now, ident, need, allowed)
        namespace, entity_name, key = ident
        named = {
            "kvs": f"key {key!r}",
            "secret": f"secret key {key!r}",
            "entity": f"key {key!r} of entity {entity_name!r}",
        }[namespace]
        verb = "writes to" if writes else "reads of"
        what = (
            f"at most {allowed / 1_000_000:g} MB ({allowed:,} bytes) per second of {verb} one "
            f"key, and {named} had {keyed.totals[ident]:,} bytes "
            f"{'written' if writes else 'read'} in the last second"
        )
        if writes:
            what += f"; this request writes {need:,}"
        return self._refusal(operation, limit, what, wait, frozen)

    def _refusal(
        self, operation: str | None, limit: str, what: str, wait: int, frozen: bool
    ) -> Refusal:
        seconds = max(1, -(-wait // SECOND))
        if frozen:
            hint = (
                "The test's clock has not moved during these requests (a frozen clock makes "
                f"them one instant): advance it by {seconds} s, e.g. freezer.tick({seconds}) "
                f"with freezegun or traveller.shift({seconds}) with time-machine."
            )
        else:
            hint = (
                f"The window admits this request in {seconds} s: batch the calls and back "
                "off when Forge answers 429."
            )
        code = "TOO_MANY_REQUESTS" if operation == "transaction" else "RATE_LIMIT_EXCEEDED"
        error = ForgeStorageError(code, f"Rate limit exceeded: {what}. {hint}", 429)
        headers = {"retry-after": str(seconds)} if self.retry_after else {}
        return Refusal(error, limit, seconds, headers)


def _key_ident(
    operation: str | None, key: str | None, entity_name: str | None
) -> tuple[str, str | None, str] | None:
    """The per-key window a single-key operation counts in (``None`` for any other)."""
    namespace = _KEY_NAMESPACE.get(operation)  # type: ignore[arg-type]  # None: not in it
    if namespace is None or key.__class__ is not str:
        return None
    return (namespace, entity_name if namespace == "entity" else None, key)
