"""``compact_size`` measures exactly what ``_json.dumps`` writes, by a faster route."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_forge_storage._json import dumps
from pytest_forge_storage._json_size import remember
from pytest_forge_storage._usage import compact_size
from pytest_forge_storage.engine._plain import trusted_size

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@given(JSON)
def test_every_json_value_measures_as_dumps_writes_it(value: Any) -> None:
    assert compact_size(value) == len(dumps(value))


@pytest.mark.parametrize(
    "value",
    [
        {"name": "Zoë Ångström", "emoji": "😀", "ctl": "\x00\x1f\u2028", "q": '"\\'},
        [1e300, -0.0, 0.1, 5e-324, 12345678901234567890],
        "only a string",
        {"nested": [[[{"deep": [None, True, False]}]]]},
    ],
)
def test_tricky_values_measure_as_dumps_writes_them(value: Any) -> None:
    assert compact_size(value) == len(dumps(value))


def test_what_is_not_json_is_refused_as_dumps_refuses_it() -> None:
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        compact_size({"a": object()})
    assert compact_size(b'{"raw": "bytes as they are"}') == 28


@given(JSON, st.dictionaries(st.text(), JSON, max_size=3))
def test_a_body_whose_value_the_engine_measured_measures_as_dumps_writes_it(
    value: Any, others: dict[str, Any]
) -> None:
    """The engine's figure for the value stands in for encoding it again (any names, any
    other members, non-ASCII included), and only for that very object, once."""
    value = {"pad": "é" * 600, "inner": value}  # big enough to be remembered
    body = {**others, "value": value}
    if trusted_size(value) is None:  # too deep: not measured
        assert compact_size(body) == len(dumps(body))
        return
    assert compact_size(body) == len(dumps(body))
    assert compact_size(body) == len(dumps(body))  # taken once: this one encodes


def test_a_value_measured_for_another_body_is_not_taken_for_an_equal_one() -> None:
    value = {"name": "Zoë", "tags": ["a"] * 500}
    trusted_size(value)
    equal = {"name": "Zoë", "tags": ["a"] * 500}
    assert compact_size({"key": "k", "value": equal}) == len(dumps({"key": "k", "value": equal}))
    remember(value, 1 << 20)  # a wrong figure for ``value``: only ``value`` itself takes it
    assert compact_size({"key": "k", "value": equal}) == len(dumps({"key": "k", "value": equal}))


def test_a_served_set_of_a_large_value_is_charged_its_compact_body(
    forge_storage: Any,
) -> None:
    import requests

    value = {"rows": [{"id": i, "name": f"usér {i}", "score": i / 3} for i in range(2000)]}
    body = {"key": "big", "value": value, "options": {"ttl": {"value": 60, "unit": "SECONDS"}}}
    answer = requests.post(
        "https://api.atlassian.com/forge/storage/kvs/v1/set",
        json=body,  # requests' own separators: the raw body is not compact
        headers={"Authorization": "Bearer token"},
        timeout=5,
    )
    assert answer.status_code == 204
    assert forge_storage.usage.write_bytes == len(dumps(body))
