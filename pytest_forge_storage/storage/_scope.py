"""What a test holds for one installation, or for all of them: ``Scope``.

:class:`~pytest_forge_storage.ForgeStorage` (every installation's calls, the default
installation's data) and :class:`~pytest_forge_storage.Installation` (one installation's)
share seeding views, recorded calls, assertions and faults; this module has them once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from pytest_forge_storage._operations import check_operation
from pytest_forge_storage._usage import Usage, assert_usage
from pytest_forge_storage.router import StorageCall, make_fault

from ._assertions import check_request, closest, matches, recorded, shown_request
from ._views import EntityView, KvsView

if TYPE_CHECKING:
    from pytest_forge_storage.engine import Engine
    from pytest_forge_storage.router import Router


class Scope:
    """Seeding, inspection, recorded calls and faults over one partition.

    ``_installation`` is the installation whose calls and faults this scope sees (``None``:
    every installation's, as ``ForgeStorage`` sees them).
    """

    _router: Router
    _part: Engine
    _installation: str | None

    def _init_scope(self, router: Router, part: Engine, installation: str | None) -> None:
        self._router = router
        self._part = part
        self._installation = installation
        self.kvs = KvsView(part, secret=False)
        self.secrets = KvsView(part, secret=True)

    # -- seeding and inspection ----------------------------------------------------
    def entity(self, name: str) -> EntityView:
        """A mapping view of one custom entity's live records."""
        self._part.entity_declaration(name)  # raises for an undeclared entity
        return EntityView(self._part, name)

    def set(
        self,
        key: str,
        value: Any,
        *,
        ttl: timedelta | float | None = None,
        entity: str | None = None,
        secret: bool = False,
    ) -> None:
        """Seed one value, optionally with a TTL (``timedelta`` or seconds)."""
        if entity is not None and secret:
            raise ValueError("A value is either a secret or an entity record, not both")
        seconds = _ttl_seconds(ttl)
        if entity is not None:  # both store a private copy, made in the walk that checks it
            self._part.entity_put(entity, key, value, ttl=seconds)
        else:
            self._part.put(key, value, secret=secret, ttl=seconds)

    def purge_expired(self) -> int:
        """Delete now every item and record whose TTL has passed, and return how many.

        Forge deletes expired data up to 48 hours late, and ``realism.expiry_lag`` keeps it
        visible that long; this is the deletion happening now. On ``ForgeStorage`` it covers
        every installation, on an ``Installation`` its own data.
        """
        return self._part.purge_expired(every_partition=self._installation is None)

    # -- usage ---------------------------------------------------------------------
    @property
    def usage(self) -> Usage:
        """What the calls so far used, by Forge's accounting (a snapshot; design §2.7)."""
        return self._router.meter.usage(self._installation)

    def assert_usage(self, **maxima: float) -> None:
        """Assert usage stays within ``maxima`` (``write_units=10``, ``cost_usd=0.001``, ...);
        the message shows every figure."""
        __tracebackhide__ = True
        assert_usage(self.usage, **maxima)

    # -- recorded calls ------------------------------------------------------------
    @property
    def calls(self) -> list[StorageCall]:
        """Every storage call served, oldest first (faulted calls included)."""
        if self._installation is None:
            return self._router.calls
        return [c for c in list(self._router.calls) if c.installation == self._installation]

    def calls_to(
        self,
        operation: str | None = None,
        *,
        key: str | None = None,
        entity_name: str | None = None,
        api: Literal["rest", "graphql"] | None = None,
        request: Mapping[str, Any] | None = None,
    ) -> list[StorageCall]:
        """The recorded calls that match every filter given (``request``: a subset of the
        call's parsed request, see ``assert_called``)."""
        check_operation(operation)
        check_request(request)
        return [
            call
            for call in list(self._router.calls)
            if (self._installation is None or call.installation == self._installation)
            and (operation is None or call.operation == operation)
            and (key is None or call.key == key)
            and (entity_name is None or call.entity_name == entity_name)
            and (api is None or call.api == api)
            and matches(call, request)
        ]

    def assert_called(
        self,
        operation: str,
        *,
        key: str | None = None,
        entity_name: str | None = None,
        times: int | None = None,
        request: Mapping[str, Any] | None = None,
    ) -> None:
        """Assert ``operation`` was called (``times`` times, when given).

        ``request`` must be a subset of the call's parsed request: nested dicts compared as
        subsets, lists and scalars for equality (``request={"value": 1, "options": {"ttl":
        {"value": 5, "unit": "MINUTES"}}}``).
        """
        __tracebackhide__ = True
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
            raise TypeError(f"times takes a number of calls, e.g. times=1, not {times!r}")
        found = self.calls_to(operation, key=key, entity_name=entity_name, request=request)
        wanted = _describe_filter(operation, key, entity_name) + shown_request(request, operation)
        if times is None and found:
            return
        if times is not None and len(found) == times:
            return
        if times is None:
            head = f"Expected a storage call {wanted}, but none was made."
        else:
            head = f"Expected {times} storage call(s) {wanted}, but {_count(found)} made."
        near = ""
        if request is not None:
            candidates = [
                call
                for call in self.calls_to(operation, key=key, entity_name=entity_name)
                if not matches(call, request)
            ]
            near = closest(candidates, request, self.calls)
        raise AssertionError(f"{head}\n{near}{recorded(self.calls)}")

    def assert_not_called(
        self,
        operation: str | None = None,
        *,
        key: str | None = None,
        entity_name: str | None = None,
        request: Mapping[str, Any] | None = None,
    ) -> None:
        """Assert no call was made that matches every filter given."""
        __tracebackhide__ = True
        found = self.calls_to(operation, key=key, entity_name=entity_name, request=request)
        if found:
            wanted = _describe_filter(operation, key, entity_name)
            wanted += shown_request(request, operation)
            raise AssertionError(
                f"Expected no storage call {wanted}, but {_count(found)} made.\n"
                f"{recorded(self.calls)}"
            )

    # -- faults --------------------------------------------------------------------
    def fail(
        self,
        operation: str | None = None,
        *,
        code: str = "RATE_LIMIT_EXCEEDED",
        status: int | None = None,
        message: str | None = None,
        times: int | None = 1,
        after: int = 0,
        key: str | None = None,
        entity_name: str | None = None,
        required: bool = True,
    ) -> None:
        """Answer the next ``times`` matching calls with a Forge error instead of serving them.

        A ``key`` with a batch operation (or with no operation) fails just that item of a
        batch, the way a real partial failure looks. A fault that never fires fails the test
        at teardown (a misspelt ``key=`` is the usual cause) unless ``required=False``.
        """
        self._router.faults.add(
            make_fault(
                operation,
                code=code,
                status=status,
                message=message,
                times=times,
                after=after,
                key=key,
                entity_name=entity_name,
                installation=self._installation,
                required=required,
            )
        )

    def fail_transport(
        self,
        operation: str | None = None,
        *,
        error: Literal["connection", "timeout"] = "connection",
        times: int | None = 1,
        after: int = 0,
        required: bool = True,
    ) -> None:
        """Make the client raise its own connection or timeout error for matching calls (never
        fired: a failure at teardown, unless ``required=False``)."""
        if error not in ("connection", "timeout"):
            raise ValueError(f"error must be 'connection' or 'timeout', not {error!r}")
        self._router.faults.add(
            make_fault(
                operation,
                code="TRANSPORT_ERROR",
                status=0,
                message=f"{error} error",
                times=times,
                after=after,
                key=None,
                entity_name=None,
                transport=error,
                installation=self._installation,
                required=required,
            )
        )


def _ttl_seconds(ttl: timedelta | float | None) -> float | None:
    """Seconds from a ``timedelta`` or a number; the engine checks the range."""
    if ttl is None:
        return None
    seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else ttl
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"ttl must be a datetime.timedelta or a number of seconds, not {ttl!r}")
    return float(seconds)


def _count(calls: list[StorageCall]) -> str:
    return "1 was" if len(calls) == 1 else f"{len(calls)} were"


def _describe_filter(operation: str | None, key: str | None, entity_name: str | None) -> str:
    parts = [f"to {operation!r}" if operation else "of any operation"]
    if entity_name is not None:
        parts.append(f"on entity {entity_name!r}")
    if key is not None:
        parts.append(f"for key {key!r}")
    return " ".join(parts)
