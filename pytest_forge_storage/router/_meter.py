"""The :class:`Meter`: counts every request served, per installation, by the usage rule.

One :meth:`Meter.record` per recorded call (:func:`~pytest_forge_storage._usage.charge_for`
says what it costs); :meth:`Meter.usage` and :meth:`Meter.as_dict` hand out snapshots for
``storage.usage``, ``installation.usage`` and the reports.
"""

from __future__ import annotations

import threading
from typing import Any

from pytest_forge_storage._usage import NO_CHARGE, Charge, Usage, charge_for

__all__ = ["DEFAULT_INSTALLATION", "Meter"]

#: The installation a request reaches when nothing says otherwise (design §2.6).
DEFAULT_INSTALLATION = "default"


class Meter:
    """Counts every request served, per installation; thread-safe.

    One :meth:`record` per recorded call. The total over installations is summed when asked
    for (:attr:`total`), so recording touches one :class:`Usage`.
    """

    __slots__ = ("_lock", "_usage")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usage: dict[str, Usage] = {}

    def record(
        self,
        operation: str | None,
        request: Any = None,
        response: Any = b"",
        *,
        status: int = 200,
        error_code: str | None = None,
        rate_limited: bool = False,
        installation: str = DEFAULT_INSTALLATION,
        request_bytes: int | None = None,
    ) -> Charge:
        """Count one request and return what it was charged (:func:`charge_for`).

        ``request`` is the parsed request body (writes encode it compactly, unless
        ``request_bytes`` gives the size already measured), ``response`` the response bytes as
        the fake sent them; ``status`` the HTTP status answered (0 for a transport fault) and
        ``error_code`` the Forge code of a failed call (as :class:`StorageCall` has them);
        ``rate_limited`` marks a 429 of the rate limiter.
        """
        if rate_limited or error_code is not None or not 200 <= status < 300:
            charge = NO_CHARGE
        else:
            charge = charge_for(operation, request, response, request_bytes=request_bytes)
        self._count(installation, charge, rate_limited)
        return charge

    def add(
        self,
        charge: Charge,
        *,
        installation: str = DEFAULT_INSTALLATION,
        rate_limited: bool = False,
    ) -> None:
        """Count one request already measured with :func:`charge_for`."""
        self._count(installation, charge, rate_limited)

    def _count(self, installation: str, charge: Charge, rate_limited: bool) -> None:
        with self._lock:
            usage = self._usage.get(installation)
            if usage is None:
                usage = self._usage[installation] = Usage()
            usage.requests += 1
            if charge is not NO_CHARGE:
                usage.read_bytes += charge[0]
                usage.write_bytes += charge[1]
                usage.read_units += charge[2]
                usage.write_units += charge[3]
            if rate_limited:
                usage.rate_limited += 1

    def usage(self, installation: str | None = None) -> Usage:
        """A snapshot of one installation's counters (zeros if it made no request), or of the
        total over all installations when ``installation`` is ``None``."""
        with self._lock:
            if installation is not None:
                found = self._usage.get(installation)
                return found.copy() if found is not None else Usage()
            total = Usage()
            for usage in self._usage.values():
                total.add(usage)
            return total

    @property
    def total(self) -> Usage:
        return self.usage()

    def by_installation(self) -> dict[str, Usage]:
        """A snapshot per installation that made at least one request, in first-use order."""
        with self._lock:
            return {key: usage.copy() for key, usage in self._usage.items()}

    def as_dict(self) -> dict[str, dict[str, int]]:
        """``{installation: counters}`` as plain data: what the reports and xdist carry."""
        with self._lock:
            return {key: usage.as_dict() for key, usage in self._usage.items()}

    def reset(self) -> None:
        with self._lock:
            self._usage.clear()
