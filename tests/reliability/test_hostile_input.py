"""Hostile input: what a broken or malicious client can send, and the fake's answer to each.

Every case goes through each door (``requests``, ``httpx``, ``httpx`` async in-process, and the
HTTP server) as raw bytes, and must get Forge's error — status and code, a ``{code, message}``
body whose message does not echo megabytes back — never a traceback, never a 5xx, and nothing
stored. The table is docs/reliability.md's "Hostile input" table; each row names the rule it
follows (ref = shared/reference/forge-storage-api.md, D = its §17 decisions).

Two sweeps follow the table: every string field of every operation at 1 MB, and an array
where an object is expected (and the reverse) at every level of every operation's body.
"""

from __future__ import annotations

import base64
import copy
import json
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_forge_storage.protocol.openapi import OPERATIONS, documented_statuses
from tests.reliability._support import AUTH, ENTITY, JSON, Door

MB = 1_000_000
_INT_DIGITS = getattr(sys, "get_int_max_str_digits", lambda: 0)()


def j(data: Any) -> bytes:
    return json.dumps(data).encode()


def nested(levels: int, opener: str = "[", closer: str = "]") -> str:
    return opener * levels + "1" + closer * levels


def cursor_of(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


Check = Callable[[Any], None]


@dataclass(frozen=True)
class Case:
    id: str
    operation: str
    body: bytes
    status: int
    code: str | None  # None for a request that is served
    rule: str
    #: (status, code) the server answers instead, when it differs (it refuses big bodies unread)
    server: tuple[int, str] | None = None
    headers: dict[str, str] | None = None
    then: Check | None = None  # what must hold in the store afterwards
    marks: tuple[Any, ...] = field(default=())


def _nothing_stored(storage: Any) -> None:
    assert dict(storage.kvs) == {}, dict(storage.kvs)
    assert dict(storage.secrets) == {}
    assert dict(storage.entity(ENTITY)) == {}


def _stored(key: str, value: Any, *, exact_type: bool = True) -> Check:
    def check(storage: Any) -> None:
        assert dict(storage.kvs) == {key: value}
        if exact_type:
            assert type(storage.kvs[key]) is type(value)

    return check


def _kvs(key: str, value: Any, extra: str = "") -> bytes:
    return b'{"key":' + j(key) + b',"value":' + value.encode() + extra.encode() + b"}"


SET_K = '{"key":"k","value":%s}'

HOSTILE: list[Case] = [
    # -- nesting (decision 8: depth > 31 is MAX_DEPTH; the parser's own limit answers the same)
    Case("value 100,000 arrays deep", "set", _kvs("k", nested(100_000)), 400, "MAX_DEPTH", "D8"),
    Case(
        "value 100,000 objects deep",
        "set",
        _kvs("k", nested(100_000, '{"a":', "}")),
        400,
        "MAX_DEPTH",
        "D8",
    ),
    Case(
        "100,000 unclosed [", "set", b'{"key":"k","value":' + b"[" * 100_000, 400, "MAX_DEPTH", "D8"
    ),
    Case(
        "key 100,000 deep",
        "get",
        b'{"key":' + nested(100_000).encode() + b"}",
        400,
        "MAX_DEPTH",
        "D8",
    ),
    Case("value 900 deep (parses)", "set", _kvs("k", nested(900)), 400, "MAX_DEPTH", "D8"),
    Case(
        "batch item 100,000 deep",
        "batch/set",
        b'[{"key":"k","value":' + nested(100_000).encode() + b"}]",
        400,
        "MAX_DEPTH",
        "D8",
    ),
    Case(
        "entity value 100,000 deep",
        "entity/set",
        b'{"entityName":"employee","key":"k","value":{"profile":'
        + nested(100_000).encode()
        + b"}}",
        400,
        "MAX_DEPTH",
        "D8",
    ),
    Case(
        "transaction 100,000 deep",
        "transaction",
        b'{"set":[{"key":"k","value":' + nested(100_000).encode() + b"}]}",
        400,
        "MAX_DEPTH",
        "D8",
    ),
    Case(
        "query where 100,000 deep",
        "query",
        b'{"where":[{"property":"key","condition":"BEGINS_WITH","values":'
        + nested(100_000).encode()
        + b"}]}",
        400,
        "MAX_DEPTH",
        "D8",
    ),
    Case(
        "forged cursor of 100,000-deep JSON",
        "query",
        j({"after": cursor_of(b"[" * 100_000)}),
        400,
        "BAD_REQUEST",
        "D7: the cursor is opaque",
    ),
    Case(
        "forged entity cursor of 100,000-deep JSON",
        "entity/query",
        j({"entityName": ENTITY, "indexName": "by-age", "cursor": cursor_of(b"[" * 100_000)}),
        400,
        "BAD_REQUEST",
        "D7: the cursor is opaque",
    ),
    Case(
        "1 MB cursor",
        "query",
        j({"after": "c" * MB}),
        400,
        "BAD_REQUEST",
        "D7: the cursor is opaque",
    ),
    # -- size (decision 8; the server refuses a body over 16 MiB from Content-Length, unread)
    Case(
        "20 MB value",
        "set",
        j({"key": "k", "value": "x" * 20 * MB}),
        400,
        "MAX_SIZE",
        "D8: 240 KiB",
        server=(413, "MAX_SIZE"),
    ),
    Case(
        "20 MB secret",
        "secret/set",
        j({"key": "k", "value": "x" * 20 * MB}),
        400,
        "MAX_SIZE",
        "D8: 128 KiB",
        server=(413, "MAX_SIZE"),
    ),
    Case(
        "20 MB key",
        "get",
        j({"key": "k" * 20 * MB}),
        400,
        "KEY_TOO_LONG",
        "ref §4.2",
        server=(413, "MAX_SIZE"),
    ),
    Case(
        "5 MB batch (25 x 200 KB)",
        "batch/set",
        j([{"key": f"k{i}", "value": "x" * 200_000} for i in range(25)]),
        400,
        "BAD_REQUEST",
        "ref §5: 4 MB payload; D10",
    ),
    Case(
        "5 MB transaction (25 x 200 KB)",
        "transaction",
        j({"set": [{"key": f"k{i}", "value": "x" * 200_000} for i in range(25)]}),
        400,
        "INVALID_TRANSACTION_REQUEST",
        "ref §5: 4 MB payload; D11",
    ),
    # -- encoding (RFC 8259 §8.1: JSON text is UTF-8)
    Case("byte 0xFF", "set", b'{"key":"k","value":"\xff"}', 400, "BAD_REQUEST", "RFC 8259"),
    Case(
        "overlong UTF-8 C0 AF",
        "set",
        b'{"key":"k","value":"\xc0\xaf"}',
        400,
        "BAD_REQUEST",
        "RFC 8259",
    ),
    Case(
        "UTF-8-encoded surrogate ED A0 80",
        "set",
        b'{"key":"k","value":"\xed\xa0\x80"}',
        400,
        "BAD_REQUEST",
        "RFC 3629",
    ),
    Case("UTF-16 body", "set", (SET_K % "1").encode("utf-16"), 400, "BAD_REQUEST", "RFC 8259"),
    Case(
        "Latin-1 body labelled charset=iso-8859-1",
        "set",
        (SET_K % '"caf\u00e9"').encode("latin-1"),
        400,
        "BAD_REQUEST",
        "RFC 8259: the charset label is ignored",
        headers={**AUTH, "Content-Type": "application/json; charset=iso-8859-1"},
    ),
    Case(
        "UTF-8 byte order mark",
        "set",
        b"\xef\xbb\xbf" + (SET_K % "1").encode(),
        204,
        None,
        "RFC 8259 §8.1: may be ignored",
        then=_stored("k", 1),
    ),
    Case(
        "lone high surrogate \\ud800",
        "set",
        SET_K.encode() % b'"\\ud800"',
        400,
        "BAD_REQUEST",
        "RFC 8259 §8.2",
    ),
    Case(
        "lone low surrogate \\udfff in a key",
        "get",
        b'{"key":"a\\udfff"}',
        400,
        "BAD_REQUEST",
        "RFC 8259 §8.2",
    ),
    Case(
        "lone surrogate in an object member name",
        "set",
        SET_K.encode() % b'{"\\udc00":1}',
        400,
        "BAD_REQUEST",
        "RFC 8259 §8.2",
    ),
    Case(
        "surrogate pair \\ud83d\\ude00",
        "set",
        SET_K.encode() % b'"\\ud83d\\ude00"',
        204,
        None,
        "RFC 8259 §7",
        then=_stored("k", "\U0001f600"),
    ),
    Case(
        "escaped backslash before ud800",
        "set",
        SET_K.encode() % b'"\\\\ud800"',
        204,
        None,
        "RFC 8259 §7",
        then=_stored("k", "\\ud800"),
    ),
    # -- content types (the fake judges the body, not its label: docs/reliability.md)
    Case(
        "JSON labelled text/plain",
        "set",
        (SET_K % "1").encode(),
        204,
        None,
        "decision: accepted",
        headers={**AUTH, "Content-Type": "text/plain"},
        then=_stored("k", 1),
    ),
    Case(
        "no Content-Type",
        "set",
        (SET_K % "1").encode(),
        204,
        None,
        "decision: accepted",
        headers=AUTH,
        then=_stored("k", 1),
    ),
    Case(
        "form-encoded body",
        "set",
        b"key=k&value=1",
        400,
        "BAD_REQUEST",
        "not JSON",
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    ),
    Case(
        "XML body",
        "set",
        b"<set><key>k</key></set>",
        400,
        "BAD_REQUEST",
        "not JSON",
        headers={**AUTH, "Content-Type": "application/xml"},
    ),
    Case("empty body", "set", b"", 400, "BAD_REQUEST", "D1: a JSON body"),
    # -- JSON syntax and values
    Case(
        "duplicate member 'key': the last wins",
        "set",
        b'{"key":"a","key":"b","value":1}',
        204,
        None,
        "decision: as JSON.parse",
        then=_stored("b", 1),
    ),
    Case(
        "duplicate member 'value': the last wins",
        "set",
        b'{"key":"k","value":1,"value":{"x":2}}',
        204,
        None,
        "decision: as JSON.parse",
        then=_stored("k", {"x": 2}),
    ),
    Case("NaN", "set", SET_K.encode() % b"NaN", 400, "BAD_REQUEST", "RFC 8259 §6"),
    Case("Infinity", "set", SET_K.encode() % b"Infinity", 400, "BAD_REQUEST", "RFC 8259 §6"),
    Case("-Infinity", "set", SET_K.encode() % b"-Infinity", 400, "BAD_REQUEST", "RFC 8259 §6"),
    Case("1e400", "set", SET_K.encode() % b"1e400", 400, "BAD_REQUEST", "RFC 8259 §6: a double"),
    Case("-1e400", "set", SET_K.encode() % b"-1e400", 400, "BAD_REQUEST", "RFC 8259 §6"),
    Case("1e400 as query limit", "query", b'{"limit":1e400}', 400, "BAD_REQUEST", "RFC 8259 §6"),
    Case(
        "1e-400 underflows to 0",
        "set",
        SET_K.encode() % b"1e-400",
        204,
        None,
        "as a double",
        then=_stored("k", 0.0),
    ),
    Case("-0", "set", SET_K.encode() % b"-0", 204, None, "a number", then=_stored("k", 0)),
    Case("-0.0", "set", SET_K.encode() % b"-0.0", 204, None, "a number", then=_stored("k", 0.0)),
    Case(
        "integer of 5,000 digits",
        "set",
        SET_K.encode() % (b"9" * 5000),
        400 if _INT_DIGITS else 204,
        "BAD_REQUEST" if _INT_DIGITS else None,
        "Python's int limit (4,300 digits)",
    ),
    Case(
        "TTL of 4,300 digits (days)",
        "set",
        b'{"key":"k","value":1,"options":{"ttl":{"unit":"DAYS","value":%s}}}' % (b"9" * 4300),
        400,
        "BAD_REQUEST",
        "D5: at most one year",
    ),
    Case(
        "TTL value 1.5",
        "set",
        j({"key": "k", "value": 1, "options": {"ttl": {"value": 1.5, "unit": "DAYS"}}}),
        400,
        "BAD_REQUEST",
        "D5",
    ),
    Case("query limit 10.0", "query", b'{"limit":10.0}', 400, "BAD_REQUEST", "spec: integer"),
    Case("query limit true", "query", b'{"limit":true}', 400, "BAD_REQUEST", "spec: integer"),
    Case('query limit "10"', "query", b'{"limit":"10"}', 400, "BAD_REQUEST", "spec: integer"),
    Case(
        "query limit 10**30", "query", j({"limit": 10**30}), 400, "LIST_QUERY_LIMIT_EXCEEDED", "D7"
    ),
    Case("query limit 0", "query", b'{"limit":0}', 400, "LIST_QUERY_LIMIT_EXCEEDED", "D7"),
    Case(
        "entity query limit 10.0",
        "entity/query",
        j({"entityName": ENTITY, "indexName": "by-age", "limit": 10.0}),
        400,
        "BAD_REQUEST",
        "spec: integer",
    ),
    Case("trailing garbage", "set", (SET_K % "1").encode() + b" x", 400, "BAD_REQUEST", "RFC 8259"),
    Case("trailing comma", "set", b'{"key":"k","value":1,}', 400, "BAD_REQUEST", "RFC 8259"),
    Case("single quotes", "set", b"{'key':'k','value':1}", 400, "BAD_REQUEST", "RFC 8259"),
    Case("a comment", "set", b'{"key":"k",/* c */"value":1}', 400, "BAD_REQUEST", "RFC 8259"),
    Case("a bare string body", "get", b'"k"', 400, "BAD_REQUEST", "spec: an object"),
    Case("null body", "get", b"null", 400, "BAD_REQUEST", "spec: an object"),
    Case("null value", "set", SET_K.encode() % b"null", 400, "BAD_REQUEST", "ref §5"),
    Case(
        "an object for a batch", "batch/get", b'{"key":"k"}', 400, "BAD_REQUEST", "spec: an array"
    ),
]


def _key_case(key: str, code: str | None, rule: str, operation: str = "set") -> Case:
    if operation.startswith("entity/"):
        body = j({"entityName": ENTITY, "key": key, "value": {"age": 1}})
    else:
        body = j({"key": key, "value": 1})
    then = _stored(key, 1) if code is None and operation == "set" else None
    return Case(f"key {key[:12]!r}{'...' if len(key) > 12 else ''} ({len(key)})", operation, body,
                204 if code is None else 400, code, rule, then=then)  # fmt: skip


#: Keys at the edges of /^(?!\s+$)[a-zA-Z0-9:._\s-#]+$/ (JavaScript's \s), ref §4.2 and §5.
KEYS: list[Case] = [
    _key_case("", "KEY_TOO_SHORT", "ref §4.2"),
    _key_case("", "EMPTY_KEY", "ref §4.2", "entity/set"),
    _key_case("k" * 500, None, "ref §5: 500"),
    _key_case("k" * 501, "KEY_TOO_LONG", "ref §5: 500"),
    _key_case(" " * 501, "KEY_TOO_LONG", "ref §4.2: length before pattern"),
    _key_case("   ", "INVALID_KEY", "ref §5: not only whitespace"),
    _key_case("\t\n", "INVALID_KEY", "ref §5: not only whitespace"),
    _key_case("a\tb", None, "ref §5: \\s inside"),
    _key_case("a\nb", None, "ref §5: \\s inside"),
    _key_case("a\n", None, "ref §5: \\Z, not $"),
    _key_case("a\u00a0b", None, "JS \\s: no-break space"),
    _key_case("a\ufeffb", None, "JS \\s: U+FEFF"),
    _key_case("\ufeff", "INVALID_KEY", "JS \\s: whitespace only"),
    _key_case("\u3000", "INVALID_KEY", "JS \\s: whitespace only"),
    _key_case("a\x1cb", "INVALID_KEY", "not JS \\s (Python's \\s matches U+001C)"),
    _key_case("a\x85b", "INVALID_KEY", "not JS \\s (Python's \\s matches U+0085)"),
    _key_case("a\u200bb", "INVALID_KEY", "zero-width space is not \\s"),
    _key_case("a\x00b", "INVALID_KEY", "U+0000"),
    _key_case("\u0430", "INVALID_KEY", "Cyrillic a, a look-alike"),
    _key_case("\uff4b", "INVALID_KEY", "fullwidth k, a look-alike"),
    _key_case("caf\u00e9", "INVALID_KEY", "not ASCII"),
    _key_case("\U0001f600", "INVALID_KEY", "astral"),
    _key_case("a/b", "INVALID_KEY", "ref §5"),
    _key_case("-#:._", None, "ref §5"),
]


def _params(cases: list[Case]) -> list[Any]:
    return [pytest.param(case, id=case.id, marks=case.marks) for case in cases]


@pytest.mark.parametrize("case", _params(HOSTILE + KEYS))
def test_hostile_rest_request_gets_forges_answer(door: Door, case: Case) -> None:
    answer = door.rest(case.operation, case.body, case.headers)
    status, code = case.status, case.code
    if case.server is not None and not door.in_process:
        status, code = case.server
    assert answer.status < 500, answer
    assert answer.status in documented_statuses(case.operation), answer
    if code is None:
        assert answer.status == status, answer
    else:
        assert answer.error() == (status, code), answer
        if door.in_process or case.server is None:
            [call] = door.storage.calls
            assert (call.status, call.error_code) == (status, code)
        _nothing_stored(door.storage)
    if case.then is not None:
        case.then(door.storage)


def test_a_20_mb_body_in_process_costs_a_few_copies_of_itself(forge_storage: Any) -> None:
    import requests

    body = j({"key": "k", "value": "x" * 20 * MB})
    url = "https://api.atlassian.com/forge/storage/kvs/v1/set"
    tracemalloc.start()
    try:
        answer = requests.post(url, data=body, headers={**AUTH, **JSON}, timeout=30)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (answer.status_code, answer.json()["code"]) == (400, "MAX_SIZE")
    assert peak < 6 * len(body), f"peak {peak / MB:.0f} MB for a {len(body) / MB:.0f} MB body"


def test_the_server_refuses_a_20_mb_body_before_reading_it(reliability_server: Any) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", reliability_server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /forge/storage/kvs/v1/set HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
            b"Content-Type: application/json\r\nContent-Length: 20000000\r\n\r\n" + b"{" * 1000
        )
        answer = b""  # answered, and closed, with only 1 KB of the 20 MB sent
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"Connection: close" in answer
    assert b'"code":"MAX_SIZE"' in answer


