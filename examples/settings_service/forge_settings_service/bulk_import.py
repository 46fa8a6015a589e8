"""Bulk import of site settings: the naive loop, and the one that fits Forge's limits.

Forge limits each installation to 1000 storage requests per second and 4000 write units per
minute, a unit being 10 KB of request, rounded up
(https://developer.atlassian.com/platform/forge/limits-kvs-ce). Over a limit it answers
HTTP 429 ``RATE_LIMIT_EXCEEDED``, with no ``Retry-After`` header.

:func:`import_one_by_one` writes one key per request. Against a store without limits it
passes; on Forge an import of more than 1000 sites goes over the request rate within its
first second, and more than 4000 over the write units within its first minute.

:func:`import_settings` is the fix:

* ``batch/set`` of at most 25 items (Forge's maximum per batch) and at most 1,000,000
  bytes (batch payloads are documented as 4 MB, but Atlassian's open bug FRGE-1916 limits
  them to 1 MB): 5,000 small records are 200 requests and 200 write units, not 5,000 of
  each;
* on 429 the same batch is sent again after a backoff (:data:`BULK_RETRY`: 0.5 s,
  doubling, at most 30 s, eight attempts in all), which waits out a spent second and, at
  its longest, a spent minute.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .forge_storage_client import ForgeStorageClient, RetryPolicy

#: Forge's maximum number of items in one batch request.
BATCH_ITEMS = 25
#: The payload Forge accepts per batch while FRGE-1916 stands (4 MB once it is fixed).
BATCH_BYTES = 1_000_000
#: Patient enough for a spent minute: 0.5 + 1 + 2 + 4 + 8 + 16 + 30 s between 8 attempts.
BULK_RETRY = RetryPolicy(max_attempts=8, base_delay=0.5, max_delay=30.0)


def settings_key(site: str) -> str:
    return f"settings:{site}"


@dataclass(frozen=True)
class ImportResult:
    """What an import stored: how many records, which ones Forge refused, in how many
    requests (batches)."""

    imported: int
    requests: int
    failed: list[dict[str, str]] = field(default_factory=list)


# --8<-- [start:naive]
def import_one_by_one(storage: ForgeStorageClient, settings: Mapping[str, Any]) -> int:
    """The naive import: one ``set`` per site. Do not do this on Forge."""
    for site, value in settings.items():
        storage.set(settings_key(site), value)
    return len(settings)


# --8<-- [end:naive]


# --8<-- [start:fixed]
def import_settings(storage: ForgeStorageClient, settings: Mapping[str, Any]) -> ImportResult:
    """Import every site's settings in batches; the records Forge refused are reported with
    their code (``{"site", "code", "message"}``) while the rest are stored.

    Use a client made with ``retry=BULK_RETRY``: the client retries each 429 itself.
    """
    items = [{"key": settings_key(site), "value": value} for site, value in settings.items()]
    failed: list[dict[str, str]] = []
    requests = 0
    for batch in batches(items):
        requests += 1
        for refused in storage.batch_set(batch):
            failed.append(
                {
                    "site": refused["key"].removeprefix("settings:"),
                    "code": refused["error"]["code"],
                    "message": refused["error"].get("message", ""),
                }
            )
    return ImportResult(imported=len(items) - len(failed), requests=requests, failed=failed)


def batches(
    items: Sequence[dict[str, Any]],
    *,
    max_items: int = BATCH_ITEMS,
    max_bytes: int = BATCH_BYTES,
) -> Iterator[list[dict[str, Any]]]:
    """``items`` in order, cut into batches of at most ``max_items`` items and
    ``max_bytes`` bytes of JSON (an item larger than ``max_bytes`` goes alone)."""
    batch: list[dict[str, Any]] = []
    size = 2  # the brackets of the JSON array
    for item in items:
        item_size = len(json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode())
        if batch and (len(batch) == max_items or size + 1 + item_size > max_bytes):
            yield batch
            batch, size = [], 2
        size += item_size + (1 if batch else 0)
        batch.append(item)
    if batch:
        yield batch


# --8<-- [end:fixed]
