"""Snapshots: the ``data`` shape (``kvs``, ``secrets``, ``entities``) plus ``metadata``.

``metadata`` keeps ``createdAt``/``updatedAt`` (epoch ms) and ``expireTime`` (ISO-8601)
so that a restore is exact; data without it (the marker's ``data=``) gets fresh times.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pytest_forge_storage._clock import iso_ms, now_ms
from pytest_forge_storage._errors import ForgeStorageError

from ._items import Item, Stamp, Stamps, stamped
from ._plain import copy_of
from ._validation import stored_value, validate_entity_name, validate_key
from ._values import stored_entity_value

if TYPE_CHECKING:
    from ._engine import Engine
    from ._entities import EntityStore

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


class DataShapeError(ForgeStorageError, TypeError, ValueError):
    """Data for :func:`restore` that is not in the ``data`` shape: ``BAD_REQUEST``, naming the
    path in the data. Also a ``TypeError``/``ValueError``, what 0.1.0 raised for these, so
    code catching those keeps working."""

    def __init__(self, message: str) -> None:
        super().__init__("BAD_REQUEST", message)


def restore(
    engine: Engine,
    data: Mapping[str, Any],
    *,
    replace: bool = True,
    checked: bool = False,
    owned: bool = False,
) -> None:
    """Load ``data``; with ``replace`` the stores are emptied first. All or nothing: the whole
    shape is checked (:func:`validate`), then every item is checked and built, and only then
    does anything change, in one sorted build per store (a bulk load: 100k items cost a few
    times ``json.loads`` of the same file). ``checked``: the caller has run :func:`validate`
    (through :func:`check_installations`), so it is not run twice; ``owned``: the values are
    the engine's to keep (checked, not copied)."""
    if not checked:
        validate(data)
    staged = _stage(engine, data, replace, owned)
    if replace:
        engine.reset()
    for secret, items in staged.namespaces:
        engine.namespace(secret).load(items)
    for store, records in staged.entities:
        store.load(records)


def validate(data: Any) -> None:
    """Raise :class:`DataShapeError` for anything not in the ``data`` shape (values aside:
    the engine checks those as it stores them)."""
    if not isinstance(data, Mapping):
        raise DataShapeError(
            f"data must be a dict like {{'kvs': {{'key': 'value'}}}}, not {_kind(data)}"
        )
    unknown = sorted((str(name) for name in data if name not in SECTIONS), key=str)
    if unknown:
        raise DataShapeError(
            f"Unknown data section {unknown[0][:100]!r}; use 'kvs', 'secrets' and 'entities', "
            "e.g. {'kvs': {'key': 1}, 'entities': {'employee': {'e1': {'age': 30}}}}"
        )
    present: dict[str, Any] = {}
    for section in ("kvs", "secrets"):
        values = _mapping(data, section, f"data[{section!r}]")
        try:
            for key in values:
                validate_key(key)
        except ForgeStorageError as exc:
            raise _placed(exc, f"data[{section!r}]") from None
        present[section] = values
    entities = _mapping(data, "entities", "data['entities']")
    for name, records in entities.items():
        where = f"data['entities'][{str(name)[:100]!r}]"
        _valid(validate_entity_name, name, "data['entities']")
        if not isinstance(records, Mapping):
            raise DataShapeError(f"{where} must be a dict of key -> record, not {_kind(records)}")
        for key, record in records.items():
            try:
                validate_key(key, entity=True)
            except ForgeStorageError as exc:
                raise _placed(exc, where) from None
            if not isinstance(record, Mapping):
                raise DataShapeError(
                    f"{where}[{key!r}] must be a dict of attributes, not {_kind(record)}"
                )
    meta = _mapping(data, "metadata", "data['metadata']")
    for section in meta:
        if section not in ("kvs", "secrets", "entities"):
            raise DataShapeError(
                f"Unknown metadata section {str(section)[:100]!r}; use 'kvs', 'secrets' and "
                "'entities'"
            )
    for section in ("kvs", "secrets"):
        _check_times(_mapping(meta, section, f"metadata[{section!r}]"), present[section],
                     f"metadata[{section!r}]", f"data[{section!r}]")  # fmt: skip
    entity_meta = _mapping(meta, "entities", "metadata['entities']")
    for name, times in entity_meta.items():
        where = f"metadata['entities'][{str(name)[:100]!r}]"
        if name not in entities:
            raise DataShapeError(f"{where} describes no entity in data['entities']")
        if not isinstance(times, Mapping):
            raise DataShapeError(f"{where} must be a dict of key -> metadata, not {_kind(times)}")
        _check_times(times, entities[name], where, f"data['entities'][{name!r}]")


