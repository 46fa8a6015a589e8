"""Secrets never print, as a property: any secret value, any corruption of the body.

For random secret values (text, numbers, booleans, nested) sent through REST and GraphQL as
random corruptions of a well-formed request (trailing commas, Latin-1 bytes, misspelled or extra
members, truncation, wrong types), the value never appears in anything the fake prints: call
reprs and summaries, assertion messages, or the masked bodies.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_forge_storage import mock_forge_storage
from pytest_forge_storage.router import describe_calls

REST = "https://api.atlassian.com/forge/storage/kvs/v1/secret/set"
GRAPHQL = "https://api.atlassian.com/graphql"
AUTH = {"Authorization": "Bearer t", "Content-Type": "application/json"}
MUTATION = (
    "mutation m($input: SetAppStoredEntityMutationInput!) { appStorage { "
    "setAppStoredEntity(input: $input) { success } } }"
)

#: Distinctive scalars: long enough that finding one in printed text is never a coincidence.
_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=6, max_size=24
).map(lambda t: "sx" + t + "q9")
_INTS = st.integers(min_value=10**8, max_value=10**15) | st.integers(-(10**15), -(10**8))
_SCALARS = _TEXT | _INTS
_VALUES = (
    _SCALARS
    | st.lists(_SCALARS, min_size=1, max_size=3)
    | st.dictionaries(st.sampled_from(["a", "token", "deep"]), _SCALARS, min_size=1, max_size=3)
)


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for child in value.values() for leaf in _leaves(child)]
    if isinstance(value, list):
        return [leaf for child in value for leaf in _leaves(child)]
    return [value if isinstance(value, str) else json.dumps(value)]


def _corrupt(body: dict[str, Any], how: str) -> bytes:
    text = json.dumps(body, ensure_ascii=False)
    if how == "trailing comma":
        return (text[:-1] + ",}").encode()
    if how == "latin-1":
        return text.encode("latin-1", "replace")
    if how == "misspelled":
        return json.dumps({"key": body["key"], "valeu": body["value"]}).encode()
    if how == "extra":
        return json.dumps({**body, "secretish": body["value"]}).encode()
    if how == "truncated":
        return text[: max(1, len(text) - 2)].encode()
    if how == "wrong type":  # the value where the schema wants options (keys are never secret)
        return json.dumps({**body, "options": body["value"]}).encode()
    return text.encode()


def _printed(storage: Any) -> str:
    parts = [repr(call) + str(call) for call in storage.calls]
    parts.append(describe_calls(storage.calls))
    for call in storage.calls:
        parts.append(json.dumps(call.masked_request(), default=str))
        parts.append(json.dumps(call.masked_response(), default=str))
    for operation in ("secret/set", "secret/get"):
        try:
            storage.assert_called(operation, times=1_000)
        except AssertionError as caught:
            parts.append(str(caught))
    return "\n".join(parts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=_VALUES,
    how=st.sampled_from(
        [
            "none",
            "trailing comma",
            "latin-1",
            "misspelled",
            "extra member",
            "truncated",
            "wrong type",
        ]
    ),
    door=st.sampled_from(["rest", "graphql"]),
)
def test_a_secret_never_prints(value: Any, how: str, door: str) -> None:
    with mock_forge_storage() as storage:
        if door == "rest":
            requests.post(
                REST, data=_corrupt({"key": "k", "value": value}, how), headers=AUTH, timeout=5
            )
        else:
            variables = {"input": {"key": "k", "value": value, "encrypted": True}}
            if how == "wrong type":  # where the schema wants a Boolean
                variables["input"]["encrypted"] = value
            body = {"query": MUTATION, "variables": variables}
            raw = _corrupt(body, "latin-1") if how == "latin-1" else json.dumps(body).encode()
            requests.post(GRAPHQL, data=raw, headers=AUTH, timeout=5)
        printed = _printed(storage)
    for leaf in _leaves(value):
        assert leaf not in printed, (leaf, printed[:2000])
