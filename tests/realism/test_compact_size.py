"""``compact_size`` measures exactly what ``_json.dumps`` writes, by a faster route."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_forge_storage._json import dumps
from pytest_forge_storage._usage import compact_size

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
