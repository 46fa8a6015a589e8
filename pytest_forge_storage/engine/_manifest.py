"""Loading custom entities from a Forge ``manifest.yml`` (ref §6.1).

Only ``app.storage.entities`` is read; modules, permissions, remotes and everything else
in the manifest are left alone. A manifest without entities declares nothing.
"""

from __future__ import annotations

import os
from typing import Any

from pytest_forge_storage import _limits
from pytest_forge_storage._errors import ForgeStorageError

from ._schema import EntityDecl, declare

_MISSING = object()
_ENTITY_KEYS = ("name", "attributes", "indexes")


def app_id(path: str | os.PathLike[str]) -> str | None:
    """The manifest's ``app.id`` (the app's ARI), or ``None`` when it has none."""
    import yaml

    with open(os.fspath(path), encoding="utf-8") as stream:
        try:
            document = yaml.safe_load(stream)
        except yaml.YAMLError:
            return None
    found = _dig(document, "app", "id")
    return found if isinstance(found, str) and found.strip() else None


def load(path: str | os.PathLike[str]) -> list[EntityDecl]:
    """The entity declarations of the manifest at ``path``, all validated.

    Errors are 400 ``BAD_REQUEST`` whose message names the file, the entity and the rule;
    a missing file raises ``FileNotFoundError`` as ``open`` does.
    """
    import yaml  # lazy: yaml is only needed when a manifest is used

    where = os.fspath(path)
    with open(where, encoding="utf-8") as stream:
        try:
            document = yaml.safe_load(stream)
        except yaml.YAMLError as exc:
            raise ForgeStorageError("BAD_REQUEST", f"{where}: not valid YAML: {exc}") from None
    entities = _dig(document, "app", "storage", "entities")
    if entities is _MISSING:
        return []
    if not isinstance(entities, list) or not entities:
        raise ForgeStorageError(
            "BAD_REQUEST", f"{where}: app.storage.entities must be a non-empty list"
        )
    if len(entities) > _limits.ENTITIES_MAX:
        raise ForgeStorageError(
            "BAD_REQUEST",
            f"{where}: app.storage.entities declares {len(entities)} entities, but at most "
            f"{_limits.ENTITIES_MAX} are allowed",
        )
    declared: list[EntityDecl] = []
    for position, spec in enumerate(entities):
        decl = _entity(spec, f"{where}: app.storage.entities[{position}] ")
        if any(other.name == decl.name for other in declared):
            raise ForgeStorageError(
                "BAD_REQUEST",
                f"{where}: app.storage.entities[{position}] entity {decl.name!r}: "
                "the entity name is declared twice",
            )
        declared.append(decl)
    return declared


def _entity(spec: Any, where: str) -> EntityDecl:
    if not isinstance(spec, dict):
        raise ForgeStorageError(
            "BAD_REQUEST", f"{where}must be a mapping with name, attributes and indexes"
        )
    label = f"{where}entity {spec.get('name')!r}"
    unknown = sorted(str(key) for key in spec if key not in _ENTITY_KEYS)
    if unknown:
        raise ForgeStorageError(
            "BAD_REQUEST",
            f"{label}: unknown property {unknown[0]!r} (allowed: {', '.join(_ENTITY_KEYS)})",
        )
    for required in ("name", "attributes"):
        if required not in spec:
            raise ForgeStorageError("BAD_REQUEST", f"{label}: {required} is required")
    indexes = spec.get("indexes", ())
    if "indexes" in spec and not isinstance(indexes, list):
        raise ForgeStorageError("BAD_REQUEST", f"{label}: indexes must be a list")
    if "indexes" in spec and not indexes:
        raise ForgeStorageError(
            "BAD_REQUEST", f"{label}: indexes must have at least 1 item when given"
        )
    return declare(spec["name"], spec["attributes"], indexes, where=where, shorthand=False)


def _dig(document: Any, *path: str) -> Any:
    node = document
    for name in path:
        if not isinstance(node, dict) or name not in node:
            return _MISSING
        node = node[name]
    return node