_TIME_FIELDS = ("createdAt", "updatedAt", "expireTime")


def _check_times(
    meta: Mapping[str, Any], items: Mapping[str, Any], where: str, data_where: str
) -> None:
    for key, times in meta.items():
        # The place is spelt out only for an error: this loop meets every item of a dump.
        if key not in items:
            raise DataShapeError(f"{_item_at(where, key)} describes no item in {data_where}")
        if not isinstance(times, Mapping):
            raise DataShapeError(
                f"{_item_at(where, key)} must be a dict like {{'createdAt': 1780272000000}}, "
                f"not {_kind(times)}"
            )
        for field, value in times.items():
            if field == "expireTime":
                if value is not None:
                    _check_iso(value, f"{_item_at(where, key)}['expireTime']")
            elif field not in _TIME_FIELDS:
                raise DataShapeError(
                    f"{_item_at(where, key)}: unknown field {str(field)[:100]!r}; use "
                    f"{', '.join(_TIME_FIELDS)}"
                )
            elif value.__class__ is not int or value < 0:  # bool is not int here
                raise DataShapeError(
                    f"{_item_at(where, key)}[{field!r}] must be epoch milliseconds (an integer "
                    f">= 0), not {_kind(value)}"
                )


def _item_at(where: str, key: Any) -> str:
    return f"{where}[{str(key)[:100]!r}]"


def _check_iso(value: Any, where: str) -> None:
    try:
        if not isinstance(value, str):
            raise TypeError
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError
        moment.timestamp()
    except (TypeError, ValueError, OverflowError, OSError):
        raise DataShapeError(
            f"{where} must be an ISO-8601 time with a zone, e.g. '2026-06-01T00:00:00.000Z', "
            f"not {_kind(value)}"
        ) from None


