"""A small client for Forge hosted storage over REST (``requests``), with retries.

It covers plain KVS values, secrets and custom entities (``entity/*``). Every call is a
``POST https://api.atlassian.com/forge/storage/kvs/v1/<operation>`` with the app system
token as a bearer token. Calls that Forge rate-limits (HTTP 429,
``RATE_LIMIT_EXCEEDED``) and calls that fail to connect or time out are retried with
exponential backoff, up to ``RetryPolicy.max_attempts`` attempts in all. Every other error
is raised at once as a :class:`StorageError` carrying Forge's ``code``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests

DEFAULT_BASE_URL = "https://api.atlassian.com"
STORAGE_PATH = "/forge/storage/kvs/v1/"

_TTL_UNITS = (("DAYS", 86400), ("HOURS", 3600), ("MINUTES", 60), ("SECONDS", 1))


class StorageError(Exception):
    """Forge storage answered with an error: HTTP ``status`` and Forge's ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.status = status
        self.code = code
        self.message = message

    @classmethod
    def from_status_and_body(cls, status: int, body: Any, text: str) -> StorageError:
        if isinstance(body, dict) and "code" in body:
            code, message = str(body["code"]), str(body.get("message", ""))
        else:
            code, message = "UNKNOWN_ERROR", text[:200]
        kind = {
            "KEY_NOT_FOUND": KeyNotFound,
            "KEY_CONFLICT": KeyConflict,
            "INVALID_ENTITY_VALUE": InvalidEntityValue,
        }.get(code, cls)
        return kind(status, code, message)

    @classmethod
    def from_response(cls, response: requests.Response) -> StorageError:
        try:
            body = response.json()
        except ValueError:
            body = None
        return cls.from_status_and_body(response.status_code, body, response.text)


class KeyNotFound(StorageError):
    """404 ``KEY_NOT_FOUND``."""


class KeyConflict(StorageError):
    """409 ``KEY_CONFLICT``: the key exists and the write said ``FAIL_IF_EXISTS``."""


class InvalidEntityValue(StorageError):
    """400 ``INVALID_ENTITY_VALUE``: a record that does not match its entity's attributes."""


class StorageUnavailable(StorageError):
    """Forge storage could not be reached (connection error or timeout) after retries."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "STORAGE_UNAVAILABLE", message)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry: ``base_delay * 2 ** (retry - 1)`` seconds."""

    max_attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 5.0

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        return min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))

    @staticmethod
    def retryable(status: int) -> bool:
        return status == 429


@dataclass(frozen=True)
class Page:
    """One page of a query: items (``{"key", "value", ...}``) and the cursor of the next."""

    items: list[dict[str, Any]]
    cursor: str | None


