"""Faults on demand: Forge errors and transport errors for matching calls."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

from pytest_forge_storage._codes import message_for, status_for
from pytest_forge_storage._operations import BATCH_OPERATIONS, check_operation


@dataclass
class Fault:
    operation: str | None
    code: str
    status: int
    message: str
    times: int | None
    after: int
    key: str | None
    entity_name: str | None
    transport: Literal["connection", "timeout"] | None = None
    #: Only calls of this installation (``None``: any).
    installation: str | None = None
    #: Never fired by the end of the test: a failure (``fail(..., required=False)`` opts out).
    required: bool = True
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def matches(
        self, operation: str, key: str | None, entity_name: str | None, installation: str
    ) -> bool:
        return (
            (self.installation is None or self.installation == installation)
            and (self.operation is None or self.operation == operation)
            and (self.key is None or self.key == key)
            and (self.entity_name is None or self.entity_name == entity_name)
        )

    def describe(self) -> str:
        """How the test planned it: ``fail('get', key='k', code='KEY_NOT_FOUND', times=1)``."""
        name = "fail_transport" if self.transport else "fail"
        args = [repr(self.operation)] if self.operation is not None else []
        for label, value in (("key", self.key), ("entity_name", self.entity_name)):
            if value is not None:
                args.append(f"{label}={value!r}")
        args.append(f"error={self.transport!r}" if self.transport else f"code={self.code!r}")
        if self.after:
            args.append(f"after={self.after}")
        args.append(f"times={self.times}")
        where = f" on installation {self.installation!r}" if self.installation else ""
        return f"{name}({', '.join(args)}){where}: matched {self.seen} call(s), fired none"

    @property
    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def take(self) -> bool:
        """Count one matching call; ``True`` when this one must fail."""
        self.seen += 1
        if self.seen <= self.after or self.spent:
            return False
        self.fired += 1
        return True


class FaultPlan:
    """The faults a test asked for, consulted by the router for every call."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._faults)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def unfired(self) -> list[Fault]:
        """The required faults that no call has fired yet."""
        with self._lock:
            return [fault for fault in self._faults if fault.required and not fault.fired]

    def take(
        self,
        operation: str,
        key: str | None,
        entity_name: str | None,
        *,
        item: bool = False,
        installation: str = "default",
    ) -> Fault | None:
        """The first fault that fires for this call (or this batch item, with ``item``).

        A batch request names no key and no entity, so a fault with a ``key`` or an
        ``entity_name`` is about the batch's items: it is consulted for each item (and
        counts items for ``after``/``times``), never for the request. Every other fault is
        about whole requests and is never consulted for an item.
        """
        with self._lock:
            for fault in self._faults:
                if fault.spent:
                    continue
                per_item = fault.transport is None and (
                    fault.key is not None or fault.entity_name is not None
                )
                if item != per_item and (item or operation in BATCH_OPERATIONS):
                    continue
                if fault.matches(operation, key, entity_name, installation) and fault.take():
                    return fault
            return None


def make_fault(
    operation: str | None,
    *,
    code: str,
    status: int | None,
    message: str | None,
    times: int | None,
    after: int,
    key: str | None,
    entity_name: str | None,
    transport: Literal["connection", "timeout"] | None = None,
    installation: str | None = None,
    required: bool = True,
) -> Fault:
    """Check the arguments of ``fail()``/``fail_transport()`` and build the fault."""
    check_operation(operation)
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ValueError(f"times must be a positive integer or None (every call), not {times!r}")
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise ValueError(f"after must be a non-negative integer, not {after!r}")
    if not isinstance(code, str) or not code:
        raise ValueError(
            f"code must be a Forge error code such as 'RATE_LIMIT_EXCEEDED', not {code!r}"
        )
    if (
        transport is None
        and status is not None
        and (isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599)
    ):
        raise ValueError(f"status must be an HTTP status code, not {status!r}")
    return Fault(
        operation=operation,
        code=code,
        status=status if status is not None else status_for(code),
        message=message if message is not None else message_for(code),
        times=times,
        after=after,
        key=key,
        entity_name=entity_name,
        transport=transport,
        installation=installation,
        required=bool(required),
    )
