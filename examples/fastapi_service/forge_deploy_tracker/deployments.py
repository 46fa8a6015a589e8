"""Deployment records in the ``deployment`` custom entity (manifest.yml), keyed
``<site>:<deployment id>``, and the site's current release in the KVS at ``release:<site>``.

The service checks shapes (pydantic) but not Forge's rules: a blank service name, a key
with ``/`` or a ``startedAt`` beyond 32 bits reach Forge, which rejects that one item of the
batch, and the import reports it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .storage import ConditionFailed, ForgeStorage

ENTITY = "deployment"
BY_SITE_STARTED = "by-site-started"


class DeploymentIn(BaseModel):
    id: str
    service: str
    version: str
    startedAt: int  # attribute names as in manifest.yml
    succeeded: bool
    durationSeconds: float | None = None
    details: Any = None


class NotPromotable(Exception):
    """The deployment did not succeed, or changed while it was being promoted."""


def record_key(site: str, deployment_id: str) -> str:
    return f"{site}:{deployment_id}"


def to_record(site: str, deployment: DeploymentIn) -> dict[str, Any]:
    """The entity value: every attribute that has a value (Forge refuses ``null``)."""
    fields = deployment.model_dump(exclude={"id"}, exclude_none=True)
    return {"site": site, **fields}


async def import_all(
    store: ForgeStorage, site: str, deployments: list[DeploymentIn]
) -> list[dict[str, Any]]:
    """Store every deployment with ``batch/set``; the items Forge refused, with its code."""
    items = [
        {"key": record_key(site, d.id), "entityName": ENTITY, "value": to_record(site, d)}
        for d in deployments
    ]
    failed = await store.batch_set(items)
    prefix = len(site) + 1
    return [
        {"id": f["key"][prefix:], "code": f["error"]["code"], "message": f["error"]["message"]}
        for f in failed
    ]


async def get(store: ForgeStorage, site: str, deployment_id: str) -> dict[str, Any]:
    return await store.entity_get(ENTITY, record_key(site, deployment_id))


async def newest_first(
    store: ForgeStorage, site: str, *, since: int | None = None, page_size: int = 20
) -> list[dict[str, Any]]:
    """The site's deployments, newest first, from every page of the ``by-site-started``
    index (started at or after ``since``, if given)."""
    where = None
    if since is not None:
        where = {"condition": "GREATER_THAN_EQUAL_TO", "values": [since]}
    items = store.iter_entity_query(
        ENTITY, BY_SITE_STARTED, partition=[site], where=where, sort="DESC", limit=page_size
    )
    prefix = len(site) + 1
    return [{"id": item["key"][prefix:], **item["value"]} async for item in items]


async def promote(store: ForgeStorage, site: str, deployment_id: str) -> dict[str, Any]:
    """Make the deployment the site's release, in one transaction that checks the record
    still says it succeeded, at the version read: a concurrent change makes it fail."""
    key = record_key(site, deployment_id)
    record = await store.entity_get(ENTITY, key)
    release = {
        "deployment": deployment_id,
        "service": record["service"],
        "version": record["version"],
    }
    still_good = {
        "and": [
            {"property": "succeeded", "condition": "EQUAL_TO", "values": [True]},
            {"property": "version", "condition": "EQUAL_TO", "values": [record["version"]]},
        ]
    }
    try:
        await store.transaction(
            sets=[{"key": f"release:{site}", "value": release}],
            checks=[{"key": key, "entityName": ENTITY, "conditions": still_good}],
        )
    except ConditionFailed:
        raise NotPromotable(
            f"deployment {deployment_id} has not succeeded, or changed while promoting"
        ) from None
    return release
