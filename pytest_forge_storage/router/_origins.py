"""Which URLs are Forge's, and what each one is: the one owner of that decision (design §2.5).

A **Forge origin** is a scheme, host and port: ``https://api.atlassian.com``, each
``forge_storage_base_urls`` entry, ``FORGE_EGRESS_PROXY_URL`` when it is set (read at every
request, as a Forge Containers app reads it) and the two JWKS hosts of Forge invocation
tokens. URLs are compared the way a client connects: the host case-folded with a trailing dot
dropped, the default port made explicit, so ``https://API.atlassian.com.:443/graphql`` is
``https://api.atlassian.com/graphql``. Loopback as a whole is never a Forge origin, only the
exact base URLs a test configures.

Under a Forge origin (below its base path, if the base URL has one) a **route** says what
serves the path: the REST protocol (any path under ``/forge/storage/kvs/``; an unknown
operation there is Forge's 403), GraphQL (``/graphql``, ``/forge/entities/graphql``), the
JWKS (``/.well-known/jwks.json`` on the JWKS hosts), or nothing (``/ex/jira/...``: Forge's,
but not storage). Under the egress proxy only the REST storage paths are served, authorised
by ``forge-proxy-authorization`` rather than a bearer token (design §2.6). Server mode routes
by path alone, on whatever host the server was reached, and adds the ``@forge/kvs``
in-runtime aliases ``/api/v1/<op>`` (decision 13).

Every transport asks :meth:`Origins.claims` and every request goes through
:meth:`Origins.route`: there is no second pattern anywhere.
"""

from __future__ import annotations

import functools
import os
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
#: Where Forge publishes the keys of its invocation tokens (reference: remote-invocation §1.5).
JWKS_URLS = (
    "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json",
    "https://forge.cdn.stg.atlassian-dev.net/.well-known/jwks.json",
)
JWKS_PATH = "/.well-known/jwks.json"
#: The Forge Containers egress proxy's base URL, from the environment (ref §2).
EGRESS_PROXY_ENV = "FORGE_EGRESS_PROXY_URL"

#: ``(scheme, host, port)`` as a client connects to it.
Address = tuple[str, str, int]


@dataclass(frozen=True)
class Route:
    """What serves a path: ``rest`` (with its operation, ``None`` if unknown), ``graphql``
    or ``jwks``; ``via_proxy`` for the Containers egress proxy."""

    protocol: Literal["rest", "graphql", "jwks"]
    operation: str | None = None
    via_proxy: bool = False


_JWKS = Route("jwks")


@functools.lru_cache(maxsize=1024)
def split_url(url: str) -> tuple[Address, str] | None:
    """``((scheme, host, port), path)`` of an absolute http(s) URL; ``None`` otherwise.

    Cached: a test sends the same few URLs again and again, and each is split twice (the
    door's ``claims`` and the router's ``route``)."""
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
        self._jwks: frozenset[Address] = frozenset(parse_base_url(url)[0] for url in JWKS_URLS)
        self.addresses: frozenset[Address] = frozenset(
            {address for address, _ in bases} | self._jwks
        )
        self._ports: dict[str, frozenset[int]] = {}
        for _, host, port in self.addresses:
            self._ports[host] = self._ports.get(host, frozenset()) | {port}

    def claims(self, url: str) -> bool:
        """Whether ``url`` is on a Forge origin (served, or refused, but never let out)."""
        split = split_url(url)
        if split is None:
            return False
        if split[0] in self.addresses:
            return True
        proxy = _egress_proxy()
        return proxy is not None and split[0] == proxy[0]

    def claims_address(self, host: str, port: int | None) -> bool:
        """Whether a connection to ``host``:``port`` (any port for ``None``) is to a Forge
        origin; ``host`` as a resolver gets it (any case, maybe a trailing dot)."""
        host = host.lower().rstrip(".")
        ports = self._ports.get(host)
        if ports is not None and (port is None or port in ports):
            return True
        proxy = _egress_proxy()
        return proxy is not None and proxy[0][1] == host and (port is None or proxy[0][2] == port)

    def route(self, url: str) -> Route | None:
        """The route of an in-process request to ``url``; ``None`` when not served."""
        split = split_url(url)
        if split is None:
            return None
        address, path = split
        for base_address, base_path in self._bases:
            if address == base_address and _under(path, base_path):
                return _route(path[len(base_path) :] or "/", sdk_paths=False)
        if address in self._jwks:
            return _JWKS if path == JWKS_PATH else None
        proxy = _egress_proxy()
        if proxy is not None and address == proxy[0] and _under(path, proxy[1]):
            route = _route(path[len(proxy[1]) :] or "/", sdk_paths=False)
            if route is not None and route.protocol == "rest":
                return Route("rest", route.operation, via_proxy=True)
        return None


def _egress_proxy() -> tuple[Address, str] | None:
    """The egress proxy's address and base path, when ``FORGE_EGRESS_PROXY_URL`` is set."""
    url = os.environ.get(EGRESS_PROXY_ENV)
    return _parsed_proxy(url) if url else None


@functools.lru_cache(maxsize=8)
def _parsed_proxy(url: str) -> tuple[Address, str] | None:
    """The variable is read per request (a test may set it at any time); its parse is not."""
    try:
        return parse_base_url(url)
    except ValueError:
        return None  # not a URL a client could reach either


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
