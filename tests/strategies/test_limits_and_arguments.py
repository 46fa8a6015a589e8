"""The strategies reach Forge's limits when asked, stay small by default, and say what to
write instead of a bad argument; hypothesis stays optional."""

from __future__ import annotations

import importlib
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FailedHealthCheck, NoSuchExample, Unsatisfiable

from pytest_forge_storage import ForgeStorage, ForgeStorageError, _limits
from pytest_forge_storage.engine._validation import depth_of, encoded_size
from pytest_forge_storage.engine._values import accepts
from pytest_forge_storage.strategies import (
    MAX_SAFE_INTEGER,
    _attribute,
    entity_values,
    keys,
    secret_keys,
    secret_values,
    values,
)

VISIBLE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:._-#"
FEW = settings(max_examples=40, deadline=None, database=None)
SEARCH = settings(max_examples=3000, deadline=None, database=None)
JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff" + "".join(
    chr(c) for c in range(0x2000, 0x200B)
)


@pytest.fixture
def storage() -> ForgeStorage:
    storage = ForgeStorage()
    storage.define_entity(
        "employee",
        {"name": "string", "age": "integer", "score": "float", "on": "boolean", "extra": "any"},
        ["age", {"name": "by-on-name", "range": ["name"], "partition": ["on"]}],
    )
    return storage


# -- keys --------------------------------------------------------------------------------
@FEW
@given(key=keys(min_size=500, max_size=500))
def test_a_key_of_exactly_500_characters_can_be_drawn(key: str) -> None:
    assert len(key) == 500
    assert _limits.KEY_PATTERN.match(key)


@FEW
@given(key=keys())
def test_default_keys_are_short_and_never_whitespace_only(key: str) -> None:
    assert 1 <= len(key) <= 24
    assert set(key) <= set(VISIBLE + JS_SPACE)
    assert key.strip(JS_SPACE)


@FEW
@given(key=keys(whitespace=False))
def test_keys_without_whitespace_use_only_the_visible_characters(key: str) -> None:
    assert set(key) <= set(VISIBLE)


def test_keys_include_javascript_whitespace_but_not_pythons_extra() -> None:
    # Forge's \s is JavaScript's: U+FEFF and U+3000 are in, U+001C and U+0085 are not.
    assert "\ufeff" in find(keys(), lambda k: "\ufeff" in k, settings=SEARCH)
    assert "\u3000" in find(keys(), lambda k: "\u3000" in k, settings=SEARCH)
    with pytest.raises(NoSuchExample):
        find(
            keys(),
            lambda k: "\x1c" in k or "\x85" in k,
            settings=settings(SEARCH, max_examples=500),
        )


@FEW
@given(key=secret_keys(min_size=500))
def test_secret_keys_of_500_characters_fit_in_500_bytes(key: str) -> None:
    assert len(key) == 500
    assert len(key.encode("utf-8")) <= 500
    assert _limits.KEY_PATTERN.match(key)


def test_secret_keys_keep_wide_whitespace_where_it_fits() -> None:
    # a short key keeps its U+3000; a long one has it turned into plain spaces from the end
    assert "\u3000" in find(secret_keys(), lambda k: "\u3000" in k, settings=SEARCH)
    long = find(keys(min_size=500), lambda k: len(k.encode("utf-8")) > 500, settings=SEARCH)
    assert len(long.encode("utf-8")) > 500  # what keys() alone draws for KVS
    fitted = find(
        secret_keys(min_size=498, max_size=498),
        lambda k: "\u3000" in k,
        settings=SEARCH,
    )
    assert len(fitted.encode("utf-8")) <= 500


# -- values ------------------------------------------------------------------------------
@FEW
@given(value=values())
def test_default_values_are_small_non_null_json(value: Any) -> None:
    assert value is not None
    assert depth_of(value) <= 3
    assert encoded_size(value) < 2000


def test_nested_nulls_floats_and_safe_integers_are_drawn() -> None:
    assert find(values(), lambda v: isinstance(v, list) and None in v, settings=SEARCH) == [None]
    assert find(values(), lambda v: v == MAX_SAFE_INTEGER, settings=SEARCH) == MAX_SAFE_INTEGER
    assert isinstance(find(values(), lambda v: isinstance(v, float), settings=SEARCH), float)


@FEW
@given(value=values(max_depth=31, min_depth=31))
def test_values_of_the_maximum_depth_can_be_drawn(value: Any) -> None:
    assert depth_of(value) == _limits.VALUE_MAX_DEPTH


@FEW
@given(value=values(max_depth=0))
def test_max_depth_zero_draws_scalars(value: Any) -> None:
    assert not isinstance(value, (list, dict))
    assert value is not None


