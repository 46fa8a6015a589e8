"""Feature-flag rollouts: one record of the ``flag-rollout`` custom entity per site and flag.

The entity is declared in the app's ``manifest.yml`` (``app.storage.entities``)::

    flag-rollout
      attributes  site, flag, owner: string   percentage: integer   enabled: boolean
                  errorRate: float            rules: any
      indexes     flag                                  (simple: every site with a flag)
                  by-site-percentage                    (partition site, range percentage)

A record's key is ``<site>:<flag>``. The service passes the caller's fields to Forge as
they are: Forge enforces the attribute types and answers ``INVALID_ENTITY_VALUE`` for a
wrong type or an undeclared attribute, which the app turns into a 400.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .forge_storage_client import ForgeStorageClient, attribute_is, condition

ROLLOUT_ENTITY = "flag-rollout"
BY_SITE = "by-site-percentage"
BY_FLAG = "flag"


def rollout_key(site: str, flag: str) -> str:
    return f"{site}:{flag}"


class RolloutStore:
    """Reads and writes rollouts through the REST ``entity/*`` operations."""

    def __init__(self, storage: ForgeStorageClient, *, page_size: int = 100) -> None:
        self._storage = storage
        self._page_size = page_size

    def get(self, site: str, flag: str) -> dict[str, Any] | None:
        return self._storage.entity_get(ROLLOUT_ENTITY, rollout_key(site, flag))

    def save(self, site: str, flag: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Store the rollout of ``flag`` on ``site``; ``site`` and ``flag`` come from the URL."""
        rollout = {**fields, "site": site, "flag": flag}
        self._storage.entity_set(ROLLOUT_ENTITY, rollout_key(site, flag), rollout)
        return rollout

    def delete(self, site: str, flag: str) -> bool:
        return self._storage.entity_delete(ROLLOUT_ENTITY, rollout_key(site, flag))

    def for_site(
        self,
        site: str,
        *,
        min_percentage: int | None = None,
        max_percentage: int | None = None,
        above: int | None = None,
        enabled: bool | None = None,
        owner: str | None = None,
    ) -> list[dict[str, Any]]:
        """A site's rollouts, widest first, every page of them.

        ``min_percentage``/``max_percentage`` select ``BETWEEN`` (inclusive) and ``above``
        selects ``GREATER_THAN`` on the index's range; ``enabled`` and ``owner`` are filters.
        """
        where = None
        if above is not None:
            where = condition("GREATER_THAN", above)
        elif min_percentage is not None or max_percentage is not None:
            low = 0 if min_percentage is None else min_percentage
            high = 100 if max_percentage is None else max_percentage
            where = condition("BETWEEN", low, high)
        filters = []
        if enabled is not None:
            filters.append(attribute_is("enabled", "EQUAL_TO", enabled))
        if owner is not None:
            filters.append(attribute_is("owner", "EQUAL_TO", owner))
        return self._values(BY_SITE, partition=[site], where=where, filters=filters, sort="DESC")

    def sites_with(self, flag: str, *, enabled: bool | None = None) -> list[dict[str, Any]]:
        """Every site's rollout of ``flag``, by site (the key breaks ties in an index)."""
        filters = [] if enabled is None else [attribute_is("enabled", "EQUAL_TO", enabled)]
        return self._values(BY_FLAG, where=condition("EQUAL_TO", flag), filters=filters)

    def _values(self, index: str, **query: Any) -> list[dict[str, Any]]:
        items: Iterator[dict[str, Any]] = self._storage.iter_entity_query(
            ROLLOUT_ENTITY, index, page_size=self._page_size, **query
        )
        return [item["value"] for item in items]
