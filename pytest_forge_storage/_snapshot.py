"""Snapshots: the ``data`` shape (``kvs``, ``secrets``, ``entities``) plus ``metadata``.

``metadata`` keeps ``createdAt``/``updatedAt`` (epoch ms) and ``expireTime`` (ISO-8601)
so that a restore is exact; data without it (the marker's ``data=``) gets fresh times.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ._clock import iso_ms, now_ms
from ._errors import ForgeStorageError
from .engine import Engine
from .engine._entities import EntityStore
from .engine._items import Item, Stamp, Stamps, stamped
from .engine._plain import copy_of
from .engine._validation import stored_value, validate_entity_name, validate_key
from .engine._values import stored_entity_value

SECTIONS = ("kvs", "secrets", "entities", "metadata")


def snapshot(engine: Engine) -> dict[str, Any]:
    data: dict[str, Any] = {"kvs": {}, "secrets": {}, "entities": {}}
    meta: dict[str, Any] = {"kvs": {}, "secrets": {}, "entities": {}}
    for section, store in (("kvs", engine.kvs), ("secrets", engine.secrets)):
        for key, item in store.items():
            data[section][key] = copy_of(item.value)
            meta[section][key] = _meta(item)
    for name in engine.entity_names():
        records = dict(engine.entity_items(name))
        if records:
            data["entities"][name] = {k: copy_of(i.value) for k, i in records.items()}
            meta["entities"][name] = {k: _meta(i) for k, i in records.items()}
    data["metadata"] = meta
    return data


def restore(engine: Engine, data: Mapping[str, Any], *, replace: bool = True) -> None:
    """Load ``data``; with ``replace`` the stores are emptied first. All or nothing: every
    item is checked before anything changes, so on an error the stores are as they were,
    with or without ``replace``."""
    if not isinstance(data, Mapping):
        raise TypeError(f"data must be a dict like {{'kvs': {{'key': 'value'}}}}, not {data!r}")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ValueError(
            f"Unknown data section {unknown[0]!r}; use 'kvs', 'secrets' and 'entities', e.g. "
            "{'kvs': {'key': 1}, 'entities': {'employee': {'e1': {'age': 30}}}}"
        )
    staged = _stage(engine, data, replace)
    if replace:
        engine.reset()
    for secret, items in staged.namespaces:
        engine.namespace(secret).load(items)
    for store, records in staged.entities:
        store.load(records)


class _Staged:
    """Checked items, ready to go in: ``(secret, items)`` and ``(store, records)``."""

    def __init__(self) -> None:
        self.namespaces: list[tuple[bool, dict[str, Item]]] = []
        self.entities: list[tuple[EntityStore, dict[str, Item]]] = []


def _stage(engine: Engine, data: Mapping[str, Any], replace: bool) -> _Staged:
    """Every item of ``data`` checked and built, in the order a one-by-one load would meet
    them (so the first error is the same); nothing is stored yet.

    An item gets the metadata of ``data["metadata"]`` where it has some, else the time of
    the load (``createdAt`` of the item it replaces, when adding to a store).
    """
    staged = _Staged()
    now = now_ms()
    meta = data.get("metadata") or {}
    for section, secret in (("kvs", False), ("secrets", True)):
        values = _section(data, section)
        times = meta.get(section) or {}
        store = engine.namespace(secret)
        max_bytes, stamps = store.max_bytes, store.stamps
        fresh = stamps(now, now, None)
        items: dict[str, Item] = {}
        for key, value in values.items():
            try:
                stored = stored_value(value, max_bytes=max_bytes)
            except ForgeStorageError as exc:
                raise _naming(exc, f"{section}[{key!r}]") from None
            previous = None if replace else store.live(key, now)
            if key in times:
                created = previous.created_ms if previous is not None else now
                stamp = _stamp(times[key], created or now, now, f"{section}[{key!r}]", stamps)
            elif previous is not None:
                stamp = stamps(previous.created_ms, now, None)
            else:
                stamp = fresh
            items[key] = stamped(stored, stamp)
        staged.namespaces.append((secret, items))
    entities = _section(data, "entities")
    entity_meta = meta.get("entities") or {}
    for name, records in entities.items():
        validate_entity_name(name)
        if not isinstance(records, Mapping):
            raise TypeError(f"entities[{name!r}] must be a dict of key -> record")
        times = entity_meta.get(name) or {}
        records_in: dict[str, Item] = {}
        entity: EntityStore | None = None
        for key, value in records.items():
            validate_key(key, entity=True)
            if entity is None:
                entity = engine.entity_store(name)
                decl, stamps = entity.decl, entity.stamps
                fresh = stamps(now, now, None)
            try:
                stored = stored_entity_value(decl, value)
            except ForgeStorageError as exc:
                raise _naming(exc, f"entities[{name!r}][{key!r}]") from None
            if key in times:  # the record's own times; a missing createdAt is now
                where = f"entities[{name!r}][{key!r}]"
                stamp = _stamp(times[key], now, None, where, stamps)
            else:
                previous = None if replace else entity.live(key, now)
                stamp = fresh if previous is None else stamps(previous.created_ms, now, None)
            records_in[key] = stamped(stored, stamp)
        if entity is not None:
            staged.entities.append((entity, records_in))
    return staged


def _naming(exc: ForgeStorageError, where: str) -> ForgeStorageError:
    """``exc``, its message naming the item it is about."""
    return ForgeStorageError(exc.code, f"{where}: {exc.message}", exc.status)


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    values = data.get(name) or {}
    if not isinstance(values, Mapping):
        raise TypeError(f"data[{name!r}] must be a dict, not {type(values).__name__}")
    for key in values:
        if name != "entities":
            validate_key(key)
    return values


def _stamp(
    times: Mapping[str, Any], created: int, updated: int | None, where: str, stamps: Stamps
) -> Stamp:
    """The times of a ``metadata`` entry; a missing ``createdAt`` is ``created``, a missing
    ``updatedAt`` is ``updated`` (``None``: the ``createdAt``)."""
    try:
        created = int(times.get("createdAt", created))
        updated = int(times.get("updatedAt", created if updated is None else updated))
        expire = times.get("expireTime")
        expire_ms = _parse_iso(expire) if expire is not None else None
    except (TypeError, ValueError) as exc:
        raise ForgeStorageError("BAD_REQUEST", f"metadata of {where} is invalid: {exc}") from None
    return stamps(created, updated, expire_ms)


def _meta(item: Item) -> dict[str, Any]:
    out: dict[str, Any] = {"createdAt": item.created_ms, "updatedAt": item.updated_ms}
    if item.expire_ms is not None:
        out["expireTime"] = iso_ms(item.expire_ms)
    return out


def _parse_iso(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return round(moment.timestamp() * 1000)