@FEW
@given(value=values(min_depth=2, max_depth=5))
def test_depth_stays_within_the_bounds(value: Any) -> None:
    assert 2 <= depth_of(value) <= 5


@settings(FEW, max_examples=10)
@given(value=values(min_bytes=_limits.VALUE_MAX_BYTES))
def test_values_of_exactly_240_kib_can_be_drawn(value: Any) -> None:
    assert encoded_size(value) == _limits.VALUE_MAX_BYTES


@settings(FEW, max_examples=10)
@given(value=values(min_bytes=1000, max_bytes=2000))
def test_small_values_are_padded_to_min_bytes(value: Any) -> None:
    assert 1000 <= encoded_size(value) <= 2000


@settings(FEW, max_examples=10)
@given(value=secret_values(min_bytes=_limits.SECRET_MAX_BYTES - 10))
def test_secrets_stay_within_128_kib(value: Any) -> None:
    assert _limits.SECRET_MAX_BYTES - 10 <= encoded_size(value) <= _limits.SECRET_MAX_BYTES


@FEW
@given(value=values(max_string_size=2000, max_bytes=1000))
def test_max_bytes_is_a_hard_cap(value: Any) -> None:
    assert encoded_size(value) <= 1000


# -- entity records ----------------------------------------------------------------------
def test_entity_attributes_reach_their_type_limits() -> None:
    storage = ForgeStorage()
    storage.define_entity("limits", {"age": "integer", "score": "float"})
    records = entity_values(storage, "limits", required=True)
    for limit in (_limits.INT32_MAX, _limits.INT32_MIN):
        assert find(records, lambda v, n=limit: v["age"] == n, settings=SEARCH)["age"] == limit
    big = find(records, lambda v: v["score"] > 9e125, settings=SEARCH)["score"]
    assert 9e125 < big < _limits.FLOAT_LIMIT
    tiny = find(records, lambda v: 0 < abs(v["score"]) < 1e-129, settings=SEARCH)["score"]
    assert abs(tiny) >= _limits.FLOAT_MIN_MAGNITUDE


@FEW
@given(data=st.data())
def test_entity_records_hold_declared_attributes_of_their_type(data: st.DataObject) -> None:
    storage = ForgeStorage()
    storage.define_entity("thing", {"n": "integer", "s": "string", "b": "boolean"})
    record = data.draw(entity_values(storage, "thing", required=["n"]))
    assert set(record) <= {"n", "s", "b"}
    assert isinstance(record["n"], int)
    assert -(2**31) <= record["n"] < 2**31
    if "s" in record:
        assert record["s"].strip()
    if "b" in record:
        assert isinstance(record["b"], bool)


@pytest.mark.parametrize("kind", _limits.ENTITY_ATTRIBUTE_TYPES)
@FEW
@given(data=st.data())
def test_each_attribute_type_draws_only_its_values_before_any_filter(
    kind: str, data: st.DataObject
) -> None:
    # entity_values() finally filters through the engine's own check; the strategy of each
    # type must not lean on that filter, or a wrong bound would only cost examples.
    assert accepts(kind, data.draw(_attribute(kind, 16, 2)))


def test_optional_attributes_may_be_missing(storage: ForgeStorage) -> None:
    assert find(entity_values(storage, "employee"), lambda v: True, settings=SEARCH) == {}


@FEW
@given(data=st.data())
def test_overrides_draw_from_your_strategy_filtered_to_the_type(data: st.DataObject) -> None:
    storage = ForgeStorage()
    storage.define_entity("thing", {"site": "string", "n": "integer"})
    strategy = entity_values(
        storage,
        "thing",
        required=True,
        overrides={"site": st.sampled_from(["acme", "   "]), "n": st.integers(0, 2**40)},
    )
    record = data.draw(strategy)
    assert record["site"] == "acme"  # the blank string is not a Forge string
    assert 0 <= record["n"] <= _limits.INT32_MAX


@FEW
@given(data=st.data())
def test_records_keep_within_the_index_byte_limits(data: st.DataObject) -> None:
    # An indexed string is at most 900 bytes (range) and 1,700 (partition, combined): a
    # record over them is never drawn, even from an override that allows it.
    storage = ForgeStorage()
    storage.define_entity(
        "thing", {"name": "string", "team": "string"}, [{"name": "by-name", "range": ["name"]}]
    )
    long_name = "\u00e9" * 451  # 902 bytes
    overrides = {"name": st.sampled_from([long_name, "short"])}
    record = data.draw(entity_values(storage, "thing", required=["name"], overrides=overrides))
    assert record["name"] == "short"


