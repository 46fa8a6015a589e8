"""``ForgeStorage``: the object a test holds — seed, inspect, assert, inject faults."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage._http import HttpRequest, RouterResult
from pytest_forge_storage._operations import DEFAULT_BASE_URL, check_operation
from pytest_forge_storage.engine import Engine
from pytest_forge_storage.router import Router, StorageCall, describe_calls, make_fault

from ._views import EntityView, KvsView


class ForgeStorage:
    """An in-memory Forge hosted storage with Forge's semantics, limits and errors.

    Created for you by the ``forge_storage`` fixture or ``mock_forge_storage()``; while
    it is active, ``requests`` and ``httpx`` calls to Forge storage URLs are served by it.
    """

    def __init__(
        self,
        *,
        manifest: str | os.PathLike[str] | None = None,
        base_urls: Iterable[str] = (),
    ) -> None:
        if isinstance(base_urls, str):
            raise TypeError(f"base_urls takes a list of URLs, not a string: [{base_urls!r}]")
        self._engine = Engine()
        urls = [DEFAULT_BASE_URL, *base_urls]
        self.base_urls: tuple[str, ...] = tuple(dict.fromkeys(u.rstrip("/") for u in urls))
        self._router = Router(self._engine, self.base_urls)
        #: Let the Forge-origin requests that the fake does not serve (and no mock of yours
        #: answers) reach the network; storage is still served. Read at :meth:`start`.
        self.passthrough = False
        self.kvs = KvsView(self._engine, secret=False)
        self.secrets = KvsView(self._engine, secret=True)
        self._interception: Any = None
        if manifest is not None:
            self.load_manifest(manifest)

    # -- serving -------------------------------------------------------------------
    def handle(self, request: HttpRequest) -> RouterResult:
        """Serve one HTTP request (what every door calls); ``None`` when it is not storage."""
        return self._router.handle(request)

    def start(self) -> ForgeStorage:
        """Start serving Forge requests made in this process (requests, httpx, aiohttp)."""
        if self._interception is None:
            from pytest_forge_storage.transports import Interception

            interception = Interception(
                self._router.handle, self._router.origins, passthrough=self.passthrough
            )
            interception.start()
            self._interception = interception
        return self

    def stop(self) -> None:
        """Stop intercepting (idempotent). The stored data stays inspectable."""
        interception, self._interception = self._interception, None
        if interception is not None:
            interception.stop()

    def add_to_responses(self, mock: Any) -> None:
        """Kept for 0.1 suites; not needed any more, and does nothing.

        The fake now sees Forge requests before any ``responses`` mock, whenever that mock
        was started, so a ``responses.RequestsMock()`` block needs nothing to coexist.
        """
        import responses

        if self._interception is None:
            raise RuntimeError(
                "add_to_responses() works while the fake is active: call it inside the test "
                "(or after storage.start())"
            )
        if not isinstance(mock, responses.RequestsMock):
            raise TypeError(f"add_to_responses() takes a responses.RequestsMock, not {mock!r}")

    @property
    def active(self) -> bool:
        return self._interception is not None

    # -- auth ----------------------------------------------------------------------
    @property
    def allowed_tokens(self) -> set[str] | None:
        """Bearer tokens accepted; ``None`` (default) accepts any non-blank token."""
        return self._router.allowed_tokens

    @allowed_tokens.setter
    def allowed_tokens(self, tokens: Iterable[str] | None) -> None:
        if isinstance(tokens, str):
            raise TypeError(f"allowed_tokens takes a set of tokens, e.g. {{{tokens!r}}}")
        self._router.allowed_tokens = None if tokens is None else set(tokens)

    @property
    def auth(self) -> bool:
        """Whether requests need ``Authorization: Bearer <token>`` (default ``True``)."""
        return self._router.auth_required

    @auth.setter
    def auth(self, required: bool) -> None:
        self._router.auth_required = bool(required)

    # -- seeding and inspection ----------------------------------------------------
    def entity(self, name: str) -> EntityView:
        """A mapping view of one custom entity's live records."""
        self._engine.entity_declaration(name)  # raises for an undeclared entity
        return EntityView(self._engine, name)

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
        value = copy.deepcopy(value)
        if entity is not None:
            self._engine.entity_put(entity, key, value, ttl=seconds)
        else:
            self._engine.put(key, value, secret=secret, ttl=seconds)

    def load_manifest(self, path: str | os.PathLike[str]) -> list[str]:
        """Declare the custom entities of a Forge ``manifest.yml``; returns their names."""
        return self._engine.load_manifest(path)

    def define_entity(
        self,
        name: str,
        attributes: Mapping[str, Any],
        indexes: Sequence[str | Mapping[str, Any]] = (),
    ) -> None:
        """Declare a custom entity, as ``app.storage.entities`` in a manifest would."""
        self._engine.define_entity(name, attributes, indexes)

    def reset(self) -> None:
        """Empty every store, forget calls and faults; entity declarations stay."""
        self._engine.reset_all()
        self._router.calls.clear()
        self._router.faults.clear()

    def snapshot(self) -> dict[str, Any]:
        """Everything stored, in the ``data`` shape plus a ``metadata`` section."""
        return self._engine.snapshot()

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Replace the stored data with a :meth:`snapshot` (or any ``data`` dict)."""
        self._engine.restore(snapshot)

    def load_data(self, data: Mapping[str, Any]) -> None:
        """Add data in the marker's ``data`` shape to what is stored."""
        self._engine.restore(data, replace=False)

    def dump(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`snapshot` to a JSON file."""
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.snapshot(), fh, indent=2, ensure_ascii=False, sort_keys=True)
            fh.write("\n")

    def load(self, path: str | os.PathLike[str]) -> None:
        """Replace the stored data with a JSON file written by :meth:`dump`."""
        with open(path, encoding="utf-8") as fh:
            try:
                data = json.load(fh)
            except ValueError as exc:
                raise ForgeStorageError(
                    "BAD_REQUEST", f"{os.fspath(path)}: not JSON: {exc}"
                ) from None
        self.restore(data)

    # -- recorded calls ------------------------------------------------------------
    @property
    def calls(self) -> list[StorageCall]:
        """Every storage call served, oldest first (faulted calls included)."""
        return self._router.calls

    def calls_to(
        self,
        operation: str | None = None,
        *,
        key: str | None = None,
        entity_name: str | None = None,
        api: Literal["rest", "graphql"] | None = None,
    ) -> list[StorageCall]:
        check_operation(operation)
        return [
            call
            for call in list(self._router.calls)
            if (operation is None or call.operation == operation)
            and (key is None or call.key == key)
            and (entity_name is None or call.entity_name == entity_name)
            and (api is None or call.api == api)
        ]

    def assert_called(
        self,
        operation: str,
        *,
        key: str | None = None,
        entity_name: str | None = None,
        times: int | None = None,
    ) -> None:
        """Assert ``operation`` was called (``times`` times, when given)."""
        __tracebackhide__ = True
        found = self.calls_to(operation, key=key, entity_name=entity_name)
        wanted = _describe_filter(operation, key, entity_name)
        if times is None and not found:
            raise AssertionError(
                f"Expected a storage call {wanted}, but none was made.\n"
                f"Recorded calls:\n{describe_calls(self.calls)}"
            )
        if times is not None and len(found) != times:
            raise AssertionError(
                f"Expected {times} storage call(s) {wanted}, but {_count(found)} made.\n"
                f"Recorded calls:\n{describe_calls(self.calls)}"
            )

    def assert_not_called(self, operation: str | None = None, *, key: str | None = None) -> None:
        """Assert no call was made (to ``operation``, for ``key``, when given)."""
        __tracebackhide__ = True
        found = self.calls_to(operation, key=key)
        if found:
            wanted = _describe_filter(operation, key, None)
            raise AssertionError(
                f"Expected no storage call {wanted}, but {_count(found)} made.\n"
                f"Recorded calls:\n{describe_calls(self.calls)}"
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
    ) -> None:
        """Answer the next ``times`` matching calls with a Forge error instead of serving them.

        A ``key`` with a batch operation (or with no operation) fails just that item of a
        batch, the way a real partial failure looks.
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
            )
        )

    def fail_transport(
        self,
        operation: str | None = None,
        *,
        error: Literal["connection", "timeout"] = "connection",
        times: int | None = 1,
        after: int = 0,
    ) -> None:
        """Make the client raise its own connection or timeout error for matching calls."""
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
            )
        )

    def __repr__(self) -> str:
        state = "active" if self.active else "inactive"
        return (
            f"<ForgeStorage {state}: {len(self.kvs)} kvs, {len(self.secrets)} secrets, "
            f"{len(self.calls)} calls>"
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
