"""GraphQL documents: parsed once per text, and told apart from the rest of Atlassian's API.

``/graphql`` serves all of Atlassian's GraphQL API, not only storage. :func:`document`
parses a query text once (an LRU cache keyed by the text) and :meth:`Document.select`
decides, from the root fields of the operation to run, whether the request is ours:

* only storage root fields (``__typename`` and introspection fields aside) — ours;
* no storage root field — not ours: the router passes the request on untouched;
* both — ours to refuse with a 400 that says why: the fake serves only storage fields.

Fragments are followed at the root, so ``{ ...Storage }`` counts as storage.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import NamedTuple

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    validate,
)

#: Root fields of Atlassian's schema that are Forge storage (reference §12.3, §12.7).
#: ``appStoredEntitiesForCleanup`` (sent by ``@forge/storage`` 1.5.15, ref §12.4) is no
#: longer in the gateway schema: it counts as storage, so it fails validation here with
#: "Cannot query field" instead of going out to the network.
STORAGE_ROOT_FIELDS = frozenset(
    {
        "appStoredEntity",
        "appStoredEntities",
        "appStoredCustomEntity",
        "appStoredCustomEntities",
        "appStorage",
        "appStorageCustomEntity",
        "appStoredEntitiesForCleanup",
    }
)

#: A storage field name anywhere in a text that does not parse.
_MENTION = re.compile(r"\bappStor(?:age|ed)[A-Za-z]*")

#: Design §3: the parsed-document cache holds at most this much source text, process-wide.
CACHE_BYTES = 16 * 1024 * 1024
#: Design §3: storage fields (root fields and aliases, mutation fields counted inside their
#: namespace) one document may run; past it, a 400 naming the cap.
MAX_FIELDS = 100
MUTATION_NAMESPACES = frozenset({"appStorage", "appStorageCustomEntity"})


def is_storage_field(name: str) -> bool:
    """A storage root field, or an unknown one named like one (``appStor...``): ours, so
    that a misspelt storage field is a validation error, never sent on (design §2.5)."""
    return name in STORAGE_ROOT_FIELDS or name.startswith("appStor")


def mentions_storage(text: str) -> bool:
    """Whether ``text`` names a storage root field (for bodies that do not parse)."""
    return _MENTION.search(text) is not None


class Selection(NamedTuple):
    """What :meth:`Document.select` found: ``storage`` is False for "not ours"."""

    storage: bool
    error: str | None = None
    #: The document to validate and execute (the whole document, or the chosen
    #: operation with the fragments it uses when other operations are not storage).
    executable: DocumentNode | None = None
    error_type: str = "GRAPHQL_VALIDATION_FAILED"
    #: Storage fields the operation runs (root fields and aliases).
    fields: int = 0


_NOT_OURS = Selection(False)


class Document:
    """One query text: its AST (or syntax error), operations and, lazily, validation."""

    __slots__ = (
        "_errors", "_selections", "ast", "fragments", "operations", "plans", "source",
        "syntax_error",
    )  # fmt: skip

    def __init__(self, source: str) -> None:
        self.source = source
        self.syntax_error: GraphQLError | None = None
        self.operations: dict[str | None, OperationDefinitionNode] = {}
        self.fragments: dict[str, FragmentDefinitionNode] = {}
        self._selections: dict[str | None, Selection] = {}
        self._errors: dict[int, list[GraphQLError]] = {}
        #: Execution plans by operation name (protocol/_graphql_plan.py), compiled once.
        self.plans: dict[str | None, object] = {}
        try:
            self.ast: DocumentNode | None = parse(source)
        except GraphQLError as exc:
            self.ast = None
            self.syntax_error = exc
            return
        for definition in self.ast.definitions:
            if isinstance(definition, OperationDefinitionNode):
                name = definition.name.value if definition.name else None
                self.operations.setdefault(name, definition)
            elif isinstance(definition, FragmentDefinitionNode):
                self.fragments[definition.name.value] = definition

    # -- which operation, and is it ours -------------------------------------------
    def select(self, operation_name: str | None) -> Selection:
        selection = self._selections.get(operation_name)
        if selection is None:
            selection = self._select(operation_name)
            if operation_name is None or operation_name in self.operations:
                # Bounded by the document; every executable stays referenced from here,
                # which keeps the ids that key the validation cache unique.
                self._selections[operation_name] = selection
        return selection

    def _select(self, operation_name: str | None) -> Selection:
        roots = {name: self._root_names(op.selection_set) for name, op in self.operations.items()}
        ours = {name for name, names in roots.items() if any(map(is_storage_field, names))}
        if not ours:
            if not self.operations and mentions_storage(self.source):
                return Selection(True, "The document has fragments but no operation to run.")
            return _NOT_OURS
        if operation_name is None:
            if len(self.operations) > 1:
                return Selection(
                    True, "Must provide operation name if query contains multiple operations."
                )
            operation_name = next(iter(self.operations))
        elif operation_name not in self.operations:
            return Selection(True, f"Unknown operation named '{operation_name}'.")
        if operation_name not in ours:
            return _NOT_OURS
        names = roots[operation_name]
        count = self._field_count(self.operations[operation_name].selection_set)
        if count > MAX_FIELDS:
            return Selection(
                True,
                f"The document runs {count} storage fields; at most {MAX_FIELDS} root fields or "
                "aliases per document are served (pytest-forge-storage's cap: split the request)",
                error_type="BAD_REQUEST",
            )
        others = sorted(n for n in names if not is_storage_field(n) and not n.startswith("__"))
        if others:
            storage = sorted(n for n in names if is_storage_field(n))
            return Selection(
                True,
                f"This operation mixes Forge storage root fields ({', '.join(storage)}) with "
                f"other root fields ({', '.join(others)}). pytest-forge-storage serves only "
                "the storage fields of Atlassian's GraphQL API: send the other fields in a "
                "separate request (which your own mock or the network then answers).",
            )
        assert self.ast is not None
        if len(ours) == len(self.operations):
            return Selection(True, executable=self.ast, fields=count)
        operation = self.operations[operation_name]
        used = self._fragments_used(operation.selection_set)
        return Selection(
            True,
            executable=DocumentNode(definitions=(operation, *(self.fragments[n] for n in used))),
            fields=count,
        )

    def _root_names(self, selection_set: SelectionSetNode) -> set[str]:
        names: set[str] = set()
        seen: set[str] = set()
        stack = [selection_set]
        while stack:
            for node in stack.pop().selections:
                if isinstance(node, FieldNode):
                    names.add(node.name.value)
                elif isinstance(node, InlineFragmentNode):
                    stack.append(node.selection_set)
                elif isinstance(node, FragmentSpreadNode):
                    name = node.name.value
                    if name not in seen and name in self.fragments:
                        seen.add(name)
                        stack.append(self.fragments[name].selection_set)
        return names

    def _field_count(self, selection_set: SelectionSetNode, depth: int = 0) -> int:
        """Root fields (and aliases), with each mutation namespace's fields counted instead of
        the namespace; fragments followed (each fragment name once per path)."""
        count = 0
        stack: list[tuple[SelectionSetNode, frozenset[str]]] = [(selection_set, frozenset())]
        while stack:
            selections, seen = stack.pop()
            for node in selections.selections:
                if isinstance(node, FieldNode):
                    nested = node.selection_set
                    if depth == 0 and node.name.value in MUTATION_NAMESPACES and nested:
                        count += self._field_count(nested, depth + 1)
                    elif not node.name.value.startswith("__"):
                        count += 1
                elif isinstance(node, InlineFragmentNode):
                    stack.append((node.selection_set, seen))
                elif isinstance(node, FragmentSpreadNode):
                    name = node.name.value
                    if name not in seen and name in self.fragments:
                        stack.append((self.fragments[name].selection_set, seen | {name}))
        return count

    @property
    def cacheable(self) -> bool:
        """Worth keeping: it parsed and has storage fields (other documents are not ours)."""
        if self.ast is None:
            return False
        return any(
            any(map(is_storage_field, self._root_names(op.selection_set)))
            for op in self.operations.values()
        )

    def _fragments_used(self, selection_set: SelectionSetNode) -> list[str]:
        used: dict[str, None] = {}
        stack = [selection_set]
        while stack:
            for node in stack.pop().selections:
                if isinstance(node, FragmentSpreadNode):
                    name = node.name.value
                    if name not in used and name in self.fragments:
                        used[name] = None
                        stack.append(self.fragments[name].selection_set)
                elif isinstance(node, (FieldNode, InlineFragmentNode)) and node.selection_set:
                    stack.append(node.selection_set)
        return list(used)

    # -- validation ----------------------------------------------------------------
    def validation_errors(
        self, schema: GraphQLSchema, executable: DocumentNode
    ) -> list[GraphQLError]:
        """Validation errors of ``executable`` against ``schema`` (computed once)."""
        errors = self._errors.get(id(executable))
        if errors is None:
            errors = validate(schema, executable)
            self._errors[id(executable)] = errors
        return errors


_cache: OrderedDict[str, Document] = OrderedDict()
_cache_bytes = 0
_cache_lock = threading.Lock()


def document(source: str) -> Document:
    """The parsed document for ``source``, from an LRU cache of at most :data:`CACHE_BYTES`
    of source text, which keeps only storage documents that parse."""
    global _cache_bytes
    with _cache_lock:
        found = _cache.get(source)
        if found is not None:
            _cache.move_to_end(source)
            return found
    parsed = Document(source)
    size = utf8_size(source)
    if size > CACHE_BYTES or not parsed.cacheable:
        return parsed
    with _cache_lock:
        if source not in _cache:
            _cache[source] = parsed
            _cache_bytes += size
        while _cache_bytes > CACHE_BYTES:
            _, evicted = _cache.popitem(last=False)
            _cache_bytes -= utf8_size(evicted.source)
    return parsed


def utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8, what the cap counts (a check of a flag for ASCII)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
