"""Recorded storage calls, with secret values masked wherever they could be printed."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal
from urllib.parse import urlsplit

from pytest_forge_storage._masking import mask_request, mask_secret_response, scalars
from pytest_forge_storage._operations import SECRET_OPERATIONS


class StorageCall:
    """One storage operation served by the fake (one per REST request or GraphQL field).

    ``request`` is the parsed JSON body for REST and the GraphQL variables for GraphQL;
    ``response`` the parsed JSON response (``None`` for an empty body). Both are decoded
    on first access, so a test that mutates them cannot reach into the store.
    """

    __slots__ = (
        "_request",
        "_request_raw",
        "_response",
        "_response_raw",
        "api",
        "entity_name",
        "error_code",
        "installation",
        "key",
        "operation",
        "status",
        "url",
    )

    def __init__(
        self,
        operation: str | None,
        api: Literal["rest", "graphql"],
        key: str | None,
        entity_name: str | None,
        request_raw: bytes,
        status: int,
        response_raw: bytes,
        error_code: str | None,
        url: str,
        installation: str = "default",
    ) -> None:
        self.operation = operation
        self.api = api
        self.key = key
        self.entity_name = entity_name
        self.status = status
        self.error_code = error_code
        self.url = url
        #: The key of the installation whose token the call carried (``"default"`` otherwise).
        self.installation = installation
        self._request_raw = request_raw
        self._response_raw = response_raw
        self._request: Any = _UNSET
        self._response: Any = _UNSET

    @property
    def request(self) -> Any:
        if self._request is _UNSET:
            self._request = _decode(self._request_raw)
        return self._request

    @property
    def response(self) -> Any:
        if self._response is _UNSET:
            self._response = _decode(self._response_raw)
        return self._response

    @property
    def secret(self) -> bool:
        """Whether the call's bodies are masked: a secret operation's, and an unknown path's
        that names secrets (``secret/sett`` may well carry one)."""
        if self.operation is None:
            return "secret" in urlsplit(self.url).path.lower()
        return self.operation in SECRET_OPERATIONS

    def masked_request(self) -> Any:
        """``request`` as it may be shown: a secret call's is masked (see ``_masking``)."""
        return mask_request(self._request_raw, self.key) if self.secret else self.request

    def masked_response(self) -> Any:
        """``response`` as it may be shown: a secret call's keeps only what is never secret."""
        if not self.secret:
            return self.response
        sent = _decode(self._request_raw)
        secrets = frozenset(scalars(sent)) if not isinstance(sent, str) else frozenset({sent})
        return mask_secret_response(_decode(self._response_raw), self.key, secrets=secrets)

    def summary(self) -> str:
        """One line: ``rest set key='k' -> 204`` (no values, so nothing secret), with
        ``[<installation>]`` first for a call of an installation other than the default."""
        return self._line(self.installation != "default")

    def _line(self, with_installation: bool) -> str:
        unnamed = (
            f"(unknown path {urlsplit(self.url).path})" if self.api == "rest" else "(no field ran)"
        )
        parts = [self.api, self.operation or unnamed]
        if with_installation:
            parts.insert(0, f"[{self.installation}]")
        if self.entity_name is not None:
            parts.append(f"entity={self.entity_name!r}")
        if self.key is not None:
            parts.append(f"key={self.key!r}")
        outcome = f"-> {self.status}"
        if self.error_code:
            outcome += f" {self.error_code}"
        return " ".join([*parts, outcome])

    def __repr__(self) -> str:
        return (
            f"StorageCall(operation={self.operation!r}, api={self.api!r}, key={self.key!r}, "
            f"entity_name={self.entity_name!r}, status={self.status!r}, "
            f"error_code={self.error_code!r}, request={self.masked_request()!r}, "
            f"response={self.masked_response()!r}, url={self.url!r}, "
            f"installation={self.installation!r})"
        )

    __str__ = __repr__


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def describe_calls(calls: Iterable[StorageCall], *, last: int | None = None) -> str:
    """The calls, one numbered line each, oldest first (for reports and assertion messages);
    only the ``last`` ones when given, with a line saying how many are not shown.

    Calls of more than one installation are grouped under each installation's key, in the
    order the installations were first called; the numbers keep the order of the calls.
    """
    numbered = list(enumerate(calls, 1))
    if not numbered:
        return "  (no storage calls were recorded)"
    hidden = len(numbered) - last if last is not None and len(numbered) > last else 0
    lines = [f"  ({hidden} earlier calls not shown; -v shows every call)"] if hidden else []
    groups: dict[str, list[tuple[int, StorageCall]]] = {}
    for number, call in numbered:
        groups.setdefault(call.installation, []).append((number, call))
    shown = numbered[hidden:]
    if len(groups) == 1:
        return "\n".join(lines + [f"  {number}. {call.summary()}" for number, call in shown])
    first = {number for number, _ in shown}
    for installation, members in groups.items():
        kept = [(number, call) for number, call in members if number in first]
        if kept:
            lines.append(f"  installation {installation!r}:")
            lines += [f"    {number}. {call._line(False)}" for number, call in kept]
    return "\n".join(lines)


StorageCall.__module__ = "pytest_forge_storage"  # the public name in reprs and tracebacks
