"""Which URLs are Forge's, and what each one is: the one owner of that decision (design §2.5).

A **Forge origin** is a scheme, host and port: ``https://api.atlassian.com``, each
``forge_storage_base_urls`` entry, and (from wave 2) ``FORGE_EGRESS_PROXY_URL`` and the JWKS
hosts. URLs are compared the way a client connects: the host case-folded with a trailing dot
dropped, the default port made explicit, so ``https://API.atlassian.com.:443/graphql`` is
``https://api.atlassian.com/graphql``. Loopback as a whole is never a Forge origin, only the
exact base URLs a test configures.

Under a Forge origin (below its base path, if the base URL has one) a **route** says what
serves the path: the REST protocol (any path under ``/forge/storage/kvs/``; an unknown
operation there is Forge's 403), GraphQL (``/graphql``, ``/forge/entities/graphql``), or
nothing (``/ex/jira/...``: Forge's, but not storage). Server mode routes by path alone, on
whatever host the server was reached, and adds the ``@forge/kvs`` in-runtime aliases
``/api/v1/<op>`` (decision 13).

Every transport asks :meth:`Origins.claims` and every request goes through
:meth:`Origins.route`: there is no second pattern anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from pytest_forge_storage._operations import (
    DEFAULT_BASE_URL,
    GRAPHQL_PATHS,
    REST_PREFIX,
    REST_V1,
    SDK_V1,
)

DEFAULT_PORTS = {"http": 80, "https": 443}

#: ``(scheme, host, port)`` as a client connects to it.
Address = tuple[str, str, int]


@dataclass(frozen=True)
class Route:
    """What serves a storage path: ``rest`` (with its operation, ``None`` if unknown) or
    ``graphql``."""

    protocol: Literal["rest", "graphql"]
    operation: str | None = None


def split_url(url: str) -> tuple[Address, str] | None:
    """``((scheme, host, port), path)`` of an absolute http(s) URL; ``None`` otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # an invalid port or IPv6 literal: no client connects there
        return None
    scheme = parts.scheme.lower()
    default = DEFAULT_PORTS.get(scheme)
    host = parts.hostname  # lower-cased, IPv6 brackets removed
    if default is None or not host:
        return None
    return (scheme, host.rstrip("."), port or default), parts.path or "/"


def parse_base_url(url: str) -> tuple[Address, str]:
    """A configured base URL as ``(address, base path)``; ``ValueError`` saying what to write."""
    if not isinstance(url, str):
        raise TypeError(f"a base URL must be a string like {DEFAULT_BASE_URL!r}, not {url!r}")
    parts = urlsplit(url.strip())
    split = split_url(url.strip())
    if split is None or parts.query or parts.fragment:
        raise ValueError(
            f"invalid base URL {url!r}: write a scheme and host with an optional port and path, "
            "e.g. 'http://localhost:9999'"
        )
    address, path = split
    return address, path.rstrip("/")


class Origins:
    """The Forge origins of one fake and the routes under them."""

    def __init__(self, base_urls: Iterable[str] = (DEFAULT_BASE_URL,)) -> None:
        if isinstance(base_urls, str):
            raise TypeError(f"base_urls takes a sequence of URLs, not a string: [{base_urls!r}]")
        bases = [parse_base_url(url) for url in base_urls]
        if not bases:
            raise ValueError(f"at least one base URL is needed, e.g. [{DEFAULT_BASE_URL!r}]")
        # Longest base path first, so that nested base URLs resolve to the most specific one.
        self._bases: tuple[tuple[Address, str], ...] = tuple(
            sorted(set(bases), key=lambda base: len(base[1]), reverse=True)
        )
        self.addresses: frozenset[Address] = frozenset(address for address, _ in bases)
        self._ports: dict[str, frozenset[int]] = {}
        for _, host, port in self.addresses:
            self._ports[host] = self._ports.get(host, frozenset()) | {port}

    def claims(self, url: str) -> bool:
        """Whether ``url`` is on a Forge origin (served, or refused, but never let out)."""
        split = split_url(url)
        return split is not None and split[0] in self.addresses

    def claims_address(self, host: str, port: int | None) -> bool:
        """Whether a connection to ``host``:``port`` (any port for ``None``) is to a Forge
        origin; ``host`` as a resolver gets it (any case, maybe a trailing dot)."""
        ports = self._ports.get(host.lower().rstrip("."))
        return ports is not None and (port is None or port in ports)

    def route(self, url: str) -> Route | None:
        """The route of an in-process request to ``url``; ``None`` when not storage."""
        split = split_url(url)
        if split is None:
            return None
        address, path = split
        for base_address, base_path in self._bases:
            if address == base_address and _under(path, base_path):
                return _route(path[len(base_path) :] or "/", sdk_paths=False)
        return None


def route_local(url: str) -> Route | None:
    """The route of a request that reached server mode, by its path alone."""
    split = split_url(url)
    path = split[1] if split is not None else urlsplit(url).path
    return _route(path or "/", sdk_paths=True)


def _under(path: str, base_path: str) -> bool:
    return not base_path or path == base_path or path.startswith(base_path + "/")


def _route(path: str, *, sdk_paths: bool) -> Route | None:
    if path.startswith(REST_PREFIX):
        operation = path[len(REST_V1) :] if path.startswith(REST_V1) else None
        return Route("rest", operation or None)
    if sdk_paths and path.startswith(SDK_V1):
        return Route("rest", path[len(SDK_V1) :] or None)
    if path in GRAPHQL_PATHS:
        return Route("graphql")
    return None
