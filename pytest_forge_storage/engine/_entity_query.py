"""``entity/query``: the REST body of ref §3.4, checked and run against an index (§6.2).

The page is ``limit`` consecutive live entries of the index range; filters then drop
entries from it, so a page may be empty while a cursor is returned (decision 9). The
cursor is present exactly when a further live entry exists in the range.
"""

from __future__ import annotations

from typing import Any

from pytest_forge_storage import _limits
from pytest_forge_storage._clock import now_ms
from pytest_forge_storage._errors import ForgeStorageError

from . import _cursor
from ._conditions import KEY_KIND, RANGE_CONDITIONS, comparable, parse_condition, parse_filters
from ._entities import EntityRegistry
from ._index import Position
from ._options import get_fields, query_limit
from ._schema import EntityDecl, IndexDecl

SORT_ORDERS = ("ASC", "DESC")


def run_query(registry: EntityRegistry, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ForgeStorageError("BAD_REQUEST", "Invalid request body: expected an object")
    store = registry.store(body.get("entityName"))
    decl = store.decl
    index = _index(decl, body.get("indexName"))
    partition = _partition(decl, index, body.get("partition"))
    raw_range = body.get("range")
    condition = None
    if raw_range is not None:
        condition = parse_condition(
            raw_range,
            prop=index.range,
            kind=_kind(decl, index.range),
            allowed=RANGE_CONDITIONS,
            where="range",
        )
    filters = parse_filters(
        body.get("filters"),
        decl.attributes,
        where="filters",
        max_conditions=_limits.CONDITIONS_MAX - (1 if condition is not None else 0),
    )
    sort = body.get("sort")
    if sort is None:
        sort = "ASC"
    if sort not in SORT_ORDERS:
        raise ForgeStorageError("BAD_REQUEST", f"sort must be ASC or DESC, got {sort!r}")
    limit = query_limit(body.get("limit"), "COMPLEX_QUERY_PAGE_LIMIT_NOT_IN_RANGE")
    cursor = body.get("cursor")
    after = _position(decl, index, cursor) if cursor is not None else None
    fields = get_fields(body.get("options"))

    descending, now = sort == "DESC", now_ms()
    data: list[dict[str, Any]]
    if fields:
        page, resume = store.page(
            index.name, partition, condition,
            after=after, descending=descending, limit=limit, now=now,
        )  # fmt: skip
        data = [
            item.render(key, fields)
            for key, item in page
            if filters is None or filters.test(item.value)
        ]
    else:  # the same entries; rendered without metadata, they need no stamps
        values, resume = store.page_values(
            index.name, partition, condition,
            after=after, descending=descending, limit=limit, now=now,
        )  # fmt: skip
        data = [
            {"key": key, "value": value}
            for key, value in values
            if filters is None or filters.test(value)
        ]
    out: dict[str, Any] = {"data": data}
    if resume is not None:
        out["cursor"] = _cursor.encode(list(resume))
    return out


def _index(decl: EntityDecl, name: Any) -> IndexDecl:
    if name is None:
        raise ForgeStorageError("BAD_REQUEST", "Invalid request body: indexName is required")
    if not isinstance(name, str):
        raise ForgeStorageError("BAD_REQUEST", "indexName must be a string")
    index = decl.index(name)
    if index is None:
        declared = ", ".join(found.name for found in decl.all_indexes())
        raise ForgeStorageError(
            "INVALID_ENTITY_INDEX",
            f'Index "{name}" is not declared for entity "{decl.name}" (declared: {declared})',
        )
    return index


def _kind(decl: EntityDecl, attr: str | None) -> str:
    return KEY_KIND if attr is None else decl.attributes[attr]


def _partition(decl: EntityDecl, index: IndexDecl, raw: Any) -> tuple[Any, ...]:
    """One value per partition attribute, in declared order (ref §6.2)."""
    wanted = index.partition
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ForgeStorageError("BAD_REQUEST", "partition must be an array")
    if len(raw) != len(wanted):
        if not wanted:
            raise ForgeStorageError(
                "BAD_REQUEST", f'Index "{index.name}" has no partition; omit partition'
            )
        raise ForgeStorageError(
            "BAD_REQUEST",
            f'Index "{index.name}" is partitioned by [{", ".join(wanted)}]: partition needs '
            f"{len(wanted)} value(s) in that order, got {len(raw)}",
        )
    for attr, value in zip(wanted, raw, strict=True):
        kind = decl.attributes[attr]
        if not comparable(kind, value):
            raise ForgeStorageError(
                "BAD_REQUEST",
                f'partition value {value!r} does not match attribute "{attr}" ({kind})',
            )
    return tuple(raw)


def _position(decl: EntityDecl, index: IndexDecl, cursor: Any) -> Position:
    """The index entry a cursor points at; 400 ``BAD_REQUEST`` unless it is one of ours
    for an index of this shape. A cursor from other parameters resumes after its position."""
    position = _cursor.decode(cursor)
    kinds = [decl.attributes[attr] for attr in index.partition]
    kinds += [_kind(decl, index.range), KEY_KIND]
    if not (
        isinstance(position, list)
        and len(position) == len(kinds)
        and all(comparable(kind, value) for kind, value in zip(kinds, position, strict=True))
    ):
        raise _cursor.invalid(cursor, f' for index "{index.name}"')
    return tuple(position)