def ttl_option(ttl: timedelta) -> dict[str, Any]:
    """Forge's ``{"value": n, "unit": ...}`` for a timedelta, in the largest exact unit."""
    seconds = int(ttl.total_seconds())
    if seconds < 1 or seconds != ttl.total_seconds():
        raise ValueError(f"ttl must be a whole, positive number of seconds, not {ttl!r}")
    for unit, size in _TTL_UNITS:
        if seconds % size == 0:
            return {"value": seconds // size, "unit": unit}
    raise AssertionError("unreachable")  # pragma: no cover


def set_options(ttl: timedelta | None, create_only: bool, return_previous: bool) -> dict[str, Any]:
    """``{"options": {...}}`` for a ``set`` or ``entity/set``, or ``{}`` when there are none."""
    options: dict[str, Any] = {}
    if ttl is not None:
        options["ttl"] = ttl_option(ttl)
    if create_only:
        options["keyPolicy"] = "FAIL_IF_EXISTS"
    if return_previous:
        options["returnValue"] = "PREVIOUS"
    return {"options": options} if options else {}


def condition(name: str, *values: Any) -> dict[str, Any]:
    """A range condition of an entity query: ``condition("BETWEEN", 10, 50)``."""
    return {"condition": name, "values": list(values)}


def attribute_is(attribute: str, name: str, *values: Any) -> dict[str, Any]:
    """A filter condition of an entity query: ``attribute_is("enabled", "EQUAL_TO", True)``."""
    return {"property": attribute, "condition": name, "values": list(values)}


def prefix_query(
    prefix: str, *, limit: int | None, after: str | None, metadata: Sequence[str]
) -> dict[str, Any]:
    """The body of a ``query`` for keys starting with ``prefix``."""
    body: dict[str, Any] = {
        "where": [{"property": "key", "condition": "BEGINS_WITH", "values": [prefix]}]
    }
    if limit is not None:
        body["limit"] = limit
    if after is not None:
        body["after"] = after
    if metadata:
        body["options"] = {"metadataFields": list(metadata)}
    return body


class ForgeStorageClient:
    """Forge hosted storage (KVS and secrets) for one app system token."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        session: requests.Session | None = None,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], Any] = time.sleep,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.timeout = timeout
        self._session = session or requests.Session()
        self._sleep = sleep
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
        }

    # -- plain KVS -------------------------------------------------------------------
    def get(self, key: str) -> Any | None:
        """The value stored at ``key``, or ``None`` when there is none."""
        item = self.get_item(key)
        return None if item is None else item["value"]

    def get_item(self, key: str, metadata: Sequence[str] = (), *, secret: bool = False) -> Any:
        """``{"key", "value", [metadata]}`` for ``key``, or ``None`` when there is none."""
        body: dict[str, Any] = {"key": key}
        if metadata:
            body["options"] = {"metadataFields": list(metadata)}
        try:
            return self._post("secret/get" if secret else "get", body).json()
        except KeyNotFound:
            return None

    def set(
        self,
        key: str,
        value: Any,
        *,
        ttl: timedelta | None = None,
        create_only: bool = False,
        return_previous: bool = False,
        secret: bool = False,
    ) -> Any | None:
        """Store ``value`` at ``key``.

        ``create_only`` writes with ``keyPolicy: FAIL_IF_EXISTS`` and raises
        :class:`KeyConflict` when the key exists. ``return_previous`` asks Forge for the
        value it overwrote (``returnValue: PREVIOUS``) and returns it (``None`` when the
        key was new).
        """
        body: dict[str, Any] = {"key": key, "value": value}
        body.update(set_options(ttl, create_only, return_previous))
        response = self._post("secret/set" if secret else "set", body)
        if return_previous and response.status_code == 200:
            return response.json()["value"]
        return None

    def delete(self, key: str, *, secret: bool = False) -> bool:
        """Delete ``key``; ``False`` when there was nothing to delete."""
        try:
            self._post("secret/delete" if secret else "delete", {"key": key})
        except KeyNotFound:
            return False
        return True

    def query(
        self,
        prefix: str,
        *,
        limit: int | None = None,
        after: str | None = None,
        metadata: Sequence[str] = (),
    ) -> Page:
        """One page of the keys that start with ``prefix``, in key order."""
        body = prefix_query(prefix, limit=limit, after=after, metadata=metadata)
        data = self._post("query", body).json()
        return Page(data["data"], data.get("cursor"))

    def iter_prefix(self, prefix: str, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every item whose key starts with ``prefix``, following cursors."""
        cursor = None
        while True:
            page = self.query(prefix, limit=page_size, after=cursor)
            yield from page.items
            if page.cursor is None:
                return
            cursor = page.cursor

    # -- batch -----------------------------------------------------------------------
    def batch_set(self, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store up to 25 ``{"key", "value"}`` items in one request; the items Forge refused.

        Forge applies the items independently: each of ``failedKeys`` is
        ``{"key", "error": {"code", "message"}}``, and the rest are stored.
        """
        return list(self._post("batch/set", list(items)).json()["failedKeys"])

    # -- secrets ---------------------------------------------------------------------
    def get_secret(self, key: str) -> Any | None:
        item = self.get_item(key, secret=True)
        return None if item is None else item["value"]

    def set_secret(self, key: str, value: Any) -> None:
        self.set(key, value, secret=True)

    def delete_secret(self, key: str) -> bool:
        return self.delete(key, secret=True)

    # -- custom entities --------------------------------------------------------------
    def entity_get(self, entity: str, key: str) -> dict[str, Any] | None:
        """The record ``key`` of ``entity``, or ``None`` when there is none."""
        try:
            response = self._post("entity/get", {"entityName": entity, "key": key})
        except KeyNotFound:
            return None
        return response.json()["value"]

    def entity_set(
        self,
        entity: str,
        key: str,
        value: dict[str, Any],
        *,
        ttl: timedelta | None = None,
        create_only: bool = False,
        return_previous: bool = False,
    ) -> dict[str, Any] | None:
        """Store the record ``key`` of ``entity``; the options work as in :meth:`set`.

        Forge checks ``value`` against the entity's declared attributes and answers
        ``INVALID_ENTITY_VALUE`` (raised as :class:`InvalidEntityValue`) when it does not fit.
        """
        body: dict[str, Any] = {"entityName": entity, "key": key, "value": value}
        body.update(set_options(ttl, create_only, return_previous))
        response = self._post("entity/set", body)
        if return_previous and response.status_code == 200:
            return response.json()["value"]
        return None

    def entity_delete(self, entity: str, key: str) -> bool:
        """Delete the record ``key`` of ``entity``; ``False`` when there was none."""
        try:
            self._post("entity/delete", {"entityName": entity, "key": key})
        except KeyNotFound:
            return False
        return True

    def entity_query(
        self,
        entity: str,
        index: str,
        *,
        partition: Sequence[Any] | None = None,
        where: dict[str, Any] | None = None,
        filters: Sequence[dict[str, Any]] = (),
        match: str = "and",
        sort: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page:
        """One page of an index of ``entity``, in the body ``@forge/kvs`` sends.

        ``where`` is a :func:`condition` on the index's range attribute, ``filters`` are
        :func:`attribute_is` conditions joined by ``match`` (``"and"`` or ``"or"``), and
        ``sort`` is ``"ASC"`` or ``"DESC"``. Filters apply after Forge cuts the page, so a
        page can be empty while its cursor leads on: use :meth:`iter_entity_query` to read
        to the end.
        """
        body: dict[str, Any] = {"entityName": entity, "indexName": index}
        if partition is not None:
            body["partition"] = list(partition)
        if where is not None:
            body["range"] = where
        if filters:
            body["filters"] = {match: list(filters)}
        if sort is not None:
            body["sort"] = sort
        if limit is not None:
            body["limit"] = limit
        if cursor is not None:
            body["cursor"] = cursor
        data = self._post("entity/query", body).json()
        return Page(data["data"], data.get("cursor"))

    def iter_entity_query(
        self, entity: str, index: str, *, page_size: int = 100, **query: Any
    ) -> Iterator[dict[str, Any]]:
        """Every item of an entity query, following the cursor until Forge sends none."""
        cursor = None
        while True:
            page = self.entity_query(entity, index, limit=page_size, cursor=cursor, **query)
            yield from page.items
            if page.cursor is None:
                return
            cursor = page.cursor

    # -- transport -------------------------------------------------------------------
    def _post(self, operation: str, body: Any) -> requests.Response:
        """POST ``body`` to ``operation``, retrying rate limits and connection failures."""
        url = f"{self.base_url}{STORAGE_PATH}{operation}"
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._session.post(
                    url, json=body, headers=self._headers, timeout=self.timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt >= self.retry.max_attempts:
                    raise StorageUnavailable(
                        f"{operation}: {type(exc).__name__} after {attempt} attempts"
                    ) from exc
            else:
                if response.ok:
                    return response
                if not self.retry.retryable(response.status_code) or (
                    attempt >= self.retry.max_attempts
                ):
                    raise StorageError.from_response(response)
            self._sleep(self.retry.delay(attempt))
