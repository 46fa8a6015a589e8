"""Custom-entity declarations and the manifest's rules for them (ref §6.1).

:func:`declare` turns an entity in manifest form (or the Python shorthand
``{"age": "integer"}``) into an :class:`EntityDecl`, enforcing what Forge's manifest
validator enforces; ``_values.check_value`` applies a declaration to a stored value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pytest_forge_storage import _limits
from pytest_forge_storage._errors import ForgeStorageError

BY_KEY = _limits.RESERVED_INDEX


@dataclass(frozen=True)
class IndexDecl:
    """One index: ``range`` is an attribute (``None`` for ``by-key``: the key itself)."""

    name: str
    range: str | None
    partition: tuple[str, ...] = ()
    simple: bool = False

    def to_manifest(self) -> str | dict[str, Any]:
        if self.simple:
            return self.name
        out: dict[str, Any] = {"name": self.name, "range": [self.range]}
        if self.partition:
            out["partition"] = list(self.partition)
        return out


KEY_INDEX = IndexDecl(BY_KEY, None)


@dataclass(frozen=True, eq=False)
class EntityDecl:
    """A declared entity: attribute name → type, and its custom indexes (``by-key`` is
    implicit and always present)."""

    name: str
    attributes: Mapping[str, str]
    indexes: tuple[IndexDecl, ...] = ()

    def index(self, name: str) -> IndexDecl | None:
        if name == BY_KEY:
            return KEY_INDEX
        return next((index for index in self.indexes if index.name == name), None)

    def all_indexes(self) -> tuple[IndexDecl, ...]:
        return (KEY_INDEX, *self.indexes)

    def to_manifest(self) -> dict[str, Any]:
        """The declaration in manifest form, e.g. for docs or a generated manifest."""
        out: dict[str, Any] = {
            "name": self.name,
            "attributes": {name: {"type": kind} for name, kind in self.attributes.items()},
        }
        if self.indexes:
            out["indexes"] = [index.to_manifest() for index in self.indexes]
        return out

    def __repr__(self) -> str:
        return f"EntityDecl({self.to_manifest()!r})"


# -- declarations ------------------------------------------------------------------------
def declare(
    name: Any, attributes: Any, indexes: Any = (), *, where: str = "", shorthand: bool = True
) -> EntityDecl:
    """Validate one entity declaration (ref §6.1); 400 ``BAD_REQUEST`` naming the rule.

    ``where`` prefixes messages (the manifest file and position); ``shorthand`` also
    accepts ``{"age": "integer"}`` for ``{"age": {"type": "integer"}}``.
    """
    label = f"{where}entity {name!r}" if isinstance(name, str) else f"{where}entity"
    _check_entity_name(name, label)
    attrs = _attributes(attributes, label, shorthand)
    if indexes is None:
        indexes = ()
    if isinstance(indexes, (str, bytes)) or not isinstance(indexes, Sequence):
        raise _bad(label, "indexes must be a list")
    if len(indexes) > _limits.ENTITY_INDEXES_MAX:
        raise _bad(
            label,
            f"has {len(indexes)} indexes, but at most {_limits.ENTITY_INDEXES_MAX} are allowed",
        )
    declared: list[IndexDecl] = []
    for position, spec in enumerate(indexes):
        index = _index(spec, attrs, f"{label} index #{position + 1}")
        if index.name == BY_KEY:
            raise _bad(label, f"cannot use reserved index name {BY_KEY!r}")
        if any(other.name == index.name for other in declared):
            raise _bad(label, f"index name {index.name!r} is declared twice")
        declared.append(index)
    return EntityDecl(name, MappingProxyType(attrs), tuple(declared))


def _check_entity_name(name: Any, label: str) -> None:
    if not isinstance(name, str):
        raise _bad(label, "name must be a string")
    if not _limits.ENTITY_NAME_MIN <= len(name) <= _limits.ENTITY_NAME_MAX:
        raise _bad(
            label,
            f"name must be {_limits.ENTITY_NAME_MIN} to {_limits.ENTITY_NAME_MAX} characters "
            f"long, got {len(name)}",
        )
    if not _limits.ENTITY_NAME_PATTERN.match(name):
        raise _bad(
            label,
            "name must match ^(?![_.-])(?!.*\\.{2})[a-z0-9:\\-_.]*(?<![.])$ (lowercase letters, "
            "digits and :-_. ; not starting with _ . or -, not ending with ., no ..)",
        )


def _attributes(attributes: Any, label: str, shorthand: bool) -> dict[str, str]:
    if not isinstance(attributes, Mapping):
        raise _bad(label, "attributes must be a mapping of attribute name to {type: ...}")
    if len(attributes) > _limits.ENTITY_ATTRIBUTES_MAX:
        raise _bad(
            label,
            f"has {len(attributes)} attributes, but at most {_limits.ENTITY_ATTRIBUTES_MAX} "
            "are allowed",
        )
    out: dict[str, str] = {}
    for attr, spec in attributes.items():
        if not isinstance(attr, str) or not _limits.ENTITY_ATTRIBUTE_PATTERN.match(attr):
            raise _bad(label, f"attribute name {attr!r} must match ^[a-zA-Z][a-zA-Z0-9_]*$")
        if len(attr) > _limits.ENTITY_ATTRIBUTE_NAME_MAX:
            raise _bad(
                label,
                f"attribute name {attr!r} is {len(attr)} characters, but at most "
                f"{_limits.ENTITY_ATTRIBUTE_NAME_MAX} are allowed",
            )
        kind = spec if shorthand and isinstance(spec, str) else None
        if kind is None:
            if not isinstance(spec, Mapping) or set(spec) != {"type"}:
                raise _bad(label, f"attribute {attr!r} must be declared as {{type: <type>}}")
            kind = spec["type"]
        if kind not in _limits.ENTITY_ATTRIBUTE_TYPES:
            raise _bad(
                label,
                f"attribute {attr!r} has type {kind!r}; the type must be one of "
                + ", ".join(_limits.ENTITY_ATTRIBUTE_TYPES),
            )
        out[attr] = kind
    return out


def _index(spec: Any, attrs: Mapping[str, str], label: str) -> IndexDecl:
    if isinstance(spec, str):
        _indexable(spec, attrs, label)
        return IndexDecl(spec, spec, (), simple=True)
    if not isinstance(spec, Mapping):
        raise _bad(label, "must be an attribute name or {name, range, partition}")
    unknown = sorted(str(key) for key in set(spec) - {"name", "range", "partition"})
    if unknown:
        raise _bad(label, f"has unknown property {unknown[0]!r}")
    name = spec.get("name")
    if not isinstance(name, str):
        raise _bad(label, "needs a name")
    label = f"{label} ({name!r})"
    if name != BY_KEY and not (
        _limits.INDEX_NAME_MIN <= len(name) <= _limits.INDEX_NAME_MAX
        and _limits.INDEX_NAME_PATTERN.match(name)
    ):
        raise _bad(
            label,
            f"name must be {_limits.INDEX_NAME_MIN} to {_limits.INDEX_NAME_MAX} characters of "
            "a-zA-Z0-9:-_. , not starting or ending with . and without ..",
        )
    rng = spec.get("range")
    if isinstance(rng, str) or not isinstance(rng, Sequence) or len(rng) != 1:
        raise _bad(label, "range must be a list of exactly one attribute")
    _indexable(rng[0], attrs, label)
    partition = spec.get("partition")
    if partition is None:
        partition = ()
    elif isinstance(partition, str) or not isinstance(partition, Sequence) or not partition:
        raise _bad(label, "partition must be a non-empty list of attributes")
    for attr in partition:
        _indexable(attr, attrs, label)
    if len(set(partition)) != len(partition) or rng[0] in partition:
        raise _bad(label, "an attribute may appear only once in range and partition")
    return IndexDecl(name, rng[0], tuple(partition))


def _indexable(attr: Any, attrs: Mapping[str, str], label: str) -> None:
    if not isinstance(attr, str) or attr not in attrs:
        raise _bad(label, f"uses {attr!r}, which is not a declared attribute")
    if attrs[attr] == "any":
        raise _bad(label, f"uses {attr!r} of type any; indexes cannot use any attributes")


def _bad(label: str, rule: str) -> ForgeStorageError:
    return ForgeStorageError("BAD_REQUEST", f"{label}: {rule}")
