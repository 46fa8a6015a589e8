"""The sorted table under the KVS key space and every entity index, against a plain model.

Chunks are made tiny (3 rows), so that a few dozen operations split, empty and rebuild
them: every page walk, lookup and bulk load must still agree with a sorted list.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_forge_storage.engine import _table
from pytest_forge_storage.engine._table import HIGH, LOW, Table


@pytest.fixture(autouse=True)
def tiny_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_table, "LOAD", 3)


def _rank(value: Any) -> tuple[int, Any]:
    return (0, 0) if value is LOW else (2, 0) if value is HIGH else (1, value)


def _compare(row: tuple[Any, ...], target: tuple[Any, ...]) -> int:
    """-1, 0 or 1 as ``row`` sorts before, at or after ``target`` (a longer target ending
    in LOW/HIGH means just before/after the row it starts with)."""
    for mine, theirs in zip(row, target, strict=False):
        a, b = _rank(mine), _rank(theirs)
        if a != b:
            return -1 if a < b else 1
    if len(target) > len(row):
        return 1 if target[len(row)] is LOW else -1
    return 0


POSITIONS = st.tuples(st.integers(0, 6), st.sampled_from("abcd"))
SENTINEL = st.sampled_from([LOW, HIGH])
#: Bounds as ``_index.bounds`` and cursors make them: each ends in a sentinel.
BOUNDS = st.one_of(
    st.none(),
    st.tuples(SENTINEL),
    st.tuples(st.integers(0, 6), SENTINEL),
    st.tuples(st.integers(0, 6), st.sampled_from("abcd"), SENTINEL),
)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), POSITIONS),
        st.tuples(st.just("pop"), POSITIONS),
        st.tuples(st.just("load"), st.lists(POSITIONS, unique=True, max_size=12)),
    ),
    max_size=60,
)


def _walk(table: Table, low: Any, high: Any, reverse: bool) -> list[tuple[Any, ...]]:
    return [
        (*table.row(chunk, slot), chunk[-1][slot])
        for chunk, slots in table.segments(low, high, reverse=reverse)
        for slot in slots
    ]


@settings(max_examples=300, deadline=None)
@given(operations=OPERATIONS, low=BOUNDS, high=BOUNDS, reverse=st.booleans())
def test_a_table_agrees_with_a_sorted_list(
    operations: list[tuple[str, Any]], low: Any, high: Any, reverse: bool
) -> None:
    table = Table((0, 1))
    model: dict[tuple[Any, ...], int] = {}
    for step, (name, argument) in enumerate(operations):
        if name == "put":
            assert table.put(argument, (step,)) == (argument in model)
            model[argument] = step
        elif name == "pop":
            assert table.pop(argument) == (model.pop(argument, None) is not None)
        else:
            table.load([(position, (step,)) for position in argument])
            model.update(dict.fromkeys(argument, step))
        assert len(table) == len(model)
    for position in [(n, s) for n in range(7) for s in "abcd"]:
        assert table.get(position) == ((model[position],) if position in model else None)
        assert (position in table) == (position in model)
    expected = [
        (*position, payload)
        for position, payload in sorted(model.items())
        if (low is None or _compare(position, low) > 0)
        and (high is None or _compare(position, high) < 0)
    ]
    if reverse:
        expected.reverse()
    assert _walk(table, low, high, reverse) == expected


@settings(max_examples=300, deadline=None)
@given(
    operations=st.lists(
        st.one_of(
            st.tuples(st.just("put"), POSITIONS),
            st.tuples(st.just("pop"), POSITIONS),
            st.tuples(st.just("load"), st.lists(POSITIONS, unique=True, max_size=12)),
            st.tuples(st.just("page ends"), st.integers(0, 30)),
        ),
        max_size=40,
    )
)
def test_a_cursor_resumes_right_after_the_row_a_page_ended_on_whatever_changed_since(
    operations: list[tuple[str, Any]],
) -> None:
    # A page that ends on a row leaves a hint, so the next page needs no bisection inside
    # the chunk; rows inserted or removed since (splits, emptied chunks, bulk loads) must
    # never make the next page start anywhere else than right after (or before) that row.
    table = Table((0, 1))
    model: dict[tuple[Any, ...], int] = {}
    ended: tuple[Any, ...] | None = None
    for step, (name, argument) in enumerate(operations):
        if name == "put":
            table.put(argument, (step,))
            model[argument] = step
        elif name == "pop":
            table.pop(argument)
            model.pop(argument, None)
        elif name == "load":
            table.load([(position, (step,)) for position in argument])
            model.update(dict.fromkeys(argument, step))
        elif model:
            rows = [(chunk, slot) for chunk, slots in table.segments(None, None) for slot in slots]
            ended = table.resume(*rows[argument % len(rows)])
        if ended is None:
            continue
        rows = sorted(model.items())
        after = [(*position, payload) for position, payload in rows if position > ended]
        before = [(*position, payload) for position, payload in reversed(rows) if position < ended]
        assert _walk(table, (*ended, HIGH), None, False) == after
        assert _walk(table, None, (*ended, LOW), True) == before
        assert (ended in table) == (ended in model)


class _Payload:
    """A payload a weak reference can follow (a dict cannot)."""


@pytest.mark.parametrize("drop", ["clear", "load"])
def test_rows_a_table_dropped_are_not_kept_alive_by_the_last_page(drop: str) -> None:
    # ``reset()`` and bulk loads replace the chunks; the hint of the last page must not
    # keep the old ones (and every value in them) in memory.
    table = Table((0,))
    payload = _Payload()
    table.load_keys({"a": (payload,), "b": (_Payload(),)})
    chunk, slots = next(table.segments(None, None))
    table.resume(chunk, slots[0])
    alive = weakref.ref(payload)
    del payload, chunk
    if drop == "clear":
        table.clear()
    else:
        table.load([(("a",), (1,)), (("c",), (2,))])  # as many rows as stored: a rebuild
    gc.collect()
    assert alive() is None


@settings(max_examples=100, deadline=None)
@given(keys=st.lists(st.sampled_from("abcdefgh"), unique=True), cut=st.sampled_from("abcdefgh"))
def test_a_by_key_table_stores_each_key_once_and_resumes_after_a_cursor(
    keys: list[str], cut: str
) -> None:
    table = Table((0, 0))  # positions (key, key), as the by-key index
    for key in keys:
        table.put((key, key), (key.upper(),))
    assert all(len(chunk) == 2 for chunk, _ in table.segments(None, None))  # keys + items
    after = list(_walk(table, (cut, cut, HIGH), None, False))
    assert after == [(k, k, k.upper()) for k in sorted(keys) if k > cut]
    before = list(_walk(table, None, (cut, cut, LOW), True))
    assert before == [(k, k, k.upper()) for k in sorted(keys, reverse=True) if k < cut]


def test_a_one_column_table_answers_in_for_a_bare_key() -> None:
    table = Table((0,))
    table.put(("a",), (1,))
    assert "a" in table
    assert ("a",) in table
    assert "b" not in table


@settings(max_examples=100, deadline=None)
@given(
    first=st.lists(st.sampled_from("abcdefghij"), unique=True),
    then=st.lists(st.sampled_from("abcdefghij"), unique=True),
)
def test_a_one_column_table_loads_keys_into_an_empty_or_a_full_table(
    first: list[str], then: list[str]
) -> None:
    table = Table((0,))
    table.load_keys(dict.fromkeys(first, (1,)))
    table.load_keys(dict.fromkeys(then, (2,)))
    model = {**dict.fromkeys(first, 1), **dict.fromkeys(then, 2)}
    assert _walk(table, None, None, False) == [(k, model[k]) for k in sorted(model)]
    assert len(table) == len(model)
