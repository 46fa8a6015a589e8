"""The GraphQL protocol: the Forge storage fields of Atlassian's GraphQL API (reference §12).

``POST /graphql`` (and ``/forge/entities/graphql``) bodies are ``{"query", "variables",
"operationName"}``. Documents are parsed and validated with graphql-core against the bundled
``spec/storage.graphql`` and executed for real, so aliases, fragments, variables,
``operationName`` and ``__typename`` behave as against Forge. One request flows as:

1. **Ours or not** (before auth, before recording): a document whose operation has no
   storage root field is some other part of Atlassian's API, so :func:`handle` returns
   ``None`` and the request goes on to the user's own mock or the network.
2. **Auth**: a missing or blank token is 401, in GraphQL's error shape.
3. **Request errors** — body not JSON, syntax error, validation error, storage mixed with
   other root fields, bad variables, a batch, a method other than POST — are HTTP 400
   (405 for the method) with ``{"errors": [...]}``, every error with ``extensions``.
4. **Faults** planned per storage field (a dry run of the document names them): 429, 401,
   403 and 5xx answer the whole request with that HTTP status, as the gateway does; other
   Forge codes fail their field only; a transport fault fails the request.
5. **Execution** under the engine lock, then one :class:`StorageCall` per storage field.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

import graphql.execution
from graphql import DocumentNode, GraphQLError, execute_sync

from pytest_forge_storage import _json
from pytest_forge_storage._errors import ForgeStorageError, bounded
from pytest_forge_storage._http import JSON_HEADERS, HttpRequest, HttpResponse, TransportFault
from pytest_forge_storage._masking import mask_text, scalars

from . import _graphql_plan
from ._gate import Gate
from ._graphql_document import Document, document, mentions_storage
from ._graphql_plan import Plan, compile_plan
from ._graphql_schema import Context, PendingCall, schema

__all__ = ["handle"]

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
#: Design §3: the cap on one GraphQL response.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
#: HTTP statuses a fault answers for the whole request: the gateway's own errors
#: (auth, rate limiting, server errors). Other statuses fail only the faulted field.
WHOLE_REQUEST_STATUSES = frozenset({401, 403, 429})


class Envelope(NamedTuple):
    """A storage request: either an error to answer (after auth) or what to execute."""

    error: HttpResponse | None
    executable: DocumentNode | None = None
    operation_name: str | None = None
    variables: dict[str, Any] | None = None
    query: str = ""
    fields: int = 1
    #: The execution plan for the common shape (protocol/_graphql_plan.py), if it has one.
    plan: Plan | None = None
    #: The ``errorType`` of ``error`` (what its recorded call's ``error_code`` is).
    error_type: str = ""


def handle(request: HttpRequest, gate: Gate) -> HttpResponse | TransportFault | None:
    """Serve a GraphQL request if it is a storage request; ``None`` passes it on."""
    envelope = _envelope(request)
    if envelope is None:
        return None
    denied = gate.authorize(request.headers)
    if denied is not None:
        body = error_body(denied.message, denied.code, denied.status)
        planned = _plan(gate.store, envelope)
        for call in planned:
            _record(gate, call, request, denied.status, body, denied.code)
        if not planned:  # a body no field could be read from: one call with no operation
            gate.record("graphql", None, None, None, b"", denied.status, body, denied.code)
        return HttpResponse(denied.status, body, JSON_HEADERS)
    if envelope.error is not None:
        # Refused before any field ran: one call with no operation, so that it shows among
        # the test's calls (design §2.2).
        gate.record(
            "graphql", None, None, None, b"", envelope.error.status, envelope.error.body,
            envelope.error_type,
        )  # fmt: skip
        return envelope.error
    faults: dict[tuple[str | int, ...], ForgeStorageError] = {}
    planned = _plan(gate.store, envelope) if gate.screening else []
    for call in planned:
        stop = gate.check(call.operation, call.key, call.entity_name, call.request)
        if stop is None:
            continue
        if isinstance(stop, TransportFault):
            gate.withdraw()  # the fields admitted before this one are not served either
            _record(gate, call, request, 0, b"", None)
            return stop
        if stop.status in WHOLE_REQUEST_STATUSES or stop.status >= 500:
            gate.withdraw()
            body = error_body(stop.message, stop.code, stop.status)
            _record(gate, call, request, stop.status, body, stop.code)
            headers = {**JSON_HEADERS, **gate.extra_headers} if stop.status == 429 else JSON_HEADERS
            return HttpResponse(stop.status, body, headers)
        faults[call.path] = stop
    return _execute(gate, request, envelope, faults)


# -- 1. ours or not, and request errors ------------------------------------------------------
def _envelope(request: HttpRequest) -> Envelope | None:
    body = request.body
    if request.method.upper() != "POST":
        if not mentions_storage(unquote_plus(request.url) + body.decode("utf-8", "replace")):
            return None
        return _refuse(
            f"{request.method} is not allowed for GraphQL storage operations; use POST",
            "METHOD_NOT_ALLOWED", 405,
        )  # fmt: skip
    # A body that is not a GraphQL request at all is the fake's to refuse (design §2.5): on a
    # Forge origin it must never go out, and no user mock could want it.
    try:
        payload = _json.loads(body)
    except ForgeStorageError as exc:
        return _refuse(exc.message, exc.code)
    if isinstance(payload, list):
        if not mentions_storage(body.decode("utf-8", "replace")):
            return None
        return _refuse(
            "Batched GraphQL requests (a JSON array of operations) are not supported for "
            "Forge storage operations; send one operation per request",
            "BAD_REQUEST",
        )
    query = payload.get("query") if isinstance(payload, dict) else None
    if not isinstance(query, str):
        return _refuse(
            'The request body must be a JSON object {"query": <string>, "variables": '
            '<object>, "operationName": <string>}',
            "BAD_REQUEST",
        )
    assert isinstance(payload, dict)
    doc = document(query)
    if doc.syntax_error is not None:
        echoed = _echoed(query, payload.get("variables"))
        error = graphql_errors(400, [doc.syntax_error], PARSE_FAILED, echoed)
        return Envelope(error, error_type=PARSE_FAILED)
    operation_name = payload.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        return _refuse("operationName must be a string or null", VALIDATION_FAILED)
    selection = doc.select(operation_name)
    if not selection.storage:
        return None
    if selection.error is not None:
        return _refuse(selection.error, selection.error_type)
    assert selection.executable is not None
    variables = payload.get("variables")
    if variables is None:
        variables = {}
    elif not isinstance(variables, dict):
        return _refuse("variables must be a JSON object or null", VALIDATION_FAILED)
    errors = doc.validation_errors(schema(), selection.executable)
    if errors:
        error = graphql_errors(400, errors, VALIDATION_FAILED, _echoed(query, variables))
        return Envelope(error, error_type=VALIDATION_FAILED)
    plan = _plan_for(doc, selection.executable, operation_name) if selection.fields == 1 else None
    return Envelope(
        None, selection.executable, operation_name, variables, query, selection.fields, plan
    )


def _plan_for(doc: Document, executable: DocumentNode, operation_name: str | None) -> Plan | None:
    """The document's plan for this operation, compiled on its first request."""
    plans = doc.plans
    if operation_name not in plans:
        plans[operation_name] = (executable, compile_plan(schema(), executable, operation_name))
    entry: tuple[DocumentNode, Plan | None] = plans[operation_name]  # type: ignore[assignment]
    return entry[1] if entry[0] is executable else None


