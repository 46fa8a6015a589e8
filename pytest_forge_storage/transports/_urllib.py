"""The ``urllib.request`` door, for one thing only: Forge's JWKS (design §2.6).

A remote verifying Forge Invocation Tokens with PyJWT's ``PyJWKClient`` fetches the JWKS with
``urllib.request``: up to PyJWT 2.13 through ``urlopen``, from 2.14 through an opener of its
own (``build_opener(...).open``). Both end in ``OpenerDirector.open``, which is wrapped while a
fake is active: a request for a JWKS URL on a Forge origin gets the fake's JWKS document, as a
real urllib response (or ``HTTPError`` for a non-2xx answer). Every other request, Forge
storage included, goes on untouched: design §2.5 names urllib among the clients the fake does
not serve, so a storage call through it meets the network guard and fails with its message.
"""

from __future__ import annotations

import email.message
import functools
import http
import io
import urllib.error
import urllib.request
import urllib.response
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_forge_storage._http import HttpRequest, HttpResponse

from . import response_headers

if TYPE_CHECKING:
    from . import _Active


def install(active: _Active) -> Callable[[], None]:
    """Wrap ``urllib.request.OpenerDirector.open``; returns the function that restores it."""
    original = urllib.request.OpenerDirector.open

    @functools.wraps(original)
    def open(
        self: urllib.request.OpenerDirector, fullurl: Any, data: Any = None, *args: Any, **kw: Any
    ) -> Any:
        url = fullurl.full_url if isinstance(fullurl, urllib.request.Request) else str(fullurl)
        if active.claims(url):
            wire = _wire(fullurl, url, data)
            result = active.serve_jwks(wire)
            if isinstance(result, HttpResponse):
                return _response(result, url)
        return original(self, fullurl, data, *args, **kw)

    urllib.request.OpenerDirector.open = open  # type: ignore[method-assign]

    def uninstall() -> None:
        if urllib.request.OpenerDirector.open is open:
            urllib.request.OpenerDirector.open = original  # type: ignore[method-assign]

    return uninstall


def _wire(fullurl: Any, url: str, data: Any) -> HttpRequest:
    if isinstance(fullurl, urllib.request.Request):
        headers = {name.lower(): value for name, value in fullurl.header_items()}
        method = fullurl.get_method()
        body = data if data is not None else fullurl.data
    else:
        headers, method, body = {}, "POST" if data is not None else "GET", data
    return HttpRequest(method, url, headers, body if isinstance(body, bytes) else b"")


def _response(result: HttpResponse, url: str) -> Any:
    headers = email.message.Message()
    for name, value in response_headers(result).items():
        headers[name] = value
    if not 200 <= result.status < 300:
        reason = http.HTTPStatus(result.status).phrase
        raise urllib.error.HTTPError(url, result.status, reason, headers, io.BytesIO(result.body))
    return urllib.response.addinfourl(io.BytesIO(result.body), headers, url, result.status)
