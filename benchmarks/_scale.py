"""How the fake scales with what is stored: query pages, cursor walks and memory per item.

Pages are served by the router (``ForgeStorage.handle``, the function every transport calls)
without a client, so a client's constant cost cannot hide growth: a page should cost
O(log n + page size), so one page at 100k items within 1.5x of one at 1k, and a walk over
everything by cursor roughly linear (100k within 11x of 10k). A third walk, over stores seeded
in index order, has the same steps with each record's memory next to the last: its ratio
beside the budget row's shows what the memory layout costs apart from the steps.

Stores hold small items (``{"name": "user N", "age": 20 + N % 50, "team": "core"}`` under
``item:000000N``), seeded through the public views. The entity index orders records by age,
so consecutive index entries are records seeded far apart, as in real data.

Memory is measured with ``tracemalloc`` while 100k items (10k with ``--quick``) are seeded
(keys and values created in the loop, so both sides own them), beside a plain ``dict``
holding the same keys and values.
"""

from __future__ import annotations

import functools
import gc
import json
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from _timing import Config, Row, at_most, median, ms, paired, round_ratios, simply, us

from pytest_forge_storage import ForgeStorage
from pytest_forge_storage._http import HttpRequest, HttpResponse

BASE = "https://api.atlassian.com/forge/storage/kvs/v1/"
HEADERS = {"authorization": "Bearer benchmark-token", "content-type": "application/json"}
PAGE = 100
ENTITY = "employee"
ATTRIBUTES = {"name": "string", "age": "integer", "team": "string"}
INDEX = "by-team-age"
INDEXES = [{"name": INDEX, "range": ["age"], "partition": ["team"]}]


def _label(size: int) -> str:
    return f"{size // 1000}k" if size >= 1000 else str(size)


def _key(i: int) -> str:
    return f"item:{i:07d}"


def _small(i: int) -> dict[str, Any]:
    return {"name": f"user {i}", "age": 20 + i % 50, "team": "core"}


class _Client:
    """Sends one REST operation to the router and returns the decoded answer."""

    def __init__(self, storage: ForgeStorage, operation: str) -> None:
        self._handle = storage.handle
        self._url = BASE + operation

    def request(self, body: dict[str, Any], *, decode: bool = True) -> Callable[[], Any]:
        """``send()`` serves ``body`` and returns the decoded page (the raw response body
        when not ``decode``: a page's figure is the fake's work, not the client's)."""
        request = HttpRequest("POST", self._url, HEADERS, json.dumps(body).encode())
        handle = self._handle

        def send() -> Any:
            answer = handle(request)
            if not isinstance(answer, HttpResponse) or answer.status != 200:
                raise RuntimeError(f"query answered {answer!r}")
            return json.loads(answer.body) if decode else answer.body

        return send

    def walk(self, body: dict[str, Any], cursor_field: str) -> tuple[int, list[str]]:
        """Every page from the start; (items seen, cursors issued)."""
        seen, cursors = 0, []
        cursor: str | None = None
        while True:
            page = self.request({**body, **({cursor_field: cursor} if cursor else {})})()
            seen += len(page["data"])
            cursor = page.get("cursor")
            if cursor is None:
                return seen, cursors
            cursors.append(cursor)


def _seed_kvs(storage: ForgeStorage, size: int) -> None:
    for i in range(size):
        storage.kvs[_key(i)] = _small(i)


def _seed_entities(storage: ForgeStorage, size: int) -> None:
    storage.define_entity(ENTITY, ATTRIBUTES, INDEXES)
    view = storage.entity(ENTITY)
    for i in range(size):
        view[_key(i)] = _small(i)


def _seed_dict(store: dict[str, Any], size: int) -> None:
    for i in range(size):
        store[_key(i)] = _small(i)


SEEDERS: dict[str, Callable[[Any, int], None]] = {
    "kvs": _seed_kvs,
    "entity": _seed_entities,
    "dict": _seed_dict,
}


@functools.cache
def store(kind: str, size: int, config: Config) -> tuple[Any, float | None]:
    """A store seeded with ``size`` small items, and its bytes per item if it was traced.

    Built once per run and shared by the groups. The store of ``config.memory_size`` items
    is seeded under ``tracemalloc``, so the memory figures need no second store that size.
    """
    built: Any = {} if kind == "dict" else ForgeStorage()
    if size != config.memory_size:
        SEEDERS[kind](built, size)
        return built, None
    return built, _traced_bytes(lambda: SEEDERS[kind](built, size)) / size