@FEW
@given(value=values(max_depth=0, min_bytes=100, max_bytes=100))
def test_scalars_padded_to_min_bytes_become_strings_of_that_size(value: Any) -> None:
    assert isinstance(value, str)
    assert encoded_size(value) == 100


@FEW
@given(data=st.data())
def test_required_false_is_no_attribute_required(data: st.DataObject) -> None:
    storage = ForgeStorage()
    storage.define_entity("thing", {"n": "integer"})
    assert set(data.draw(entity_values(storage, "thing", required=False))) <= {"n"}


def test_an_override_that_never_fits_the_type_is_reported_by_hypothesis() -> None:
    storage = ForgeStorage()
    storage.define_entity("thing", {"n": "integer"})
    strategy = entity_values(storage, "thing", required=True, overrides={"n": st.just("x")})

    @settings(FEW, suppress_health_check=[HealthCheck.too_slow])
    @given(strategy)
    def check(record: dict[str, Any]) -> None:
        raise AssertionError("never drawn")

    with pytest.raises((FailedHealthCheck, Unsatisfiable)):
        check()


def test_entity_values_reads_the_declaration_in_manifest_form(storage: ForgeStorage) -> None:
    declared = storage.entity("employee").declaration
    assert declared == {
        "name": "employee",
        "attributes": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "score": {"type": "float"},
            "on": {"type": "boolean"},
            "extra": {"type": "any"},
        },
        "indexes": ["age", {"name": "by-on-name", "range": ["name"], "partition": ["on"]}],
    }
    declared["attributes"].clear()  # a copy: the entity is unchanged
    assert storage.entity("employee").declaration["attributes"]


# -- bad arguments -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: keys(max_size=501), ValueError, "max_size must be 1 to 500; write max_size=500"),
        (lambda: keys(min_size=0), ValueError, "min_size must be 1 to 500; write min_size=1"),
        (lambda: keys(min_size=9, max_size=3), ValueError, "raise max_size to at least 9"),
        (lambda: keys(max_size="5"), TypeError, "takes an integer, not '5'"),
        (lambda: keys(whitespace="no"), TypeError, "takes True or False"),
        (lambda: values(max_depth=32), ValueError, "max_depth must be 0 to 31; write max_depth=31"),
        (lambda: values(min_depth=4, max_depth=3), ValueError, "raise max_depth to at least 4"),
        (lambda: values(max_bytes=300_000), ValueError, "write max_bytes=245760"),
        (lambda: values(max_items=-1), ValueError, "max_items must be at least 0"),
        (lambda: secret_values(max_bytes=240 * 1024), ValueError, "write max_bytes=131072"),
        (lambda: secret_values(min_bytes=True), TypeError, "takes an integer, not True"),
    ],
)
def test_bad_arguments_say_what_to_write(call: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(")):
        call()


def test_entity_values_arguments_are_checked(storage: ForgeStorage) -> None:
    with pytest.raises(TypeError, match=r"entity_values\(forge_storage, 'employee'\)"):
        entity_values("employee", "employee")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="entity name as a string"):
        entity_values(storage, 3)  # type: ignore[arg-type]
    with pytest.raises(ForgeStorageError, match="not declared; declare it"):
        entity_values(storage, "nobody")
    with pytest.raises(ValueError, match=r"'agee' not declared .* its attributes are name, age"):
        entity_values(storage, "employee", required=["agee"])
    with pytest.raises(TypeError, match=r"list of names: \['age'\]"):
        entity_values(storage, "employee", required="age")
    with pytest.raises(ValueError, match="'nmae' not declared"):
        entity_values(storage, "employee", overrides={"nmae": st.just("x")})
    with pytest.raises(TypeError, match=r"takes a hypothesis strategy, e.g. st.just\('x'\)"):
        entity_values(storage, "employee", overrides={"name": "x"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="dict of attribute name to strategy"):
        entity_values(storage, "employee", overrides=[("name", st.just("x"))])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_depth must be 0 to 30"):
        entity_values(storage, "employee", max_depth=31)


# -- optional dependency -----------------------------------------------------------------
def test_without_hypothesis_the_import_error_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    monkeypatch.delitem(sys.modules, "pytest_forge_storage.strategies")
    with pytest.raises(ImportError, match="pip install hypothesis"):
        importlib.import_module("pytest_forge_storage.strategies")


def test_the_plugin_does_not_import_hypothesis() -> None:
    code = (
        "import sys, pytest_forge_storage, pytest_forge_storage.plugin;"
        "from pytest_forge_storage import ForgeStorage; ForgeStorage();"
        "sys.exit('hypothesis' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