def _refuse(message: str, error_type: str, status: int = 400) -> Envelope:
    error = HttpResponse(status, error_body(message, error_type, status), JSON_HEADERS)
    return Envelope(error, error_type=error_type)


# -- planning and execution ----------------------------------------------------------------
def _plan(store: Any, envelope: Envelope) -> list[PendingCall]:
    """The storage fields the request would run, in order (a dry run: no engine calls)."""
    if envelope.error is not None:
        return []
    ctx = Context(store, envelope.variables or {}, dry=True)
    result = _run(envelope, ctx)
    return ctx.calls if result is not None else []


#: graphql-core 3.3 executes through its incremental (``@defer``/``@stream``) machinery
#: unless told to use the plain executor, which is about a quarter faster; the storage
#: schema has no incremental delivery. graphql-core 3.2 has only the plain one.
_EXECUTOR = getattr(graphql.execution, "Executor", None)
_EXECUTE_OPTIONS: dict[str, Any] = {"executor_class": _EXECUTOR} if _EXECUTOR else {}


def _run(envelope: Envelope, ctx: Context) -> Any:
    assert envelope.executable is not None
    plan = envelope.plan
    if plan is not None and not _graphql_plan.FORCE_GRAPHQL_CORE:
        result = plan.execute(ctx, envelope.variables or {})
        if result is not None:
            return result
        # Off the plan's shape: graphql-core answers, and notes the field's call anew (the
        # plan's resolver only read).
        ctx.calls.clear()
    return execute_sync(
        schema(),
        envelope.executable,
        context_value=ctx,
        variable_values=envelope.variables,
        operation_name=envelope.operation_name,
        **_EXECUTE_OPTIONS,
    )


