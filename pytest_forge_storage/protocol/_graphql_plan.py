"""Execution plans: the common storage query answered without graphql-core's executor.

Most GraphQL storage requests are one shape: a query with one storage root field
(``appStoredEntity``, ``appStoredCustomEntity``) whose arguments are scalar literals or
scalar variables, selecting plain leaf fields (``key``, ``value``, ``entityName``,
``__typename``, aliases allowed). graphql-core's ``execute_sync`` spends most of the fake's
GraphQL time on machinery such a document does not need, so :func:`compile_plan` turns a
validated document of that shape, once, into a :class:`Plan`: the argument plan, the
resolver graphql-core would call and the result projection.

:meth:`Plan.execute` gives graphql-core's answer or ``None``: ``None`` whenever the request
strays from the simple case (a variable graphql-core would coerce or refuse, a resolver
result that is not a plain dict or null, a null for a non-null field, ...), and the caller
then runs graphql-core as before. A plan only serves queries, whose resolvers read: the
resolver may already have run when ``None`` comes back, which the caller undoes by
dropping the pending calls it noted before graphql-core runs it again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    IntValueNode,
    NamedTypeNode,
    NonNullTypeNode,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    VariableNode,
    located_error,
)
from graphql.pyutils import Undefined

from ._graphql_fields import QUERY_FIELDS

__all__ = ["FORCE_GRAPHQL_CORE", "Plan", "compile_plan"]

#: Tests set this to run every request through graphql-core (the differential test).
FORCE_GRAPHQL_CORE = False

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _coerce_id(value: Any) -> Any:
    return value if type(value) is str else Undefined


def _coerce_boolean(value: Any) -> Any:
    return value if type(value) is bool else Undefined


def _coerce_int(value: Any) -> Any:
    return value if type(value) is int and _INT_MIN <= value <= _INT_MAX else Undefined


#: Input coercion of the scalars a plan handles, only where it is trivially valid (the
#: same value out as in); ``Undefined`` for anything else, which graphql-core then judges.
_COERCE: dict[str, Callable[[Any], Any]] = {
    "ID": _coerce_id,
    "String": _coerce_id,
    "Boolean": _coerce_boolean,
    "Int": _coerce_int,
}
#: Leaf output types a plan completes: strings as they are, and ``JSON`` unchanged.
_STRING_OUTPUTS = frozenset({"ID", "String"})


class _Path:
    """The response path of the root field, as graphql-core's ``Path`` answers it."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def as_list(self) -> list[str | int]:
        return [self.key]


class _Info:
    """What the storage resolvers read from ``GraphQLResolveInfo``."""

    __slots__ = ("context", "field_name", "field_nodes", "path")

    def __init__(self, context: Any, node: FieldNode, path: _Path) -> None:
        self.context = context
        self.field_name = node.name.value
        self.field_nodes = [node]
        self.path = path


#: One argument: (name, variable name or ``None``, literal value, non-null).
_Argument = tuple[str, "str | None", Any, bool]
#: One selected leaf: (response key, field name, kind) with kind "typename", "string"
#: (non-null when the bool says so) or "json".
_Leaf = tuple[str, str, str, bool]


class Plan:
    """How to answer one operation of one validated document without graphql-core."""

    __slots__ = ("arguments", "leaves", "node", "resolve", "response_key", "type_name",
                 "variables")  # fmt: skip

    def __init__(
        self, node: FieldNode, resolve: Callable[..., Any], type_name: str,
        variables: list[tuple[str, Callable[[Any], Any], bool]],
        arguments: list[_Argument], leaves: list[_Leaf],
    ) -> None:  # fmt: skip
        self.node = node
        self.response_key = node.alias.value if node.alias else node.name.value
        self.resolve = resolve
        self.type_name = type_name
        self.variables = variables
        self.arguments = arguments
        self.leaves = leaves

    def execute(self, ctx: Any, sent: Mapping[str, Any]) -> ExecutionResult | None:
        """graphql-core's result for this request, or ``None`` to let graphql-core run it."""
        coerced: dict[str, Any] = {}
        for name, coerce, non_null in self.variables:
            if name not in sent:
                if non_null:
                    return None
                continue
            value = sent[name]
            if value is None:
                if non_null:
                    return None
                coerced[name] = None
                continue
            value = coerce(value)
            if value is Undefined:
                return None
            coerced[name] = value
        args: dict[str, Any] = {}
        for name, variable, literal, non_null in self.arguments:
            if variable is None:
                args[name] = literal
            elif variable in coerced:
                value = coerced[variable]
                if value is None and non_null:
                    return None
                args[name] = value
        key = self.response_key
        path = _Path(key)
        try:
            result = self.resolve(None, _Info(ctx, self.node, path), **args)
        except Exception as exc:
            error = located_error(exc, [self.node], path.as_list())
            return ExecutionResult({key: None}, [error])
        if result is None:
            return ExecutionResult({key: None}, None)
        if type(result) is not dict:
            return None
        data: dict[str, Any] = {}
        for response_key, field, kind, non_null in self.leaves:
            if kind == "typename":
                data[response_key] = self.type_name
                continue
            value = result.get(field)
            if value is None:
                if non_null:
                    return None
            elif callable(value) or (kind == "string" and type(value) is not str):
                return None
            data[response_key] = value
        return ExecutionResult({key: data}, None)