# -- GraphQL ------------------------------------------------------------------------------------

GQL_SET = (
    "mutation set($input: SetAppStoredEntityMutationInput!) { appStorage { "
    "setAppStoredEntity(input: $input) { success errors { message extensions { errorType "
    "statusCode } } } } }"
)
GQL_GET = (
    "query get($key: ID!, $encrypted: Boolean!) { appStoredEntity(key: $key, "
    "encrypted: $encrypted) { key value } }"
)


def gql_set(value: bytes, key: str = "k") -> bytes:
    """A set with ``value`` spliced in raw, as hostile JSON cannot be built with json.dumps."""
    head = b'{"query":' + j(GQL_SET) + b',"variables":{"input":{"key":' + j(key)
    return head + b',"encrypted":false,"value":' + value + b"}}}"


def gql_document(document: str) -> bytes:
    return j({"query": document})


@dataclass(frozen=True)
class GqlCase:
    id: str
    body: bytes
    status: int
    error_type: str | None  # of the request, or of the mutation payload when status is 200
    rule: str
    server: tuple[int, str] | None = None
    headers: dict[str, str] | None = None


GRAPHQL: list[GqlCase] = [
    GqlCase("variable 100,000 deep", gql_set(nested(100_000).encode()), 400, "MAX_DEPTH", "D8"),
    GqlCase("variable 900 deep (parses)", gql_set(nested(900).encode()), 200, "MAX_DEPTH", "D8"),
    GqlCase("NaN variable", gql_set(b"NaN"), 400, "BAD_REQUEST", "RFC 8259 §6"),
    GqlCase("1e400 variable", gql_set(b"1e400"), 400, "BAD_REQUEST", "RFC 8259 §6"),
    GqlCase("lone surrogate variable", gql_set(b'"\\ud800"'), 400, "BAD_REQUEST", "RFC 8259 §8.2"),
    GqlCase("lone surrogate key", gql_set(b"1", key="\ud800"), 400, "BAD_REQUEST", "RFC 8259"),
    GqlCase("byte 0xFF in a variable", gql_set(b'"\xff"'), 400, "BAD_REQUEST", "RFC 8259 §8.1"),
    GqlCase(
        "20 MB variable", gql_set(j("x" * 20 * MB)), 200, "MAX_SIZE", "D8", server=(413, "MAX_SIZE")
    ),
    GqlCase("null value", gql_set(b"null"), 400, "GRAPHQL_VALIDATION_FAILED", "SDL: JSON!"),
    GqlCase(
        "selection set 5,000 deep",
        gql_document(
            '{ appStoredEntity(key: "k", encrypted: false) ' + "{ key " * 5000 + "}" * 5001
        ),
        400,
        "GRAPHQL_PARSE_FAILED",
        "D12: malformed GraphQL",
    ),
    GqlCase(
        "literal value 5,000 deep",
        gql_document(
            'mutation { appStorage { setAppStoredEntity(input: {key: "k", encrypted: false, '
            "value: " + nested(5000) + "}) { success } } }"
        ),
        400,
        "GRAPHQL_PARSE_FAILED",
        "D12: malformed GraphQL",
    ),
    GqlCase(
        "GraphQL escape of a lone surrogate",
        gql_document('{ appStoredEntity(key: "\\ud800", encrypted: false) { key } }'),
        400,
        "GRAPHQL_PARSE_FAILED",
        "GraphQL spec: invalid Unicode escape",
    ),
    GqlCase(
        "1e400 literal in the document",
        gql_document(
            'mutation { appStorage { setAppStoredEntity(input: {key: "k", encrypted: false, '
            "value: 1e400}) { success errors { message extensions { errorType statusCode } } } } }"
        ),
        200,
        "BAD_REQUEST",
        "RFC 8259 §6",
    ),
    GqlCase(
        "variables as an array",
        j({"query": GQL_GET, "variables": []}),
        400,
        "GRAPHQL_VALIDATION_FAILED",
        "GraphQL over HTTP",
    ),
    GqlCase(
        "input as an array",
        j({"query": GQL_SET, "variables": {"input": []}}),
        400,
        "GRAPHQL_VALIDATION_FAILED",
        "GraphQL: input coercion",
    ),
    GqlCase("a batch of operations", j([{"query": GQL_GET}]), 400, "BAD_REQUEST", "D12"),
    GqlCase(
        "JSON labelled text/plain",
        gql_set(b"1"),
        200,
        None,
        "decision: accepted",
        headers={**AUTH, "Content-Type": "text/plain"},
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in GRAPHQL])
def test_hostile_graphql_request_gets_an_error_in_graphqls_shape(door: Door, case: GqlCase) -> None:
    answer = door.graphql(case.body, case.headers)
    status, error_type = case.status, case.error_type
    if case.server is not None and not door.in_process:
        status, error_type = case.server
        assert answer.error() == (status, error_type)  # the server's own refusal is REST-shaped
        return
    assert answer.status == status, answer
    if status != 200:
        [error] = answer.graphql_errors()
        assert (error["extensions"]["errorType"], error["extensions"]["statusCode"]) == (
            error_type,
            status,
        )
    else:
        payload = answer.json()["data"]["appStorage"]["setAppStoredEntity"]
        if error_type is None:
            assert payload["success"] is True, payload
            return
        assert payload["success"] is False, payload
        assert [e["extensions"]["errorType"] for e in payload["errors"]] == [error_type]
    _nothing_stored(door.storage)


