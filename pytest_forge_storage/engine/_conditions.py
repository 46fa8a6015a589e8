"""Range and filter conditions of entity queries and transactions (ref §3.4, §6.2, §10).

Parsing checks every condition against the declared type of its property and raises
Forge's codes; evaluation is then plain Python comparison on well-typed values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_forge_storage._errors import ForgeStorageError

RANGE_CONDITIONS = (
    "BEGINS_WITH",
    "BETWEEN",
    "EQUAL_TO",
    "GREATER_THAN",
    "GREATER_THAN_EQUAL_TO",
    "LESS_THAN",
    "LESS_THAN_EQUAL_TO",
)
FILTER_CONDITIONS = (
    *RANGE_CONDITIONS,
    "NOT_EQUAL_TO",
    "EXISTS",
    "NOT_EXISTS",
    "CONTAINS",
    "NOT_CONTAINS",
)
#: Kind of the key in a ``by-key`` range: any string compares.
KEY_KIND = "key"

_TEXT = frozenset({"string", KEY_KIND})
_ORDERED = frozenset({"string", "integer", "float", KEY_KIND})
#: Attribute kinds each condition applies to (ref §6.2).
_KINDS: dict[str, frozenset[str]] = {
    "BEGINS_WITH": _TEXT,
    "CONTAINS": _TEXT,
    "NOT_CONTAINS": _TEXT,
    "BETWEEN": _ORDERED,
    "GREATER_THAN": _ORDERED,
    "GREATER_THAN_EQUAL_TO": _ORDERED,
    "LESS_THAN": _ORDERED,
    "LESS_THAN_EQUAL_TO": _ORDERED,
    "EQUAL_TO": _ORDERED | {"boolean"},
    "NOT_EQUAL_TO": _ORDERED | {"boolean"},
    "EXISTS": _ORDERED | {"boolean"},
    "NOT_EXISTS": _ORDERED | {"boolean"},
}
_PRESENCE = frozenset({"EXISTS", "NOT_EXISTS"})
_ABSENT = object()


def comparable(kind: str, value: Any) -> bool:
    """Whether ``value`` may be compared with values of an attribute of type ``kind``."""
    if kind in _TEXT:
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return not isinstance(value, float) or math.isfinite(value)


@dataclass(frozen=True)
class Condition:
    """``property`` ``condition`` ``values``; ``property`` is ``None`` for the key."""

    property: str | None
    condition: str
    values: tuple[Any, ...]

    def test(self, record: Mapping[str, Any] | None) -> bool:
        """Evaluate on a stored value; a missing record or attribute fails every
        condition but ``NOT_EXISTS`` (decision 11)."""
        found = _ABSENT if record is None else record.get(self.property or "", _ABSENT)
        if self.condition == "NOT_EXISTS":
            return found is _ABSENT
        if found is _ABSENT:
            return False
        return self.match(found)

    def match(self, found: Any) -> bool:
        values, condition = self.values, self.condition
        if condition == "EXISTS":
            return True
        if condition == "EQUAL_TO":
            return bool(found == values[0])
        if condition == "NOT_EQUAL_TO":
            return bool(found != values[0])
        if condition == "GREATER_THAN":
            return bool(found > values[0])
        if condition == "GREATER_THAN_EQUAL_TO":
            return bool(found >= values[0])
        if condition == "LESS_THAN":
            return bool(found < values[0])
        if condition == "LESS_THAN_EQUAL_TO":
            return bool(found <= values[0])
        if condition == "BETWEEN":
            return bool(values[0] <= found <= values[1])
        if condition == "BEGINS_WITH":
            return bool(found.startswith(values[0]))
        if condition == "CONTAINS":
            return values[0] in found
        return values[0] not in found  # NOT_CONTAINS


@dataclass(frozen=True)
class Filter:
    """Conditions joined by ``and`` (all) or ``or`` (any)."""

    conditions: tuple[Condition, ...]
    any_of: bool = False

    def test(self, record: Mapping[str, Any] | None) -> bool:
        results = (condition.test(record) for condition in self.conditions)
        return any(results) if self.any_of else all(results)


def parse_condition(
    raw: Any, *, prop: str | None, kind: str, allowed: tuple[str, ...], where: str
) -> Condition:
    """One ``{"condition", "values"}`` on a property of type ``kind``."""
    if not isinstance(raw, dict):
        raise ForgeStorageError("BAD_REQUEST", f"{where} must be an object")
    condition = raw.get("condition")
    if condition not in allowed:
        raise ForgeStorageError(
            "BAD_REQUEST",
            f"{where}: condition {condition!r} is not supported; use one of " + ", ".join(allowed),
        )
    subject = "the key" if prop is None else f'attribute "{prop}" ({kind})'
    if kind not in _KINDS[condition]:
        raise ForgeStorageError("BAD_REQUEST", f"{where}: {condition} cannot be used on {subject}")
    values = raw.get("values")
    if values is None and condition in _PRESENCE:
        values = []
    if not isinstance(values, list):
        raise ForgeStorageError("BAD_REQUEST", f"{where}: values must be an array")
    if condition in _PRESENCE:
        return Condition(prop, condition, ())
    needed = 2 if condition == "BETWEEN" else 1
    if len(values) < needed:
        raise ForgeStorageError(
            "INSUFFICIENT_FILTER_VALUES",
            f"{where}: {condition} needs {needed} value{'s' if needed > 1 else ''}, "
            f"got {len(values)}",
        )
    if len(values) > needed:
        raise ForgeStorageError(
            "BAD_REQUEST", f"{where}: {condition} takes {needed} value(s), got {len(values)}"
        )
    for value in values:
        if not comparable(kind, value):
            raise ForgeStorageError(
                "BAD_REQUEST",
                f"{where}: {condition} value {value!r} cannot be compared with {subject}",
            )
    return Condition(prop, condition, tuple(values))


def parse_filters(
    raw: Any, attributes: Mapping[str, str], *, where: str, max_conditions: int
) -> Filter | None:
    """``{"and": [...]}`` or ``{"or": [...]}`` (ref §6.2); ``None`` when there are none."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ForgeStorageError("BAD_REQUEST", f"{where} must be an object")
    unknown = sorted(str(name) for name in set(raw) - {"and", "or"})
    if unknown:
        raise ForgeStorageError(
            "BAD_REQUEST", f"{where}: unknown operator {unknown[0]!r}; use and or or"
        )
    present = [name for name in ("and", "or") if raw.get(name) is not None]
    if len(present) == 2:
        raise ForgeStorageError(
            "INVALID_FILTER_OPERATORS_COMBINATION",
            f"{where}: and and or cannot be combined at the same level",
        )
    if not present:
        return None
    operator = present[0]
    items = raw[operator]
    if not isinstance(items, list):
        raise ForgeStorageError("BAD_REQUEST", f"{where}.{operator} must be an array")
    if not items:
        raise ForgeStorageError(
            "EMPTY_FILTER_OPERATOR", f"{where}.{operator} must have at least one condition"
        )
    if len(items) > max_conditions:
        raise ForgeStorageError(
            "BAD_REQUEST",
            f"{where}.{operator} has {len(items)} conditions, but at most {max_conditions} "
            "are allowed",
        )
    conditions = []
    for position, item in enumerate(items):
        label = f"{where}.{operator}[{position}]"
        prop = item.get("property") if isinstance(item, dict) else None
        if not isinstance(prop, str):
            raise ForgeStorageError("BAD_REQUEST", f"{label}: property must be a string")
        kind = attributes.get(prop)
        if kind is None:
            raise ForgeStorageError("BAD_REQUEST", f'{label}: "{prop}" is not a declared attribute')
        if kind == "any":
            raise ForgeStorageError(
                "UNPROCESSABLE_ENTITY",
                f'{label}: attribute "{prop}" is of type any and cannot be used in conditions',
            )
        conditions.append(
            parse_condition(item, prop=prop, kind=kind, allowed=FILTER_CONDITIONS, where=label)
        )
    return Filter(tuple(conditions), any_of=operator == "or")
