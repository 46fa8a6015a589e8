"""The executable storage schema: ``spec/storage.graphql`` with resolvers onto the engine.

Each storage field (a root query field, or a field of a mutation namespace) is one
storage operation. Its resolver notes a :class:`PendingCall` on the request's
:class:`Context` (recorded once the response is known), applies a fault planned for its
response path, and calls the engine. Engine errors become GraphQL field errors for
queries and payload errors (``success: false``) for mutations, both carrying
``extensions: {"errorType", "statusCode"}`` (reference §12.1, decision 12).

The schema is built once per process, on the first GraphQL storage request.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    VariableNode,
    build_schema,
)

from pytest_forge_storage import _json
from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage.engine import Engine
from pytest_forge_storage.protocol._graphql_fields import (
    MUTATION_FIELDS,
    QUERY_FIELDS,
    Describe,
    Run,
)

SDL_PATH = Path(__file__).resolve().parent.parent / "spec" / "storage.graphql"

#: ``ari:cloud:<product>:<cloudId or empty>:<type>/<id>`` (reference §12.2).
ARI = re.compile(r"ari:cloud:[a-z][a-z0-9.-]*:[^:\s]*:[A-Za-z][A-Za-z0-9-]*/\S+\Z")
ERROR_EXTENSION_TYPE = "GenericMutationErrorExtension"
#: ``GraphQLResolveInfo``, generic in graphql-core 3.3 but not in 3.2.
Info = Any


class PendingCall:
    """A storage field being served: becomes one ``StorageCall`` after execution."""

    __slots__ = ("entity_name", "error_code", "key", "operation", "path", "request")

    def __init__(
        self, path: tuple[str | int, ...], operation: str, key: str | None,
        entity_name: str | None, request: Any,
    ) -> None:  # fmt: skip
        self.path = path
        self.operation = operation
        self.key = key
        self.entity_name = entity_name
        self.request = request
        self.error_code: str | None = None


class Context:
    """Per-request state shared by the resolvers."""

    __slots__ = (
        "calls", "context_check", "dry", "engine", "faults", "size", "size_budget",
        "too_large", "variables",
    )  # fmt: skip

    def __init__(
        self, engine: Engine, variables: Mapping[str, Any], *, dry: bool = False,
        faults: Mapping[tuple[str | int, ...], ForgeStorageError] | None = None,
        context_check: Callable[[object], ForgeStorageError | None] | None = None,
    ) -> None:  # fmt: skip
        self.engine = engine
        self.variables = variables
        self.dry = dry
        self.faults = faults
        self.context_check = context_check
        self.calls: list[PendingCall] = []
        #: With a budget, the JSON size of the fields served so far (design §3: 32 MiB cap).
        self.size_budget: int | None = None
        self.size = 0
        self.too_large = False


class FieldError(Exception):
    """Raised by a resolver; graphql-core copies ``extensions`` into the field error."""

    def __init__(self, error: ForgeStorageError) -> None:
        super().__init__(error.message)
        self.message = error.message
        self.extensions = {"errorType": error.code, "statusCode": error.status}


# -- helpers ---------------------------------------------------------------------------
def present(values: Mapping[str, Any]) -> dict[str, Any]:
    """Explicit nulls are absent (decision 12): arguments, and fields of input objects.

    Never reaches into a ``JSON`` value, where ``null`` is data.
    """
    given = {name: value for name, value in values.items() if value is not None}
    for name in _INPUT_OBJECTS:
        if name in given:
            given[name] = {k: v for k, v in given[name].items() if v is not None}
    return given


#: Arguments that are input objects with optional fields.
_INPUT_OBJECTS = ("input", "filters")


def check_context_ari(context_ari: Any) -> None:
    if context_ari is not None and not (isinstance(context_ari, str) and ARI.match(context_ari)):
        raise ForgeStorageError(
            "CONTEXT_INVALID",
            f"contextAri {context_ari!r} is not a valid ARI; expected the form "
            "ari:cloud:<product>::site/<cloudId>, e.g. ari:cloud:jira::site/1234",
            400,
        )


def payload_error(error: ForgeStorageError) -> dict[str, Any]:
    extensions = {
        "__typename": ERROR_EXTENSION_TYPE,
        "errorType": error.code,
        "statusCode": error.status,
    }
    return {"success": False, "errors": [{"message": error.message, "extensions": extensions}]}


def recorded_request(info: Info, args: dict[str, Any], sent: Mapping[str, Any]) -> Any:
    """The variables this field uses, as sent; its coerced arguments if it uses literals."""
    arguments = info.field_nodes[0].arguments
    if arguments and all(isinstance(arg.value, VariableNode) for arg in arguments):
        names = [arg.value.name.value for arg in arguments]
        return {name: sent[name] for name in names if name in sent}
    return args


# -- resolver factory --------------------------------------------------------------------
def _storage_resolver(describe: Describe, run: Run, *, mutation: bool) -> Callable[..., Any]:
    def resolve(_source: Any, info: Info, **args: Any) -> Any:
        ctx: Context = info.context
        given = present(args)
        operation, key, entity_name = describe(given)
        path = tuple(info.path.as_list())
        call = PendingCall(
            path, operation, key, entity_name, recorded_request(info, args, ctx.variables)
        )
        ctx.calls.append(call)
        if ctx.dry or ctx.too_large:
            return None
        try:
            fault = ctx.faults.get(path) if ctx.faults else None
            if fault is not None:
                raise fault
            context_ari = (given["input"] if mutation else given).get("contextAri")
            check_context_ari(context_ari)
            refused = ctx.context_check(context_ari) if ctx.context_check else None
            if refused is not None:
                raise refused
            result = run(ctx.engine, given)
            if ctx.size_budget is not None:
                ctx.size += len(_json.dumps(result))
                if ctx.size > ctx.size_budget:
                    ctx.too_large = True
                    return None
            return result
        except ForgeStorageError as exc:
            call.error_code = exc.code
            if mutation:
                return payload_error(exc)
            raise FieldError(exc) from None

    return resolve


def _namespace(_source: Any, _info: Info) -> Any:
    return {}


def _field_value(value: Any) -> Any:
    """``AppStored*FieldValue``: a string, number or boolean (reference §12.6)."""
    if isinstance(value, (str, int, float)):  # bool is an int
        return value
    raise GraphQLError(f"Expected a string, number or boolean, got {type(value).__name__}.")


def _build() -> GraphQLSchema:
    schema = build_schema(SDL_PATH.read_text(encoding="utf-8"))
    fields: dict[str, GraphQLField] = schema.query_type.fields  # type: ignore[union-attr]
    for name, (describe, run) in QUERY_FIELDS.items():
        fields[name].resolve = _storage_resolver(describe, run, mutation=False)
    mutation: dict[str, GraphQLField] = schema.mutation_type.fields  # type: ignore[union-attr]
    for namespace in ("appStorage", "appStorageCustomEntity"):
        mutation[namespace].resolve = _namespace
    for type_name, table in MUTATION_FIELDS.items():
        namespace_type = schema.type_map[type_name]
        assert isinstance(namespace_type, GraphQLObjectType)
        for name, (describe, run) in table.items():
            namespace_type.fields[name].resolve = _storage_resolver(describe, run, mutation=True)
    for scalar_name in ("AppStoredEntityFieldValue", "AppStoredCustomEntityFieldValue"):
        scalar = schema.type_map[scalar_name]
        assert isinstance(scalar, GraphQLScalarType)
        # graphql-core 3.2 calls parse_value, 3.3 coerce_input_value (both from literals too).
        for attribute in ("parse_value", "coerce_input_value"):
            if hasattr(scalar, attribute):
                setattr(scalar, attribute, _field_value)
    extension = schema.type_map["MutationErrorExtension"]
    assert isinstance(extension, GraphQLInterfaceType)
    extension.resolve_type = lambda _value, _info, _type: ERROR_EXTENSION_TYPE
    return schema


_schema: GraphQLSchema | None = None
_schema_lock = threading.Lock()


def schema() -> GraphQLSchema:
    """The storage schema, built on first use and shared by the whole process."""
    global _schema
    if _schema is None:
        with _schema_lock:
            if _schema is None:
                _schema = _build()
    return _schema