# -- sweeps: every field too long, every object an array --------------------------------------

VALID: dict[str, Any] = {
    "get": {"key": "k", "options": {"metadataFields": ["CREATED_AT"]}},
    "set": {
        "key": "k",
        "value": {"a": 1},
        "options": {"ttl": {"value": 1, "unit": "DAYS"}, "returnValue": "LATEST"},
    },
    "delete": {"key": "k"},
    "query": {
        "where": [{"property": "key", "condition": "BEGINS_WITH", "values": ["k"]}],
        "limit": 5,
        "after": "",
        "options": {"metadataFields": ["CREATED_AT"]},
    },
    "secret/get": {"key": "k", "options": {"metadataFields": ["UPDATED_AT"]}},
    "secret/set": {"key": "k", "value": "s", "options": {"ttl": {"value": 1, "unit": "DAYS"}}},
    "secret/delete": {"key": "k"},
    "entity/get": {"entityName": ENTITY, "key": "k", "options": {"metadataFields": ["CREATED_AT"]}},
    "entity/set": {
        "entityName": ENTITY,
        "key": "k",
        "value": {"name": "n", "age": 3},
        "options": {"ttl": {"value": 1, "unit": "DAYS"}},
    },
    "entity/delete": {"entityName": ENTITY, "key": "k"},
    "entity/query": {
        "entityName": ENTITY,
        "indexName": "by-age",
        "range": {"condition": "BETWEEN", "values": [1, 5]},
        "filters": {"and": [{"property": "name", "condition": "BEGINS_WITH", "values": ["n"]}]},
        "sort": "ASC",
        "limit": 5,
        "cursor": "",
        "options": {"metadataFields": ["CREATED_AT"]},
    },
    "batch/set": [
        {"key": "k", "value": 1, "options": {"ttl": {"value": 1, "unit": "DAYS"}}},
        {"key": "e", "entityName": ENTITY, "value": {"age": 1}},
    ],
    "batch/get": [{"key": "k", "options": {"metadataFields": ["CREATED_AT"]}}],
    "batch/delete": [{"key": "k"}, {"key": "e", "entityName": ENTITY}],
    "transaction": {
        "set": [{"key": "t", "value": 1}],
        "delete": [{"key": "d"}],
        "check": [
            {
                "key": "c",
                "entityName": ENTITY,
                "conditions": {
                    "and": [{"property": "age", "condition": "NOT_EXISTS", "values": [True]}]
                },
            }
        ],
    },
}
_CURSOR_FIELDS = {"query": "after", "entity/query": "cursor"}

