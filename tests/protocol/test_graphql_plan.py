"""Execution plans answer byte for byte what graphql-core answers.

Every document runs twice through a real ``httpx.Client``: on the plan (where it has one)
and with ``FORCE_GRAPHQL_CORE`` set. Status, body bytes and the recorded calls must be the
same. The corpus is the documents of the other GraphQL tests plus documents written for
the plan's edges; Hypothesis varies the variables.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_forge_storage import mock_forge_storage
from pytest_forge_storage.protocol import _graphql_document, _graphql_plan
from pytest_forge_storage.protocol._graphql_schema import schema

URL = "https://api.atlassian.com/graphql"
AUTH = {"Authorization": "Bearer t"}
ARI = "ari:cloud:jira::site/1234"

#: Documents written for the plan's edges (each runs with several variable sets).
EDGES: list[tuple[str, list[Any]]] = [
    ('{ appStoredEntity(key: "k") { key value } }', [None]),
    ('{ appStoredEntity(key: "missing") { value key } }', [None]),
    ('{ appStoredEntity(key: "s", encrypted: true) { value } }', [None]),
    ('{ appStoredEntity(key: "k", encrypted: null, contextAri: null) { value } }', [None]),
    ("{ appStoredEntity(key: 12) { key value } }", [None]),
    ('{ a: appStoredEntity(key: "k") { __typename k: key v: value } }', [None]),
    ('{ appStoredEntity(key: "k") { value value } }', [None]),
    ('{ appStoredEntity(key: "") { key value } }', [None]),
    ('{ appStoredEntity(key: "k", contextAri: "nope") { value } }', [None]),
    (f'{{ appStoredEntity(key: "k", contextAri: "{ARI}") {{ value }} }}', [None]),
    ('{ appStoredEntity(key: "k") { value @include(if: false) key } }', [None]),
    ('{ appStoredEntity(key: "k") @skip(if: true) { value } }', [None]),
    ('{ __typename appStoredEntity(key: "k") { value } }', [None]),
    ('{ ... on Query { appStoredEntity(key: "k") { value } } }', [None]),
    ('{ appStoredEntity(key: "k") { ...E } } fragment E on AppStoredEntity { value }', [None]),
    (
        "query Q($key: ID!, $encrypted: Boolean!) "
        "{ appStoredEntity(key: $key, encrypted: $encrypted) { key value } }",
        [
            {"key": "k", "encrypted": False},
            {"key": "s", "encrypted": True},
            {"key": "k"},
            {"key": None, "encrypted": False},
            {"key": 7, "encrypted": False},
            {"key": 7.0, "encrypted": False},
            {"key": True, "encrypted": False},
            {"key": "k", "encrypted": "yes"},
            {"key": "k", "encrypted": 0},
            {"key": ["k"], "encrypted": False},
            {"key": "k", "encrypted": False, "extra": 1},
            {},
        ],
    ),
    (
        "query Q($key: ID!, $encrypted: Boolean, $ari: ID, $unused: Int) "
        "{ appStoredEntity(contextAri: $ari, key: $key, encrypted: $encrypted) { value } }",
        [
            {"key": "k"},
            {"key": "k", "encrypted": None, "ari": None},
            {"key": "k", "ari": ARI, "unused": 3},
            {"key": "k", "ari": "bad"},
            {"key": "k", "unused": 2**31},
            {"key": "k", "unused": 1.5},
            {"key": "k", "unused": True},
        ],
    ),
    ('query Q($key: ID! = "k") { appStoredEntity(key: $key) { value } }', [None, {"key": "s"}]),
    (
        'query A { appStoredEntity(key: "k") { value } } '
        'query B { b: appStoredEntity(key: "s", encrypted: true) { key value } }',
        [None],
    ),
    (
        "query Q($n: String!, $key: ID!) "
        "{ appStoredCustomEntity(entityName: $n, key: $key) { entityName key value __typename } }",
        [
            {"n": "employee", "key": "e1"},
            {"n": "employee", "key": "missing"},
            {"n": "undeclared", "key": "e1"},
            {"n": "Bad Name!", "key": "e1"},
            {"n": 5, "key": "e1"},
        ],
    ),
    ('{ appStoredCustomEntity(entityName: "employee", key: "e1") { value } }', [None]),
    (
        'mutation { appStorage { setAppStoredEntity(input: {key: "w", value: 1}) { success } } }',
        [None],
    ),
]
#: Modules whose GraphQL documents join the corpus (with their ``*_VARIABLES``).
CORPUS_MODULES = ("test_graphql", "test_graphql_entities", "test_graphql_queries")


def corpus() -> Iterator[tuple[str, Any]]:
    for query, variable_sets in EDGES:
        for variables in variable_sets:
            yield query, variables
    for name in CORPUS_MODULES:
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if isinstance(value, str) and "appStor" in value and "{" in value:
                yield value, getattr(module, f"{attribute}_VARIABLES", None)


def seed(storage: Any) -> None:
    storage.kvs["k"] = {"a": [1, 2.5, None, "x"]}
    storage.kvs["a"] = "first"
    storage.kvs["b"] = 2
    storage.secrets["s"] = "secret"
    storage.secrets["b"] = True
    storage.define_entity("employee", {"age": "integer", "team": "string"}, ["team"])
    for i in range(3):
        storage.set(f"e{i}", {"age": 20 + i, "team": "x"}, entity="employee")


@pytest.fixture
def storage() -> Iterator[Any]:
    with mock_forge_storage() as storage:
        seed(storage)
        yield storage


def _call(call: Any) -> tuple[Any, ...]:
    return (
        call.api, call.operation, call.key, call.entity_name, call.status, call.error_code,
        call.installation, call.url, call.request, call.response,
    )  # fmt: skip


def both(storage: Any, client: httpx.Client, body: dict[str, Any]) -> list[Any]:
    """The plan's answer and graphql-core's, as (status, body bytes, recorded calls)."""
    answers = []
    for force in (False, True):
        before = len(storage.calls)
        _graphql_plan.FORCE_GRAPHQL_CORE = force
        try:
            response = client.post(URL, json=body, headers=AUTH)
        finally:
            _graphql_plan.FORCE_GRAPHQL_CORE = False
        calls = [_call(c) for c in storage.calls[before:]]
        answers.append((response.status_code, response.content, calls))
    return answers


@pytest.mark.parametrize(("query", "variables"), list(corpus()))
def test_the_plan_answers_what_graphql_core_answers(
    storage: Any, query: str, variables: Any
) -> None:
    with httpx.Client() as client:
        for operation_name in (None, "A", "B", "Q"):
            body = {"query": query, "variables": variables}
            if operation_name is not None:
                if f"query {operation_name} " not in query:
                    continue
                body["operationName"] = operation_name
            planned, core = both(storage, client, body)
            assert planned == core


def test_the_common_shapes_have_a_plan() -> None:
    """The fast path is taken (a differential test alone would pass with no plans)."""
    has_plan = {
        '{ appStoredEntity(key: "k") { key value } }': True,
        "{ a: appStoredEntity(key: 1) { __typename k: key } }": True,
        "query ($k: ID!, $e: Boolean) { appStoredEntity(key: $k, encrypted: $e) { value } }": True,
        '{ appStoredCustomEntity(entityName: "e", key: "k") { entityName key value } }': True,
        '{ appStoredEntity(key: "k") { value @skip(if: true) } }': False,
        '{ appStoredEntity(key: "k") { ...E } } fragment E on AppStoredEntity { value }': False,
        'query ($k: ID! = "k") { appStoredEntity(key: $k) { value } }': False,
        "{ appStoredEntities { nodes { key } } }": False,
        'mutation { appStorage { setAppStoredEntity(input: {key: "k", value: 1}) '
        "{ success } } }": False,
    }
    for query, expected in has_plan.items():
        executable = _graphql_document.document(query).select(None).executable
        assert executable is not None
        plan = _graphql_plan.compile_plan(schema(), executable, None)
        assert (plan is not None) is expected, query


def test_a_fault_on_a_planned_field_is_answered_alike(storage: Any) -> None:
    body = {"query": '{ appStoredEntity(key: "k") { value } }'}
    with httpx.Client() as client:
        for code in ("KEY_NOT_FOUND", "TOO_MANY_REQUESTS", "INTERNAL_SERVER_ERROR"):
            answers = []
            for force in (False, True):
                storage.fail("get", code=code)
                _graphql_plan.FORCE_GRAPHQL_CORE = force
                try:
                    before = len(storage.calls)
                    response = client.post(URL, json=body, headers=AUTH)
                finally:
                    _graphql_plan.FORCE_GRAPHQL_CORE = False
                calls = [_call(c) for c in storage.calls[before:]]
                answers.append((response.status_code, response.content, calls))
            assert answers[0] == answers[1]
            assert len(answers[0][2]) == 1  # recorded once


#: Values a client might send for a variable.
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["k", "s", "a", "b", "e1", "", "missing", ARI]),
    st.text(max_size=8),
)  # fmt: skip
_VALUES = st.one_of(_SCALARS, st.lists(_SCALARS, max_size=2), st.dictionaries(st.text(), _SCALARS))
_NAMES = st.sampled_from(["key", "encrypted", "ari", "n", "first", "unused"])
PLANNED = (
    "query Q($key: ID!, $encrypted: Boolean, $ari: ID, $first: Int) "
    "{ x: appStoredEntity(key: $key, encrypted: $encrypted, contextAri: $ari) "
    "{ __typename key value } }",
    "query Q($key: ID!, $n: String!) { appStoredCustomEntity(entityName: $n, key: $key) "
    "{ key value entityName } }",
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    query=st.sampled_from(PLANNED),
    variables=st.one_of(st.none(), st.dictionaries(_NAMES, _VALUES, max_size=5)),
)
def test_any_variables_are_answered_alike(query: str, variables: Any) -> None:
    with mock_forge_storage() as storage, httpx.Client() as client:
        seed(storage)
        planned, core = both(storage, client, {"query": query, "variables": variables})
        assert planned == core
