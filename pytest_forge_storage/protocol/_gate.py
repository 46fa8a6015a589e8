"""What a protocol needs from the router for one request: the :class:`Gate`.

The router resolves a URL to a protocol and hands it the request and a gate; the protocol
parses, validates and executes, and asks the gate at the points where the router's
concerns apply. Both protocols have this one shape, and neither imports the router:

* :meth:`Gate.authorize` — the bearer token (decision 1): a 401 to answer, or ``None``; after
  it, :attr:`Gate.store` is the storage the caller's token reaches;
* :meth:`Gate.check` — what stops one operation before it runs: a planned fault (a Forge
  error or a transport error), later a rate limit;
* :meth:`Gate.context_error` — a GraphQL ``contextAri`` of a site the caller's installation
  cannot reach;
* :meth:`Gate.item_fault` — the per-item fault hook of a batch;
* :meth:`Gate.record` — one recorded call per operation served (faults included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from pytest_forge_storage._errors import ForgeStorageError
    from pytest_forge_storage._http import TransportFault
    from pytest_forge_storage.engine import Engine, ItemFault

Api = Literal["rest", "graphql"]


class Gate(Protocol):
    """The router's side of one request, as the protocols see it."""

    @property
    def store(self) -> Engine:
        """The storage the request reaches (valid once :meth:`authorize` let it in)."""
        ...

    @property
    def screening(self) -> bool:
        """Whether :meth:`check` can stop anything now (faults planned, rate limits on); when
        not, a protocol may skip the work of asking it for each operation."""
        ...

    @property
    def extra_headers(self) -> Mapping[str, str]:
        """Headers for an error answer that :meth:`check` gave (a rate limit's Retry-After)."""
        ...

    def authorize(self, headers: Mapping[str, str]) -> ForgeStorageError | None:
        """The 401 for a missing, blank or refused token, or ``None`` to go on."""
        ...

    def context_error(self, context_ari: object) -> ForgeStorageError | None:
        """``CONTEXT_INVALID`` for a GraphQL ``contextAri`` the caller cannot reach."""
        ...

    def check(
        self, operation: str, key: str | None, entity_name: str | None, body: Any = None
    ) -> ForgeStorageError | TransportFault | None:
        """What answers this operation instead of serving it, or ``None`` to serve it.

        ``body`` is the parsed request (REST) or the field's arguments (GraphQL): what a
        write will be charged against the rate limits.
        """
        ...

    def withdraw(self) -> None:
        """Take back what :meth:`check` admitted for this request: it is answered as a
        whole with an error, and none of its operations is served (GraphQL)."""
        ...

    def item_fault(self, operation: str) -> ItemFault | None:
        """The hook a batch asks for each item (keyed faults fail single items)."""
        ...

    def record(
        self,
        api: Api,
        operation: str | None,
        key: str | None,
        entity_name: str | None,
        request: bytes,
        status: int,
        response: bytes,
        error_code: str | None,
        body: Any = None,
    ) -> None:
        """Record one operation (``operation`` is ``None`` for an unknown storage path) and
        count its usage; ``body`` is the parsed request when ``request`` is not compact."""
        ...
