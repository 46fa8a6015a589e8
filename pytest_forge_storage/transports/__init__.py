"""Thin adapters routing Forge storage requests made with ``requests`` and ``httpx`` to the router.

Each adapter normalises what its client sent into an
:class:`~pytest_forge_storage._http.HttpRequest`, calls the handler (``Router.handle``) and turns
the answer into its client's response, transport error or pass-through. No storage logic here.

* :mod:`._responses` — ``requests``, through the public API of ``responses``;
* :mod:`._respx` — ``httpx.Client`` and ``httpx.AsyncClient``, through the public API of ``respx``;
* :mod:`._aiohttp` — ``aiohttp.ClientSession``, when aiohttp is installed (see its docstring).

Every request whose URL is under one of the *base URLs* is handed to the handler, which decides
whether it is a Forge storage request; ``None`` lets it through untouched.

The interception libraries and the clients are imported when an interceptor starts, never when this
package is imported: importing the plugin must stay cheap.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pytest_forge_storage._http import HttpRequest, HttpResponse, RouterResult

if TYPE_CHECKING:
    from pytest_forge_storage.transports._aiohttp import AiohttpInterceptor
    from pytest_forge_storage.transports._responses import RequestsInterceptor
    from pytest_forge_storage.transports._respx import HttpxInterceptor

__all__ = ["DEFAULT_BASE_URL", "Handler", "Interception", "base_url_pattern", "response_headers"]

#: Where Forge storage lives; extra base URLs come from the ``forge_storage_base_urls`` ini option.
DEFAULT_BASE_URL = "https://api.atlassian.com"

Handler = Callable[[HttpRequest], RouterResult]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def base_url_pattern(base_urls: Sequence[str]) -> re.Pattern[str]:
    """One anchored regex matching any URL under any of ``base_urls``.

    ``https://api.atlassian.com`` matches ``https://api.atlassian.com``, ``.../graphql`` and
    ``...:443/graphql``, never ``https://api.atlassian.com.evil.test/``. A single pattern (rather
    than one per base URL) keeps overlapping base URLs from matching one request twice.
    """
    if isinstance(base_urls, str):
        raise TypeError(f"base_urls takes a sequence of URLs, not a string: write [{base_urls!r}]")
    alternatives = sorted({_base_url_regex(url) for url in base_urls}, key=len, reverse=True)
    if not alternatives:
        raise ValueError(f"at least one base URL is needed, e.g. [{DEFAULT_BASE_URL!r}]")
    return re.compile(rf"\A(?:{'|'.join(alternatives)})(?:[/?#]|\Z)")


def _base_url_regex(url: str) -> str:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError as error:
        raise ValueError(f"invalid base URL {url!r}: {error}") from None
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(
            f"invalid base URL {url!r}: write a scheme and host with an optional port and path, "
            "e.g. 'http://localhost:9999'"
        )
    host = parts.hostname  # lower-cased, like requests and httpx send it
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default_port = _DEFAULT_PORTS[scheme]
    # Clients may or may not spell a default port out (requests keeps it, httpx drops it).
    optional = port is None or port == default_port
    port_regex = f"(?::{default_port})?" if optional else f":{port}"
    return f"{re.escape(f'{scheme}://{host}')}{port_regex}{re.escape(parts.path.rstrip('/'))}"


def response_headers(response: HttpResponse) -> dict[str, str]:
    """The response's headers, plus ``Content-Type: application/json`` for a body without a type."""
    headers = dict(response.headers)
    if response.body and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    return headers


class Interception:
    """Serve Forge storage requests made with ``requests`` and ``httpx`` from ``handler``.

    ``base_urls`` is the full list of intercepted base URLs (the default plus configured extras).
    ``responses_default_mock`` adds the Forge routes to ``responses.mock`` too (see
    :mod:`._responses`). ``start()`` and ``stop()`` are idempotent; also a context manager.
    """

    def __init__(
        self,
        handler: Handler,
        base_urls: Sequence[str] = (DEFAULT_BASE_URL,),
        *,
        responses_default_mock: bool = True,
    ) -> None:
        base_url_pattern(base_urls)  # validate eagerly, where the caller can see the mistake
        self._handler = handler
        self._base_urls = tuple(base_urls)
        self._responses_default_mock = responses_default_mock
        self._interceptors: list[RequestsInterceptor | HttpxInterceptor | AiohttpInterceptor] = []

    @property
    def active(self) -> bool:
        return bool(self._interceptors)

    def start(self) -> None:
        if self._interceptors:
            return
        from pytest_forge_storage.transports._responses import RequestsInterceptor
        from pytest_forge_storage.transports._respx import HttpxInterceptor

        interceptors: tuple[RequestsInterceptor | HttpxInterceptor | AiohttpInterceptor, ...] = (
            RequestsInterceptor(
                self._handler,
                self._base_urls,
                default_mock=self._responses_default_mock,
            ),
            HttpxInterceptor(self._handler, self._base_urls),
        )
        if importlib.util.find_spec("aiohttp") is not None:
            from pytest_forge_storage.transports._aiohttp import AiohttpInterceptor

            pattern = base_url_pattern(self._base_urls)  # stand-in for the router's rule
            claims = pattern.match
            interceptors += (
                AiohttpInterceptor(lambda url: claims(url) is not None, self._handler),
            )
        try:
            for interceptor in interceptors:
                interceptor.start()
                self._interceptors.append(interceptor)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        while self._interceptors:
            self._interceptors.pop().stop()

    def add_to_responses(self, mock: Any) -> None:
        """Serve Forge storage requests from a user's ``responses.RequestsMock`` as well."""
        from ._responses import RequestsInterceptor

        for interceptor in self._interceptors:
            if isinstance(interceptor, RequestsInterceptor):
                interceptor.add_routes_to(mock)

    def __enter__(self) -> Interception:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