def _mapping(data: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    values = data.get(name)
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise DataShapeError(f"{where} must be a dict, not {_kind(values)}")
    return values


def _valid(check: Any, value: Any, where: str) -> None:
    with _at(where):
        check(value)


def _kind(value: Any) -> str:
    shown = repr(value)
    return type(value).__name__ + (f" {shown}" if len(shown) <= 60 else f" {shown[:57]}...")


class _Staged:
    """Checked items, ready to go in: ``(secret, items)`` and ``(store, records)``."""

    def __init__(self) -> None:
        self.namespaces: list[tuple[bool, dict[str, Item]]] = []
        self.entities: list[tuple[EntityStore, dict[str, Item]]] = []


def _stage(engine: Engine, data: Mapping[str, Any], replace: bool, owned: bool) -> _Staged:
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
                stored = stored_value(value, max_bytes=max_bytes, trusted=owned)
            except ForgeStorageError as exc:
                raise _placed(exc, f"data[{section!r}][{key!r}]") from None
            previous = None if replace else store.live(key, now)
            if key in times:
                created = previous.created_ms if previous is not None else now
                stamp = _stamp(times[key], created or now, now, stamps, (section, key))
            elif previous is not None:
                stamp = stamps(previous.created_ms, now, None)
            else:
                stamp = fresh
            items[key] = stamped(stored, stamp)
        staged.namespaces.append((secret, items))
    entities = _section(data, "entities")
    entity_meta = meta.get("entities") or {}
    for name, records in entities.items():
        times = entity_meta.get(name) or {}
        records_in: dict[str, Item] = {}
        entity: EntityStore | None = None
        for key, value in records.items():
            if entity is None:
                with _at(f"data['entities'][{name!r}][{key!r}]"):
                    entity = engine.entity_store(name)
                decl, stamps = entity.decl, entity.stamps
                fresh = stamps(now, now, None)
            try:
                stored = stored_entity_value(decl, value, trusted=owned)
            except ForgeStorageError as exc:
                raise _placed(exc, f"data['entities'][{name!r}][{key!r}]") from None
            if key in times:  # the record's own times; a missing createdAt is now
                stamp = _stamp(times[key], now, None, stamps, ("entities", name, key))
            else:
                previous = None if replace else entity.live(key, now)
                stamp = fresh if previous is None else stamps(previous.created_ms, now, None)
            records_in[key] = stamped(stored, stamp)
        if entity is not None:
            staged.entities.append((entity, records_in))
    return staged


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A section :func:`validate` has checked (absent: empty)."""
    values: Mapping[str, Any] = data.get(name) or {}
    return values


@contextlib.contextmanager
def _at(where: str) -> Iterator[None]:
    """Name the place in the data in an error the engine raises for it."""
    try:
        yield
    except ForgeStorageError as exc:
        raise _placed(exc, where) from None


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a bulk build, as it was before afterwards.

    A load of 100k items allocates a few hundred thousand objects, each allocation counting
    towards the next collection; the collections then walk every object of the process
    again and again (a quarter of a load's time when the test session holds other large
    stores). Nothing a load makes forms a reference cycle, so nothing is left for later.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _placed(exc: ForgeStorageError, where: str) -> ForgeStorageError:
    """``exc`` with the place in the data it is about in front of its message."""
    return ForgeStorageError(exc.code, f"{where}: {exc.message}", exc.status)


def _stamp(
    times: Mapping[str, Any],
    created: int,
    updated: int | None,
    stamps: Stamps,
    place: tuple[str, ...],
) -> Stamp:
    """The times of a ``metadata`` entry; a missing ``createdAt`` is ``created``, a missing
    ``updatedAt`` is ``updated`` (``None``: the ``createdAt``). ``place`` is the item's path
    in the data (``("kvs", key)``, ``("entities", name, key)``), for an error only."""
    try:
        created = int(times.get("createdAt", created))
        updated = int(times.get("updatedAt", created if updated is None else updated))
        expire = times.get("expireTime")
        expire_ms = _parse_iso(expire) if expire is not None else None
    except (TypeError, ValueError) as exc:
        where = "data" + "".join(f"[{part!r}]" for part in place)
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


def check_installations(data: Any) -> dict[str, Mapping[str, Any]]:
    """The ``installations`` section of ``data``: installation key → that installation's data,
    every part of the file checked first (:class:`DataShapeError` naming the place).

    Each value has the sections of the top level (``kvs``, ``secrets``, ``entities``,
    ``metadata``); the default installation's data is the top level itself.
    """
    if not isinstance(data, Mapping):
        validate(data)  # raises, saying what the data should be
    validate({name: value for name, value in data.items() if name != "installations"})
    parts = data.get("installations")
    if parts is None:
        return {}
    if not isinstance(parts, Mapping):
        raise DataShapeError(
            "data['installations'] must map installation keys to their data, e.g. "
            f"{{'installations': {{'site-b': {{'kvs': {{'key': 1}}}}}}}}, not {_kind(parts)}"
        )
    for key, section in parts.items():
        if not isinstance(key, str) or not key or key == "default":
            raise DataShapeError(
                f"installation key {key!r} in data['installations'] must be a non-empty string "
                "other than 'default' (the default installation's data is the top level)"
            )
        try:
            validate(section)
        except ForgeStorageError as exc:
            message = exc.message.replace("data[", f"data['installations'][{key!r}][", 1)
            if not message.startswith("data['installations']"):
                message = f"data['installations'][{key!r}]: {message}"
            if isinstance(exc, DataShapeError):
                raise DataShapeError(message) from None
            raise ForgeStorageError(exc.code, message, exc.status) from None
    return dict(parts)
