"""Query lag: what a query page costs while writes are pending, and what realism off costs.

* A KVS ``query`` page and an entity index page (limit 100) at 10k and 100k items, with 60
  API writes pending under ``query_lag`` (20 updates, 20 deletes, 20 new keys, all inside the
  page's range: the worst case), beside the same store with the lag off and the same writes
  visible. The lagged page merges the store's rows with the history's shown entries, so it
  should stay O(log n + page + w): the 100k page within 1.5x of the 10k one.
* Served calls with realism off (``get``, ``query``, ``set`` through ``ForgeStorage.handle``,
  the function every transport calls): absolute figures. The off path is one truth test per
  query and per write (``history.pending``, ``realism.query_lag``), and for a ``get`` of an
  item with a TTL one addition; to compare with another tree, run
  ``python benchmarks/_lag.py`` with that tree first on ``PYTHONPATH``: it prints these
  figures alone.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

from _timing import Config, Row, at_most, median, paired, round_ratios, us

from pytest_forge_storage import ForgeStorage
from pytest_forge_storage._http import HttpRequest, HttpResponse

BASE = "https://api.atlassian.com/forge/storage/kvs/v1/"
HEADERS = {"authorization": "Bearer benchmark-token", "content-type": "application/json"}
PAGE = 100
HOUR = 3600.0  # a lag no benchmark outlives: the writes stay pending while it is measured
ENTITY = "employee"
ATTRIBUTES = {"name": "string", "age": "integer", "team": "string"}
INDEXES = [{"name": "by-key-order", "range": ["name"]}]


def _key(i: int) -> str:
    return f"item:{i:07d}"


def _value(i: int) -> dict[str, Any]:
    return {"name": f"user {i:07d}", "age": 20 + i % 50, "team": "core"}


def _sender(storage: ForgeStorage, operation: str, body: Any) -> Callable[[], Any]:
    request = HttpRequest("POST", BASE + operation, HEADERS, json.dumps(body).encode())
    handle = storage.handle

    def send() -> Any:
        answer = handle(request)
        if not isinstance(answer, HttpResponse) or answer.status >= 300:
            raise RuntimeError(f"{operation} answered {answer!r}")
        return answer.body

    return send


def _store(size: int, *, entity: bool, lag: float) -> tuple[ForgeStorage, dict[str, Any]]:
    """``size`` items seeded, then 60 API writes around the middle of the key space under
    ``query_lag = lag``; and the body of a page that starts just before them."""
    storage = ForgeStorage()
    storage.auth = False
    storage.realism.query_lag = lag
    middle = size // 2
    if entity:
        storage.define_entity(ENTITY, ATTRIBUTES, INDEXES)
        records = {_key(i): _value(i) for i in range(size)}
        storage.load_data({"entities": {ENTITY: records}})
    else:
        storage.load_data({"kvs": {_key(i): _value(i) for i in range(size)}})
    for n in range(20):  # 20 updates, 20 deletes, 20 new keys between them
        i = middle + 3 * n
        if entity:
            _entity_write(storage, "entity/set", _key(i), {**_value(i), "age": 99})
            _entity_write(storage, "entity/delete", _key(i + 1))
            new = f"{_key(i + 1)}.5"
            _entity_write(storage, "entity/set", new, {**_value(i), "name": f"user {new}"})
        else:
            _sender(storage, "set", {"key": _key(i), "value": {"updated": True}})()
            _sender(storage, "delete", {"key": _key(i + 1)})()
            _sender(storage, "set", {"key": f"{_key(i + 1)}.5", "value": {"new": True}})()
    if entity:
        start = {"condition": "GREATER_THAN", "values": [f"user {middle - 10:07d}"]}
        body = {"entityName": ENTITY, "indexName": "by-key-order", "range": start, "limit": PAGE}
    else:
        start = [{"property": "key", "condition": "BEGINS_WITH", "values": ["item:"]}]
        body = {"where": start, "limit": PAGE, "after": _cursor(_key(middle - 10))}
    return storage, body


def _entity_write(storage: ForgeStorage, operation: str, key: str, value: Any = None) -> None:
    body: dict[str, Any] = {"entityName": ENTITY, "key": key}
    if value is not None:
        body["value"] = value
    _sender(storage, operation, body)()


def _cursor(key: str) -> str:
    from pytest_forge_storage.engine import encode_cursor

    return encode_cursor(key)


def _side(storage: ForgeStorage, operation: str, body: Any) -> Callable[[], Any]:
    send = _sender(storage, operation, body)

    @contextlib.contextmanager
    def make() -> Iterator[Callable[[], Any]]:
        storage.calls.clear()
        yield send

    return make


def _lag_rows(config: Config, *, entity: bool) -> list[Row]:
    title = "entity index page" if entity else "KVS query page"
    operation = "entity/query" if entity else "query"
    sizes = (10_000, 100_000)
    sides: dict[str, Callable[[], Any]] = {}
    for size in sizes:
        for lag in (HOUR, 0.0):
            storage, body = _store(size, entity=entity, lag=lag)
            pending = storage._engine.entity_store(ENTITY) if entity else storage._engine.kvs
            if lag and len(pending.history.pending) != 60:
                raise RuntimeError(f"{title}: {len(pending.history.pending)} keys pending")
            lagged, plain = (json.loads(_sender(storage, operation, body)()) for _ in range(2))
            if len(lagged["data"]) != PAGE or lagged != plain:
                raise RuntimeError(f"{title}: the page changed between two calls")
            sides[f"{size}/{lag}"] = _side(storage, operation, body)
    samples = paired(sides, config)
    rows = []
    for size in sizes:
        lagged, plain = samples[f"{size}/{HOUR}"], samples[f"{size}/0.0"]
        rows.append(
            Row(
                "lag",
                f"{title} (limit {PAGE}) at {size // 1000}k, 60 writes pending",
                us(median(lagged)),
                "us",
                "the same page, lag off",
                us(median(plain)),
                at_most(2.0),
                note="the writes inside the page's range: the worst case",
                ratios=round_ratios(lagged, plain),
            )
        )
    small, big = samples[f"{sizes[0]}/{HOUR}"], samples[f"{sizes[1]}/{HOUR}"]
    rows.append(
        Row(
            "lag",
            f"{title} at 100k, 60 writes pending",
            us(median(big)),
            "us",
            "the same at 10k",
            us(median(small)),
            at_most(1.5),
            note="O(log n + page + w): no copy of the store",
            ratios=round_ratios(big, small),
        )
    )
    return rows


def _off_sides() -> dict[str, Callable[[], Any]]:
    """Served ``get``, ``query`` and ``set`` with realism off, on a store of 1,000 items."""
    storage = ForgeStorage()
    storage.auth = False
    storage.load_data({"kvs": {_key(i): _value(i) for i in range(1000)}})
    return {
        "get": _side(storage, "get", {"key": _key(500)}),
        "query": _side(storage, "query", {"limit": 20}),
        "set": _side(storage, "set", {"key": _key(500), "value": _value(500)}),
    }


def _off_rows(config: Config) -> list[Row]:
    samples = paired(_off_sides(), config)
    return [
        Row(
            "lag",
            f"REST {operation} via ForgeStorage.handle, realism off",
            us(median(samples[operation])),
            "us",
            note="compare with another tree: python benchmarks/_lag.py",
            samples={},
        )
        for operation in ("get", "query", "set")
    ]


def lag_rows(config: Config) -> list[Row]:
    return _off_rows(config) + _lag_rows(config, entity=False) + _lag_rows(config, entity=True)


if __name__ == "__main__":  # the off-path figures alone, for comparing two trees
    import pytest_forge_storage

    chosen = Config.make(quick="--quick" in sys.argv)
    print(pytest_forge_storage.__file__)
    for row in _off_rows(chosen):
        print(f"{row.figure}: {row.value:.2f} us")
