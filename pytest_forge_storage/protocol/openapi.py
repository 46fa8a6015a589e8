"""The bundled OpenAPI spec, and request bodies validated against it.

``spec/openapi.json`` is Atlassian's published spec extended to the 15 REST paths (see its
``info.description``). Each path operation carries ``x-forge-operation``, the operation name
used everywhere else (``get``, ``secret/set``, ``batch/get``, ...).

:func:`validate_request` checks a parsed request body against the operation's request schema
and raises ``ForgeStorageError("BAD_REQUEST", ...)`` naming the offending field. Where Forge
reports a more specific code (key and entity-name codes, query limits, where clauses and
filters; reference §4.2, design §2.4) the schema still documents the constraint, but the
violation is *deferred*: it is not reported here, and the engine answers with the specific
code. ``_DEFERRED_KEYWORDS`` and ``_DEFERRED_FIELDS`` list exactly what is deferred, and
:func:`_deferred` adds two structural cases:

* ``entity/query``: ``filters`` with both ``and`` and ``or`` (the ``oneOf`` of ``FilterSchema``)
  is ``INVALID_FILTER_OPERATORS_COMBINATION``;
* ``transaction``: a ``check`` item that carries ``conditions`` but no ``entityName`` (the
  ``required`` of ``CheckTransactionItemSchema``) is a condition on a Key-Value Store item,
  ``INVALID_TRANSACTION_REQUEST`` (decision 11), like ``conditions`` on a KVS ``set`` or
  ``delete`` item, which the schema does not constrain at all.

The final rule for transactions: the schema answers ``BAD_REQUEST`` for what is malformed as
JSON (an unknown group or field, a wrong type, a missing ``key``/``value``, a ``null`` value, a
check without ``conditions``, an empty ``and``/``or``); the engine answers
``INVALID_TRANSACTION_REQUEST`` for every rule of decision 11 (no operation at all, including
``{}`` and empty groups; more than 25 operations; a (key, entityName) twice; conditions on a
KVS item; over 4 MB), and the item codes (key, entity name, value, TTL) as the single
operations do. The schema has no ``minProperties``/``maxItems`` on the transaction, so none of
decision 11's rules can be pre-empted by it.

Validators are compiled once per process, on first use; ``jsonschema`` is imported only then.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage._operations import OPERATIONS

from ._schema_check import Check, compile_schema

__all__ = ["OPERATIONS", "documented_statuses", "spec", "validate_request"]

SPEC_PATH = Path(__file__).resolve().parent.parent / "spec" / "openapi.json"

# Keywords whose violations are deferred to the engine on the fields below.
_DEFERRED_KEYWORDS = frozenset(
    {"pattern", "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "enum"}
)

Shape = tuple[str, ...]  # an instance path, array indices written as "*"

_KEY: frozenset[Shape] = frozenset({("key",)})
_ENTITY_KEY = _KEY | {("entityName",)}
_BATCH = frozenset({("*", "key"), ("*", "entityName")})
_FILTERS = frozenset(
    {("filters", op) for op in ("and", "or")}
    | {("filters", op, "*", f) for op in ("and", "or") for f in ("condition", "values")}
)

# Per operation, the fields (instance paths) whose deferred-keyword violations the engine
# reports with a specific code (ref §4.2).
_DEFERRED_FIELDS: Mapping[str, frozenset[Shape]] = {
    # KEY_TOO_SHORT / KEY_TOO_LONG / INVALID_KEY
    "get": _KEY,
    "set": _KEY,
    "delete": _KEY,
    "secret/get": _KEY,
    "secret/set": _KEY,
    "secret/delete": _KEY,
    # LIST_QUERY_LIMIT_EXCEEDED, QUERY_WHERE_INVALID, QUERY_WHERE_FIELD_INVALID,
    # INVALID_FILTER_CONDITION, INVALID_FILTER_VALUES
    "query": frozenset(
        {("limit",), ("where",)} | {("where", "*", f) for f in ("property", "condition", "values")}
    ),
    # EMPTY_KEY / KEY_TOO_LONG / INVALID_KEY,
    # ENTITY_TYPE_TOO_SHORT / ENTITY_TYPE_TOO_LARGE / INVALID_ENTITY_TYPE
    "entity/get": _ENTITY_KEY,
    "entity/set": _ENTITY_KEY,
    "entity/delete": _ENTITY_KEY,
    # COMPLEX_QUERY_PAGE_LIMIT_NOT_IN_RANGE, EMPTY_FILTER_OPERATOR, INSUFFICIENT_FILTER_VALUES,
    # INVALID_FILTER_CONDITION (and INVALID_FILTER_OPERATORS_COMBINATION, see _deferred)
    "entity/query": frozenset({("entityName",), ("limit",), ("range", "values")} | _FILTERS),
    # per-item codes in failedKeys
    "batch/set": _BATCH,
    "batch/get": _BATCH,
    "batch/delete": _BATCH,
    "transaction": frozenset(
        (group, "*", f) for group in ("set", "delete", "check") for f in ("key", "entityName")
    ),
}

_REF_PREFIX = "#/components/schemas/"
# Schema Object members that do not validate (OpenAPI annotations): dropped when compiling.
_DOCS = {"description", "example", "title", "format", "default", "deprecated", "externalDocs"}
_ANNOTATIONS = frozenset({*_DOCS, "readOnly", "writeOnly", "xml", "discriminator", "nullable"})
_SCHEMA_MAPS = frozenset({"properties", "patternProperties"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})
_SCHEMA_VALUES = frozenset({"items", "not", "additionalProperties", "additionalItems"})

_TYPE_NAMES = {"integer": "an integer", "array": "an array", "object": "an object", "null": "null"}


@functools.cache
def spec() -> dict[str, Any]:
    """The parsed bundled ``openapi.json`` (parsed once; do not mutate it)."""
    parsed: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return parsed


@functools.cache
def _operations() -> dict[str, dict[str, Any]]:
    """``x-forge-operation`` name → the path's ``post`` Operation Object."""
    found: dict[str, dict[str, Any]] = {}
    for item in spec()["paths"].values():
        post = item["post"]
        found[post["x-forge-operation"]] = post
    return found


