"""Forge storage over the legacy GraphQL API (``POST https://api.atlassian.com/graphql``).

Older remotes were written against this API before the REST endpoints existed. The
documents below are the ones Atlassian's own clients send: ``GET_ENTITY``, ``SET_ENTITY``
and ``DELETE_ENTITY`` as built by ``@forge/storage`` 2.x (whitespace aside),
``LIST_ENTITIES`` as on the remote-GraphQL docs page (``first``/``after`` and
``pageInfo.hasNextPage``).

Errors come in three shapes, each raised as a :class:`StorageError` with Forge's code:

* an HTTP error status (401, 429, 5xx) with ``{"errors": [...]}``: 429 is retried with
  backoff like the REST client does, as are connection errors and timeouts;
* HTTP 200 with top-level ``errors`` (a query field failed);
* HTTP 200 with a mutation payload ``{"success": false, "errors": [...]}``.

Every error object carries ``extensions.errorType`` (Forge's code) and usually
``extensions.statusCode``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from .forge_storage_client import (
    DEFAULT_BASE_URL,
    RetryPolicy,
    StorageError,
    StorageUnavailable,
)

GRAPHQL_PATH = "/graphql"

GET_ENTITY = """
      query forge_app_getApplicationStorageEntity($key: ID!, $encrypted: Boolean!) {
        appStoredEntity(key: $key, encrypted: $encrypted) {
          key
          value
        }
      }
"""

SET_ENTITY = """
      mutation forge_app_setApplicationStorageEntity($input: SetAppStoredEntityMutationInput!) {
        appStorage{
          setAppStoredEntity(input: $input) {
            success

            errors {
              message
              extensions {
                errorType
                statusCode
              }
            }
          }
        }
      }
"""

DELETE_ENTITY = """
      mutation forge_app_deleteApplicationStorageEntity($input: DeleteAppStoredEntityMutationInput!) {
        appStorage {
          deleteAppStoredEntity(input: $input) {
            success

            errors {
              message
              extensions {
                errorType
                statusCode
              }
            }
          }
        }
      }
"""  # noqa: E501 - Atlassian's document, verbatim

LIST_ENTITIES = (
    "query forge_app_queryExample($where: [AppStoredEntityFilter!]!, $first: Int!, "
    "$after: String) { appStoredEntities(where: $where, first: $first, after: $after) "
    "{ edges { node { value key } cursor } pageInfo { hasNextPage } } }"
)

#: ``first`` can be at most 20.
MAX_PAGE_SIZE = 20


def error_from(error: dict[str, Any], default_status: int) -> StorageError:
    """A GraphQL error object as a :class:`StorageError`."""
    extensions = error.get("extensions") or {}
    status = extensions.get("statusCode") or default_status
    code = extensions.get("errorType") or "UNKNOWN_ERROR"
    return StorageError(int(status), str(code), str(error.get("message", "")))


class GraphQLStorageClient:
    """Atlassian's GraphQL API for one token: the storage fields, and :meth:`execute`
    for any other document."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        session: requests.Session | None = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass, safe as default
        sleep: Callable[[float], Any] = time.sleep,
        timeout: float = 10.0,
    ) -> None:
        self.url = base_url.rstrip("/") + GRAPHQL_PATH
        self.retry = retry
        self.timeout = timeout
        self._session = session or requests.Session()
        self._sleep = sleep
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    # -- storage ---------------------------------------------------------------------
    def get(self, key: str) -> Any | None:
        """The value at ``key``, or ``None``: a missing key is ``{"value": null}``, not an
        error."""
        data = self.execute(GET_ENTITY, {"key": key, "encrypted": False})
        return data["appStoredEntity"]["value"]

    def set(self, key: str, value: Any) -> None:
        data = self.execute(SET_ENTITY, {"input": {"key": key, "value": value, "encrypted": False}})
        raise_for_payload(data["appStorage"]["setAppStoredEntity"])

    def delete(self, key: str) -> None:
        """Delete ``key``; deleting a missing key succeeds."""
        data = self.execute(DELETE_ENTITY, {"input": {"key": key, "encrypted": False}})
        raise_for_payload(data["appStorage"]["deleteAppStoredEntity"])

    def iter_prefix(
        self, prefix: str, *, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """Every ``{"key", "value"}`` whose key starts with ``prefix``, in key order."""
        variables: dict[str, Any] = {
            "where": [{"field": "key", "condition": "STARTS_WITH", "value": prefix}],
            "first": page_size,
            "after": None,
        }
        while True:
            page = self.execute(LIST_ENTITIES, variables)["appStoredEntities"]
            for edge in page["edges"]:
                yield edge["node"]
            if not page["pageInfo"]["hasNextPage"] or not page["edges"]:
                return
            variables["after"] = page["edges"][-1]["cursor"]

    # -- transport -------------------------------------------------------------------
    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one document; its ``data``. Raises :class:`StorageError` for an HTTP error or
        top-level ``errors``, retrying rate limits and connection failures."""
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._session.post(
                    self.url, json=body, headers=self._headers, timeout=self.timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt >= self.retry.max_attempts:
                    raise StorageUnavailable(
                        f"graphql: {type(exc).__name__} after {attempt} attempts"
                    ) from exc
            else:
                if response.status_code == 200:
                    payload = response.json()
                    if payload.get("errors"):
                        raise error_from(payload["errors"][0], 400)
                    return payload["data"]
                if not self.retry.retryable(response.status_code) or (
                    attempt >= self.retry.max_attempts
                ):
                    raise http_error(response)
            self._sleep(self.retry.delay(attempt))


def raise_for_payload(payload: dict[str, Any]) -> None:
    """Raise the first error of a mutation payload, as ``@forge/storage`` does."""
    if payload.get("errors"):
        raise error_from(payload["errors"][0], 400)
    if payload.get("success") is not True:
        raise StorageError(500, "UNKNOWN_ERROR", "the mutation did not succeed")


def http_error(response: requests.Response) -> StorageError:
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        errors = None
    if errors:
        error = error_from(errors[0], response.status_code)
        error.status = response.status_code  # the gateway's status wins
        return error
    return StorageError(response.status_code, "UNKNOWN_ERROR", response.text[:200])
