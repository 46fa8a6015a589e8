"""Wire-level request and response types shared by the router and the transports.

Transports normalise what their client sent into an :class:`HttpRequest`, hand it to
``Router.handle`` and turn the answer back into their client's response type:

* an :class:`HttpResponse` — serve it;
* a :class:`TransportFault` — raise the client's own transport error (connection or timeout);
* ``None`` — the request is not a Forge storage request: let it through untouched (to the
  user's own mocks, or the real network).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    #: Header names are lower-cased by the transport.
    headers: Mapping[str, str]
    body: bytes
    #: Reached server mode: routed by its path alone, with the ``@forge/kvs`` in-runtime
    #: aliases ``/api/v1/<op>`` (decision 13), whatever the host.
    local: bool = False


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TransportFault:
    error: Literal["connection", "timeout"]
    message: str = "Connection fault injected by pytest-forge-storage"


RouterResult = HttpResponse | TransportFault | None

#: Headers of every JSON answer.
JSON_HEADERS: Mapping[str, str] = {"content-type": "application/json"}