def _operation(operation: str) -> dict[str, Any]:
    try:
        return _operations()[operation]
    except KeyError:
        expected = ", ".join(OPERATIONS)
        raise ValueError(
            f"unknown Forge storage operation {operation!r}; expected one of {expected}"
        ) from None


def documented_statuses(operation: str) -> set[int]:
    """The HTTP statuses the spec documents for ``operation``'s responses."""
    return {int(status) for status in _operation(operation)["responses"]}


def _inline(node: Mapping[str, Any], schemas: Mapping[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """``node`` as a plain JSON Schema (Draft 4): ``$ref`` resolved in place, annotations dropped.

    OpenAPI 3.0's ``nullable: true`` becomes ``null`` added to ``type`` (and ``enum``).
    """
    ref = node.get("$ref")
    if ref is not None:
        if not ref.startswith(_REF_PREFIX):
            raise ValueError(f"unsupported $ref {ref!r} in the bundled spec")
        name = ref[len(_REF_PREFIX) :]
        if name in seen:
            raise ValueError(f"recursive schema {name!r} in the bundled spec")
        return _inline(schemas[name], schemas, (*seen, name))
    out: dict[str, Any] = {}
    for keyword, value in node.items():
        if keyword in _ANNOTATIONS or keyword.startswith("x-"):
            continue
        if keyword in _SCHEMA_MAPS:
            value = {name: _inline(sub, schemas, seen) for name, sub in value.items()}
        elif keyword in _SCHEMA_LISTS or (keyword == "items" and isinstance(value, list)):
            value = [_inline(sub, schemas, seen) for sub in value]
        elif keyword in _SCHEMA_VALUES and isinstance(value, dict):
            value = _inline(value, schemas, seen)
        out[keyword] = value
    if node.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def _request_schema(operation: str) -> Any:
    """The operation's request-body schema as a self-contained JSON Schema (Draft 4)."""
    media = _operation(operation)["requestBody"]["content"]["application/json"]
    return _inline(media["schema"], spec()["components"]["schemas"])


@functools.cache
def _validator(operation: str) -> Any:
    from jsonschema import Draft4Validator  # type: ignore[import-untyped]

    return Draft4Validator(_request_schema(operation))


@functools.cache
def _conforms(operation: str) -> Check:
    """A fast check that a body conforms to the whole request schema, deferred rules included."""
    return compile_schema(_request_schema(operation)) or _never


def validate_request(operation: str, body: Any) -> None:
    """Raise ``ForgeStorageError("BAD_REQUEST", ...)`` if ``body`` violates the request schema.

    Violations that Forge reports with a more specific code are left for the engine.
    """
    if _conforms(operation)(body):
        return
    errors = [e for e in _validator(operation).iter_errors(body) if not _deferred(operation, e)]
    if errors:
        raise ForgeStorageError("BAD_REQUEST", "Invalid request body: " + _describe(_pick(errors)))


# -- errors -----------------------------------------------------------------------------------


def _shape(path: Iterable[str | int]) -> Shape:
    return tuple("*" if isinstance(part, int) else part for part in path)


def _deferred(operation: str, error: Any) -> bool:
    keyword = error.validator
    shape = _shape(error.absolute_path)
    if keyword in _DEFERRED_KEYWORDS:
        return shape in _DEFERRED_FIELDS[operation]
    if keyword == "required" and operation == "transaction" and shape == ("check", "*"):
        # a check with conditions and no entityName: conditions on a KVS item (decision 11)
        item = error.instance
        missing = {name for name in error.validator_value if name not in item}
        return missing == {"entityName"} and "conditions" in item
    # {"and": [...], "or": [...]} matches both branches of FilterSchema's oneOf:
    # INVALID_FILTER_OPERATORS_COMBINATION, the engine's to report.
    return (
        keyword == "oneOf"
        and operation == "entity/query"
        and shape == ("filters",)
        and isinstance(error.instance, dict)
        and "and" in error.instance
        and "or" in error.instance
    )


def _pick(errors: list[Any]) -> Any:
    """The error to report: ``best_match`` over the errors in a fixed (path) order."""
    from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

    def order(error: Any) -> tuple[tuple[int, int, str], ...]:
        return tuple(
            (0, part, "") if isinstance(part, int) else (1, 0, part) for part in error.absolute_path
        )

    return best_match(sorted(errors, key=order))


def _field(path: Iterable[str | int]) -> str:
    """A JSON path as users write it: ``options.ttl.unit``, ``[3].value``, ``where[0].values``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _label(path: Iterable[str | int]) -> str:
    field = _field(path)
    return f"{field!r}" if field else "the request body"


def _types(value: Any) -> str:
    given = value if isinstance(value, list) else [value]
    names = [_TYPE_NAMES.get(name, f"a {name}") for name in given]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


_BOUNDS = {
    "minimum": "be at least",
    "maximum": "be at most",
    "minLength": "be at least",
    "maxLength": "be at most",
    "minItems": "have at least",
    "maxItems": "have at most",
}


def _count(keyword: str, bound: int) -> str:
    if keyword.endswith("Length"):
        return f"{bound} character{'s' * (bound != 1)} long"
    if keyword.endswith("Items"):
        return f"{bound} item{'s' * (bound != 1)}"
    return str(bound)


def _describe(error: Any) -> str:
    path = list(error.absolute_path)
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    label = _label(path)
    if keyword == "required":
        missing = next((name for name in expected if name not in instance), expected[0])
        return f"{_label([*path, missing])} is required"
    if keyword == "additionalProperties":
        known = error.schema.get("properties", {})
        extra = sorted(name for name in instance if name not in known)
        fields = ", ".join(_label([*path, name]) for name in extra)
        allowed = ", ".join(known) or "none"
        verb = "is" if len(extra) == 1 else "are"
        return f"{fields} {verb} not allowed (allowed fields: {allowed})"
    if keyword == "type":
        return f"{label} must be {_types(expected)}"
    if keyword == "enum":
        return f"{label} must be one of {', '.join(str(option) for option in expected)}"
    if keyword == "anyOf":
        if instance is None:
            return f"{label} must not be null"
        kinds = [sub["type"] for sub in expected if "type" in sub]
        if len(kinds) == len(expected):
            return f"{label} must be {_types(kinds)}"
    if keyword == "oneOf" and path and path[-1] in {"filters", "conditions"}:
        return f"{label} must have exactly one of 'and', 'or'"
    if keyword in _BOUNDS:
        return f"{label} must {_BOUNDS[keyword]} {_count(keyword, expected)}"
    if keyword == "pattern":
        return f"{label} must match the pattern {expected}"
    return f"{label}: {error.message}"


def _never(instance: Any) -> bool:
    return False