def _traced_bytes(fill: Callable[[], Any]) -> float:
    """Bytes still allocated after ``fill()`` that were allocated during it."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fill()
        gc.collect()
        return float(tracemalloc.get_traced_memory()[0] - before)
    finally:
        tracemalloc.stop()


def _scale_rows(
    config: Config, group: str, title: str, kind: str, body: dict[str, Any], cursor_field: str
) -> list[Row]:
    operation = "query" if kind == "kvs" else "entity/query"
    built = {size: store(kind, size, config) for size in config.sizes}
    clients = {size: _Client(storage, operation) for size, (storage, _) in built.items()}
    sizes = list(clients)
    small, mid, big = sizes
    middles: dict[int, Callable[[], Any]] = {}
    for size in sizes:
        seen, cursors = clients[size].walk(body, cursor_field)
        if seen != size:
            raise RuntimeError(f"{title}: walked {seen} items of {size}")
        # A page from the middle of the key space, so neither end flatters it.
        middle = {**body, cursor_field: cursors[len(cursors) // 2]}
        middles[size] = clients[size].request(middle, decode=False)
    walks = _walks(config, {size: (built[size][0], clients[size]) for size in (mid, big)},
                   body, cursor_field)  # fmt: skip

    def page_side(size: int) -> Any:
        built[size][0].calls.clear()
        return simply(middles[size])

    pages = paired({str(size): lambda size=size: page_side(size) for size in sizes}, config)
    rows = []
    for size in sizes:
        figure = f"{title} page (limit {PAGE}) at {_label(size)}"
        row = Row(group, figure, us(median(pages[str(size)])), "us")
        if size != small:
            row.baseline = f"page at {_label(small)}"
            row.baseline_value = us(median(pages[str(small)]))
            row.ratios = round_ratios(pages[str(size)], pages[str(small)])
            if size == big:
                row.budget = at_most(1.5)
        rows.append(row)
    for size in (mid, big):
        figure = f"{title} walk all {_label(size)} by cursor"
        row = Row(group, figure, ms(median(walks[size])), "ms")
        if size == big:
            row.baseline, row.baseline_value = f"walk all {_label(mid)}", ms(median(walks[mid]))
            row.ratios = round_ratios(walks[big], walks[mid])
            row.budget = at_most(11)  # issue 17: 10x the items, at most 11x the walk
        rows.append(row)
    return rows


def _walks(
    config: Config,
    sides: dict[int, tuple[ForgeStorage, _Client]],
    body: dict[str, Any],
    cursor_field: str,
) -> dict[int, list[float]]:
    """Walk times in ns per walk, by size, in rounds: one walk of the big store beside as
    many walks of the smaller one as take the same time, so both sides of a round see the
    same load."""
    mid, big = sorted(sides)
    walks: dict[int, list[float]] = {mid: [], big: []}
    for repeat in range(config.walk_repeat):
        for size in (mid, big) if repeat % 2 == 0 else (big, mid):
            storage, client = sides[size]
            storage.calls.clear()
            times = big // size
            start = time.perf_counter_ns()
            for _ in range(times):
                client.walk(body, cursor_field)
            walks[size].append((time.perf_counter_ns() - start) / times)
    return walks


def kvs_rows(config: Config) -> list[Row]:
    return _scale_rows(config, "kvs-scale", "KVS query", "kvs", {"limit": PAGE}, "after")


def entity_rows(config: Config) -> list[Row]:
    body = {"entityName": ENTITY, "indexName": INDEX, "partition": ["core"], "limit": PAGE}
    rows = _scale_rows(config, "entity-scale", "entity index query", "entity", body, "cursor")
    return [*rows, _laid_out_row(config, body)]


def _laid_out_row(config: Config, body: dict[str, Any]) -> Row:
    """The walk of the budget row, over stores seeded in index order: the same records, the
    same index and the same steps, with each record's memory next to the previous one's.

    Seeded in key order (the budget row), consecutive index entries are records seeded 50
    apart, so every record of a walk is on other memory pages than the last one: at 100k
    items the walk outgrows what the processor's address cache (TLB) covers with 4 KiB
    pages. The gap between this row's ratio and the budget row's is that, not steps.
    """
    _, mid, big = config.sizes
    sides = {}
    for size in (mid, big):
        storage = ForgeStorage()
        storage.define_entity(ENTITY, ATTRIBUTES, INDEXES)
        view = storage.entity(ENTITY)
        for i in sorted(range(size), key=lambda i: (_small(i)["age"], _key(i))):
            view[_key(i)] = _small(i)
        sides[size] = (storage, _Client(storage, "entity/query"))
    walks = _walks(config, sides, body, "cursor")
    return Row(
        "entity-scale",
        f"entity index query walk all {_label(big)}, records laid out in index order",
        ms(median(walks[big])),
        "ms",
        f"the same at {_label(mid)}",
        ms(median(walks[mid])),
        ratios=round_ratios(walks[big], walks[mid]),
        note="seeded in index order: the same steps, each record's memory next to the last",
    )


def memory_rows(config: Config) -> list[Row]:
    size = config.memory_size
    dict_bytes = store("dict", size, config)[1]
    label = _label(size)
    rows = []
    for kind, figure, budget, note in (
        (
            "kvs",
            "KVS item",
            1.15,
            "small item {'name': 'user N', 'age': N, 'team': 'core'}, key and value included",
        ),
        (
            "entity",
            "entity record",
            1.4,
            "the same item as an entity record, in the by-key index "
            "and one partitioned range index",
        ),
    ):
        per_item = store(kind, size, config)[1]
        rows.append(
            Row(
                "memory",
                f"memory per {figure} at {label} (tracemalloc)",
                per_item,
                "B",
                "plain dict, same keys and values",
                dict_bytes,
                at_most(budget),
                note=note,
            )
        )
    return rows