def _variable_type(node: Any) -> tuple[str, bool] | None:
    non_null = isinstance(node, NonNullTypeNode)
    if non_null:
        node = node.type
    if isinstance(node, NamedTypeNode) and node.name.value in _COERCE:
        return node.name.value, non_null
    return None


def _literal(node: Any, type_name: str) -> Any:
    """A literal's coerced value where graphql-core's is plain; ``Undefined`` otherwise."""
    if isinstance(node, NullValueNode):
        return None
    if isinstance(node, StringValueNode) and type_name in ("ID", "String"):
        return node.value
    if isinstance(node, BooleanValueNode) and type_name == "Boolean":
        return node.value
    if isinstance(node, IntValueNode):
        if type_name == "ID":
            return node.value
        if type_name == "Int" and _INT_MIN <= int(node.value) <= _INT_MAX:
            return int(node.value)
    return Undefined


def _identity(scalar: GraphQLScalarType) -> bool:
    probe = object()
    serialize = getattr(scalar, "coerce_output_value", None) or scalar.serialize
    try:
        return serialize(probe) is probe
    except Exception:
        return False


def _operation(executable: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in executable.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    named = [op for op in operations if op.name and op.name.value == name]
    return named[0] if len(named) == 1 else None


def compile_plan(
    schema: GraphQLSchema, executable: DocumentNode, operation_name: str | None
) -> Plan | None:
    """The plan for a validated document's operation, or ``None`` when it is not the shape."""
    operation = _operation(executable, operation_name)
    if operation is None or operation.operation != OperationType.QUERY or operation.directives:
        return None
    if len(operation.selection_set.selections) != 1:
        return None
    node = operation.selection_set.selections[0]
    if not isinstance(node, FieldNode) or node.directives or node.selection_set is None:
        return None
    query_type = schema.query_type
    field = query_type.fields.get(node.name.value) if query_type else None
    if field is None or node.name.value not in QUERY_FIELDS or field.resolve is None:
        return None
    if isinstance(field.type, GraphQLNonNull) or not isinstance(field.type, GraphQLObjectType):
        return None
    variables: list[tuple[str, Callable[[Any], Any], bool]] = []
    declared: dict[str, str] = {}
    for definition in operation.variable_definitions or ():
        found = _variable_type(definition.type)
        if found is None or definition.default_value is not None or definition.directives:
            return None
        declared[definition.variable.name.value] = found[0]
        variables.append((definition.variable.name.value, _COERCE[found[0]], found[1]))
    given = {arg.name.value: arg.value for arg in node.arguments or ()}
    arguments: list[_Argument] = []
    for name, arg in field.args.items():
        non_null = isinstance(arg.type, GraphQLNonNull)
        arg_type = arg.type.of_type if isinstance(arg.type, GraphQLNonNull) else arg.type
        if arg.default_value is not Undefined or not isinstance(arg_type, GraphQLScalarType):
            return None
        value = given.pop(name, None)
        if value is None:
            continue
        if isinstance(value, VariableNode):
            if declared.get(value.name.value) != arg_type.name:
                return None
            arguments.append((name, value.name.value, None, non_null))
            continue
        literal = _literal(value, arg_type.name)
        if literal is Undefined or (literal is None and non_null):
            return None
        arguments.append((name, None, literal, non_null))
    if given:
        return None
    leaves = _leaves(field.type, node)
    if leaves is None:
        return None
    return Plan(node, field.resolve, field.type.name, variables, arguments, leaves)


def _leaves(object_type: GraphQLObjectType, node: FieldNode) -> list[_Leaf] | None:
    assert node.selection_set is not None
    leaves: list[_Leaf] = []
    keys: set[str] = set()
    for selected in node.selection_set.selections:
        if not isinstance(selected, FieldNode) or selected.directives or selected.arguments:
            return None
        if selected.selection_set is not None:
            return None
        name = selected.name.value
        key = selected.alias.value if selected.alias else name
        if key in keys:
            return None
        keys.add(key)
        if name == "__typename":
            leaves.append((key, name, "typename", True))
            continue
        field = object_type.fields.get(name)
        if field is None or field.resolve is not None:
            return None
        non_null = isinstance(field.type, GraphQLNonNull)
        leaf = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        if not isinstance(leaf, GraphQLScalarType):
            return None
        if leaf.name in _STRING_OUTPUTS:
            leaves.append((key, name, "string", non_null))
        elif _identity(leaf):
            leaves.append((key, name, "json", non_null))
        else:
            return None
    return leaves