def _execute(
    gate: Gate,
    request: HttpRequest,
    envelope: Envelope,
    faults: dict[tuple[str | int, ...], ForgeStorageError],
) -> HttpResponse:
    store = gate.store
    ctx = Context(store, envelope.variables or {}, faults=faults, context_check=gate.context_error)
    if envelope.fields > 1:  # one field cannot pass the cap; several are measured as they run
        ctx.size_budget = MAX_RESPONSE_BYTES
    with store.lock:  # the fields of one document run atomically
        result = _run(envelope, ctx)
    if ctx.too_large:
        return _too_large()
    if result.data is None:  # variables that do not coerce: a request error
        echoed = _echoed(envelope.query, envelope.variables)
        return graphql_errors(400, result.errors or [], VALIDATION_FAILED, echoed)
    response: dict[str, Any] = {"data": result.data}
    by_path: dict[tuple[Any, ...], dict[str, Any]] = {}
    if result.errors:
        response["errors"] = errors = [
            _formatted(e, "INTERNAL_SERVER_ERROR", 500) for e in result.errors
        ]
        by_path = {tuple(e["path"]): e for e in errors if e.get("path")}
    for call in ctx.calls:
        error = by_path.get(call.path)
        if error is not None:
            code = call.error_code or error["extensions"]["errorType"]
            _record(gate, call, request, 200, encode(error), code)
        else:
            _record(gate, call, request, 200, encode(_at(result.data, call.path)), call.error_code)
    body = encode(response)
    if len(body) > MAX_RESPONSE_BYTES:
        return _too_large()
    return HttpResponse(200, body, JSON_HEADERS)


def _too_large() -> HttpResponse:
    message = (
        f"The response would be over {MAX_RESPONSE_BYTES // 2**20} MiB, the cap on one GraphQL "
        "response (pytest-forge-storage's): ask for fewer fields or smaller pages"
    )
    return HttpResponse(400, error_body(message, "BAD_REQUEST", 400), JSON_HEADERS)


def _at(data: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        if not isinstance(data, (Mapping, list)):
            return None
        data = data[key] if isinstance(data, list) else data.get(key)  # type: ignore[index]
    return data


def _record(
    gate: Gate, call: PendingCall, request: HttpRequest, status: int, raw: bytes, code: str | None
) -> None:
    gate.record(
        "graphql", call.operation, call.key, call.entity_name, encode(call.request), status,
        raw, code,
    )  # fmt: skip


# -- rendering ---------------------------------------------------------------------------------
encode = _json.dumps


def error_body(message: str, error_type: str, status: int) -> bytes:
    """``{"errors": [{"message", "extensions": {"errorType", "statusCode"}}]}``."""
    extensions = {"errorType": error_type, "statusCode": status}
    return encode({"errors": [{"message": message, "extensions": extensions}]})


def graphql_errors(
    status: int, errors: list[GraphQLError], error_type: str, echoed: frozenset[str] = frozenset()
) -> HttpResponse:
    formatted = [_formatted(e, error_type, status) for e in errors]
    if echoed:
        for error in formatted:
            error["message"] = mask_text(error["message"], echoed)
    return HttpResponse(status, encode({"errors": formatted}), JSON_HEADERS)


_STRING_LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
#: Numbers and booleans written in a document, as graphql-core echoes them.
_SCALAR_LITERAL = re.compile(r"(?<![\w.$])(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false)(?![\w.])")


def _echoed(query: str, variables: Any) -> frozenset[str]:
    """The scalars that graphql-core's messages may echo from a request that touches secrets.

    Coercion, validation and syntax errors print the offending input (``found: {key: ...,
    value: ...}``, ``got invalid value 12345``), secret value included: every string, number
    and boolean of the variables and the document is masked in the messages.
    """
    if "encrypted" not in query and "encrypted" not in json.dumps(variables, default=str):
        return frozenset()
    found = scalars(variables)
    for literal in _STRING_LITERAL.findall(query):
        with contextlib.suppress(ValueError):
            found.add(json.loads(f'"{literal}"'))
    found.update(match.group(1) for match in _SCALAR_LITERAL.finditer(query))
    return frozenset(found)


def _formatted(error: GraphQLError, error_type: str, status: int) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    formatted["message"] = bounded(str(formatted.get("message", "")))  # never echo 1 MB names
    extensions = formatted.get("extensions") or {}
    if "errorType" not in extensions:
        formatted["extensions"] = {**extensions, "errorType": error_type, "statusCode": status}
    return formatted
