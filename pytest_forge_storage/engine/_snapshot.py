"""Snapshots: the ``data`` shape (``kvs``, ``secrets``, ``entities``) plus ``metadata``.

``metadata`` keeps ``createdAt``/``updatedAt`` (epoch ms) and ``expireTime`` (ISO-8601)
so that a restore is exact; data without it (the marker's ``data=``) gets fresh times.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pytest_forge_storage._clock import iso_ms, now_ms
from pytest_forge_storage._errors import ForgeStorageError

from ._items import Item
from ._validation import validate_entity_name, validate_key

if TYPE_CHECKING:
    from ._engine import Engine

SECTIONS = ("kvs", "secrets", "entities", "metadata")


def snapshot(engine: Engine) -> dict[str, Any]:
    data: dict[str, Any] = {"kvs": {}, "secrets": {}, "entities": {}}
    meta: dict[str, Any] = {"kvs": {}, "secrets": {}, "entities": {}}
    for section, store in (("kvs", engine.kvs), ("secrets", engine.secrets)):
        for key, item in store.items():
            data[section][key] = copy.deepcopy(item.value)
            meta[section][key] = _meta(item)
    for name in engine.entity_names():
        records = dict(engine.entity_items(name))
        if records:
            data["entities"][name] = {k: copy.deepcopy(i.value) for k, i in records.items()}
            meta["entities"][name] = {k: _meta(i) for k, i in records.items()}
    data["metadata"] = meta
    return data


def restore(engine: Engine, data: Mapping[str, Any], *, replace: bool = True) -> None:
    """Load ``data``; with ``replace`` the stores are emptied first. All or nothing: on an
    error the stores are put back as they were, with or without ``replace``."""
    if not isinstance(data, Mapping):
        raise TypeError(f"data must be a dict like {{'kvs': {{'key': 'value'}}}}, not {data!r}")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ValueError(
            f"Unknown data section {unknown[0]!r}; use 'kvs', 'secrets' and 'entities', e.g. "
            "{'kvs': {'key': 1}, 'entities': {'employee': {'e1': {'age': 30}}}}"
        )
    before = snapshot(engine)
    if replace:
        engine.reset()
    try:
        _load(engine, data)
    except BaseException:
        engine.reset()
        _load(engine, before)
        raise


def _load(engine: Engine, data: Mapping[str, Any]) -> None:
    meta = data.get("metadata") or {}
    for section, secret in (("kvs", False), ("secrets", True)):
        values = _section(data, section)
        times = meta.get(section) or {}
        store = engine.namespace(secret)
        for key, value in values.items():
            store.put(key, copy.deepcopy(value))
            if key in times:
                store.restore_item(key, _item(store.live(key), times[key], f"{section}[{key!r}]"))
    entities = _section(data, "entities")
    entity_meta = meta.get("entities") or {}
    for name, records in entities.items():
        validate_entity_name(name)
        if not isinstance(records, Mapping):
            raise TypeError(f"entities[{name!r}] must be a dict of key -> record")
        times = entity_meta.get(name) or {}
        for key, value in records.items():
            engine.entity_put(name, key, copy.deepcopy(value))
            if key in times:
                current = engine.entity_get(name, key, options={"metadataFields": []})
                restored = Item(current["value"], 0, 0, None)
                engine.entity_restore_item(
                    name, key, _item(restored, times[key], f"entities[{name!r}][{key!r}]")
                )


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    values = data.get(name) or {}
    if not isinstance(values, Mapping):
        raise TypeError(f"data[{name!r}] must be a dict, not {type(values).__name__}")
    for key in values:
        if name != "entities":
            validate_key(key)
    return values


def _item(item: Item | None, times: Mapping[str, Any], where: str) -> Item:
    assert item is not None
    try:
        created = int(times.get("createdAt", item.created_ms or now_ms()))
        updated = int(times.get("updatedAt", item.updated_ms or created))
        expire = times.get("expireTime")
        expire_ms = _parse_iso(expire) if expire is not None else None
    except (TypeError, ValueError) as exc:
        raise ForgeStorageError("BAD_REQUEST", f"metadata of {where} is invalid: {exc}") from None
    return Item(item.value, created, updated, expire_ms)


def _meta(item: Item) -> dict[str, Any]:
    out: dict[str, Any] = {"createdAt": item.created_ms, "updatedAt": item.updated_ms}
    if item.expire_ms is not None:
        out["expireTime"] = iso_ms(item.expire_ms)
    return out


def _parse_iso(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return round(moment.timestamp() * 1000)


def check_installations(data: Any) -> dict[str, Mapping[str, Any]]:
    """The ``installations`` section of ``data``: installation key → that installation's data.

    Each value has the sections of the top level (``kvs``, ``secrets``, ``entities``,
    ``metadata``); the default installation's data is the top level itself.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"data must be a dict like {{'kvs': {{'key': 'value'}}}}, not {data!r}")
    parts = data.get("installations")
    if parts is None:
        return {}
    if not isinstance(parts, Mapping):
        raise TypeError(
            "data['installations'] must map installation keys to their data, e.g. "
            "{'installations': {'site-b': {'kvs': {'key': 1}}}}"
        )
    for key, section in parts.items():
        if not isinstance(key, str) or not key or key == "default":
            raise ValueError(
                f"installation key {key!r} in data['installations'] must be a non-empty string "
                "other than 'default' (the default installation's data is the top level)"
            )
        if not isinstance(section, Mapping):
            raise TypeError(
                f"data['installations'][{key!r}] must be a dict of sections, e.g. "
                "{'kvs': {'key': 1}}"
            )
        unknown = sorted(set(section) - set(SECTIONS))
        if unknown:
            raise ValueError(
                f"Unknown section {unknown[0]!r} in data['installations'][{key!r}]; use "
                "'kvs', 'secrets', 'entities' (and 'metadata' as snapshots write it)"
            )
    return dict(parts)
