"""What seeding costs: one value through a view, and big data sets through the bulk path.

* ``storage.kvs[k] = v`` per item beside ``d[k] = json.loads(json.dumps(v))``: the least a
  store that keeps a private JSON copy can do (budget 2x). An entity record through
  ``storage.entity(...)`` is reported beside the same baseline.
* ``storage.load(path)`` of 100k items (10k with ``--quick``) beside ``json.load`` of the
  same file: parsing is the floor, the fake's validation and indexing the rest (budget 3x
  for KVS items; entity records, which also fill their indexes, are reported).
* ``storage.load_data({"kvs": ...})`` of 1M small items, the marker's ``data=`` shape: an
  absolute figure (under 10 s on the development machine), as nothing else seeds a million
  items. ``--quick`` reports 100k instead.

The load rows run one operation per batch, so they take at least 21 rounds (11 with
``--quick``) whatever ``Config.repeat`` says: a budget is a ratio of paired, interleaved
medians over at least 21 rounds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _scale import ATTRIBUTES, ENTITY, INDEXES, _key, _label, _small
from _timing import Config, Row, at_most, median, ms, paired, us

from pytest_forge_storage import ForgeStorage

#: Items per ``load()`` figure; a million for the absolute bulk figure.
LOAD_SIZE = 100_000
QUICK_LOAD_SIZE = 10_000
BULK_SIZE = 1_000_000
BULK_SECONDS = 10.0


def _pairs(size: int) -> list[tuple[str, dict[str, Any]]]:
    return [(_key(i), _small(i)) for i in range(size)]


def _per_item_sides(
    config: Config, target: Callable[[], Callable[[str, Any], None]]
) -> dict[str, list[float]]:
    """``target()`` gives a setter; each operation stores a new key on both sides."""
    total = config.warmup + config.repeat * (config.number + config.rewarm) + 10
    sides: dict[str, Callable[[str, Any], None]] = {}
    plain: dict[str, Any] = {}

    def baseline(key: str, value: Any) -> None:
        plain[key] = json.loads(json.dumps(value))

    sides["baseline"] = baseline
    sides["fake"] = target()

    def side(name: str) -> Callable[[], contextlib.AbstractContextManager[Callable[[], Any]]]:
        setter = sides[name]
        items = iter(_pairs(total))

        @contextlib.contextmanager
        def context() -> Iterator[Callable[[], Any]]:
            def op() -> None:
                setter(*next(items))

            yield op

        return context

    return paired({"fake": side("fake"), "baseline": side("baseline")}, config)


def _kvs_setter() -> Callable[[str, Any], None]:
    view = ForgeStorage().kvs

    def setter(key: str, value: Any) -> None:
        view[key] = value

    return setter


def _entity_setter() -> Callable[[str, Any], None]:
    storage = ForgeStorage()
    storage.define_entity(ENTITY, ATTRIBUTES, INDEXES)
    view = storage.entity(ENTITY)

    def setter(key: str, value: Any) -> None:
        view[key] = value

    return setter


def per_item_rows(config: Config) -> list[Row]:
    rows = []
    baseline = "d[k] = json.loads(json.dumps(v))"
    for figure, target, budget in (
        ("seed storage.kvs[k] = v (per item)", _kvs_setter, at_most(2.0)),
        ("seed storage.entity(e)[k] = v (per record)", _entity_setter, None),
    ):
        samples = _per_item_sides(config, target)
        rows.append(
            Row(
                "seeding",
                figure,
                us(median(samples["fake"])),
                "us",
                baseline,
                us(median(samples["baseline"])),
                budget,
                samples=samples,
            )
        )
    return rows


def _heavy(config: Config) -> Config:
    """One operation per batch, no warm-up beyond one, and at least 21 rounds."""
    return dataclasses.replace(
        config, repeat=max(config.repeat // 2, 11 if config.quick else 21), warmup=1, rewarm=0
    )


def _dumped(kind: str, size: int, folder: Path) -> tuple[Path, Callable[[], ForgeStorage]]:
    """A file written by ``storage.dump()`` holding ``size`` items, and a store factory."""

    def fresh() -> ForgeStorage:
        storage = ForgeStorage()
        if kind == "entity":
            storage.define_entity(ENTITY, ATTRIBUTES, INDEXES)
        return storage

    storage = fresh()
    items = dict(_pairs(size))
    storage.load_data({"entities": {ENTITY: items}} if kind == "entity" else {"kvs": items})
    path = folder / f"{kind}-{size}.json"
    storage.dump(path)
    return path, fresh


def load_rows(config: Config) -> list[Row]:
    size = QUICK_LOAD_SIZE if config.quick else LOAD_SIZE
    heavy = _heavy(config)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for kind, figure, budget in (
            ("kvs", f"load() of {_label(size)} KVS items", at_most(3.0)),
            ("entity", f"load() of {_label(size)} entity records", None),
        ):
            path, fresh = _dumped(kind, size, Path(folder))
            storage = fresh()

            def load(storage: ForgeStorage = storage, path: Path = path) -> None:
                storage.load(path)

            def parse(path: Path = path) -> Any:
                with open(path, encoding="utf-8") as fh:
                    return json.load(fh)

            samples = paired(
                {
                    "fake": lambda load=load: _simply(load),
                    "baseline": lambda parse=parse: _simply(parse),
                },
                heavy,
                number=1,
            )
            stored = len(storage.entity(ENTITY)) if kind == "entity" else len(storage.kvs)
            if stored != size:
                raise RuntimeError(f"{figure}: {stored} items were loaded")
            rows.append(
                Row(
                    "seeding",
                    figure,
                    ms(median(samples["fake"])),
                    "ms",
                    "json.load of the same file",
                    ms(median(samples["baseline"])),
                    budget,
                    samples=samples,
                    note=f"the file storage.dump() writes (indent 2, metadata); "
                    f"{heavy.repeat} rounds",
                )
            )
    return rows


@contextlib.contextmanager
def _simply(op: Callable[[], Any]) -> Iterator[Callable[[], Any]]:
    yield op


def bulk_rows(config: Config) -> list[Row]:
    """``load_data`` of a million small items: wall time, median of three (one with
    ``--quick``, at 100k)."""
    size = LOAD_SIZE if config.quick else BULK_SIZE
    rounds = 1 if config.quick else 3
    data = {"kvs": dict(_pairs(size))}
    text = json.dumps(data)
    seconds, parsing = [], []
    for _ in range(rounds):
        storage = ForgeStorage()
        gc.collect()
        start = time.perf_counter()
        storage.load_data(data)
        seconds.append(time.perf_counter() - start)
        if len(storage.kvs) != size:
            raise RuntimeError(f"load_data stored {len(storage.kvs)} items of {size}")
        del storage
        gc.collect()
        start = time.perf_counter()
        json.loads(text)
        parsing.append(time.perf_counter() - start)
    value = median(seconds)
    row = Row(
        "seeding",
        f"load_data() of {_label(size)} small KVS items",
        value,
        "s",
        "json.loads of the same items",
        median(parsing),
        note=f"wall time, median of {rounds}; the budget is absolute: under "
        f"{BULK_SECONDS:g} s for 1M items on the development machine",
    )
    if not config.quick:
        row.verdict = value < BULK_SECONDS
        row.budget_text = f"< {BULK_SECONDS:g} s"
    return [row]


def seeding_rows(config: Config) -> list[Row]:
    return per_item_rows(config) + load_rows(config) + bulk_rows(config)
