"""A frozen clock under either freezer, and Forge's JWKS served to urllib without a network."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from typing import Any
from urllib.response import addinfourl

import pytest

from pytest_forge_storage.router import _keys
from tests._clock import KINDS, frozen
from tests.invocations._support import START, Clock


@pytest.fixture(params=KINDS)
def clock(request: pytest.FixtureRequest) -> Iterator[Clock]:
    yield from frozen(request.param, START)


@pytest.fixture
def served_jwks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Serve :func:`_keys.jwks` at Forge's JWKS URLs to every urllib request; refuse the rest.

    The seam is ``OpenerDirector.open``: ``urllib.request.urlopen`` ends there, and so does
    PyJWT >= 2.14's ``PyJWKClient``, which builds its own opener (``build_opener(...).open``)
    and so never calls ``urlopen``. Returns the URLs requested, in order.
    """
    fetched: list[str] = []

    def open_(self: Any, fullurl: Any, data: Any = None, timeout: Any = None) -> Any:
        url = fullurl.full_url if isinstance(fullurl, urllib.request.Request) else fullurl
        fetched.append(url)
        if url not in _keys.JWKS_URLS:
            raise urllib.error.URLError(f"this test reaches no network ({url})")
        headers = Message()
        headers["Content-Type"] = "application/json"
        body = io.BytesIO(json.dumps(_keys.jwks()).encode())
        return addinfourl(body, headers, url, 200)

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", open_)
    return fetched