Path = tuple[str | int, ...]


def _paths(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every node of a body with its path, except inside stored values (any JSON goes there)."""
    yield path, node
    if path and path[-1] == "value":
        return
    children = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for name, child in children:
        yield from _paths(child, (*path, name))


def _replace(body: Any, path: Path, new: Any) -> Any:
    if not path:
        return new
    body = copy.deepcopy(body)
    parent = body
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = new
    return body


def _valid(operation: str, storage: Any) -> Any:
    """The operation's valid body; a query's cursor is a real one, so the sweep reaches it."""
    body = copy.deepcopy(VALID[operation])
    if operation in _CURSOR_FIELDS:
        for i in range(3):
            storage.kvs[f"k{i}"] = i
            storage.entity(ENTITY)[f"k{i}"] = {"name": "n", "age": 2}
        first = {"limit": 1}
        if operation == "entity/query":
            first.update(entityName=ENTITY, indexName="by-age")
        body[_CURSOR_FIELDS[operation]] = _send(operation, first).json()["cursor"]
    return body


def _assert_forge_answer(operation: str, answer: Any, label: str) -> None:
    assert answer.status < 500, (label, answer)
    assert answer.status in documented_statuses(operation), (label, answer)
    if answer.status >= 400:
        answer.error()
    elif operation.startswith("batch/"):
        for failed in answer.json()["failedKeys"]:
            assert len(failed["error"]["message"]) <= 1000, (
                label,
                failed["error"]["message"][:200],
            )


def _send(operation: str, body: Any) -> Any:
    import requests

    from tests.reliability._support import Answer

    url = f"https://api.atlassian.com/forge/storage/kvs/v1/{operation}"
    r = requests.post(url, data=j(body), headers={**AUTH, **JSON}, timeout=30)
    return Answer(r.status_code, r.headers, r.content)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_the_valid_bodies_of_the_sweeps_are_served(operation: str, forge_storage: Any) -> None:
    from tests.reliability._support import prepare

    prepare(forge_storage)
    answer = _send(operation, _valid(operation, forge_storage))
    assert answer.status in (200, 204) or (answer.status, answer.json()["code"]) == (
        404,
        "KEY_NOT_FOUND",
    ), answer


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_string_field_at_1_mb(operation: str, forge_storage: Any) -> None:
    from tests.reliability._support import prepare

    prepare(forge_storage)
    body = _valid(operation, forge_storage)
    fields = [path for path, node in _paths(body) if isinstance(node, str)]
    fields += [
        (*path, "value")
        for path, node in _paths(body)
        if isinstance(node, dict) and "value" in node
    ]
    assert fields
    for path in fields:
        answer = _send(operation, _replace(body, path, "\u00e9" * MB))
        _assert_forge_answer(operation, answer, path)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_an_array_for_every_object_and_an_object_for_every_array(
    operation: str, forge_storage: Any
) -> None:
    from tests.reliability._support import prepare

    prepare(forge_storage)
    body = _valid(operation, forge_storage)
    swapped = [(path, []) for path, node in _paths(body) if isinstance(node, dict)]
    swapped += [(path, {}) for path, node in _paths(body) if isinstance(node, list)]
    assert swapped
    for path, new in swapped:
        answer = _send(operation, _replace(body, path, new))
        _assert_forge_answer(operation, answer, path)
        if path[-1:] != ("value",):
            assert answer.status == 400, (path, answer)
