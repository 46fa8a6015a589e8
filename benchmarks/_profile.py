"""``--profile``: where the fake's side of a benchmark spends its time (cProfile).

Prints, for each group, the share of own time per source file and the functions with the
most own time (file:function, share of the total), so a missed budget points at code.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import pstats
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import _scale
import _served
from _timing import Config

from pytest_forge_storage import mock_forge_storage

Target = Callable[[], contextlib.AbstractContextManager[Callable[[], Any]]]


@contextlib.contextmanager
def _requests() -> Iterator[Callable[[], Any]]:
    import requests

    with requests.Session() as session, mock_forge_storage() as storage:
        storage.kvs[_served.KEY] = _served.VALUE

        def op() -> None:
            session.post(_served.BASE + "get", json=_served.BODIES["get"], headers=_served.AUTH)
            session.post(_served.BASE + "set", json=_served.BODIES["set"], headers=_served.AUTH)

        yield op


@contextlib.contextmanager
def _httpx(url: str, body: Any, second: tuple[str, Any] | None = None) -> Iterator[Any]:
    import httpx

    with httpx.Client() as client, mock_forge_storage() as storage:
        storage.kvs[_served.KEY] = _served.VALUE

        def op() -> None:
            client.post(url, json=body, headers=_served.AUTH)
            if second is not None:
                client.post(second[0], json=second[1], headers=_served.AUTH)

        yield op


@contextlib.contextmanager
def _httpx_async() -> Iterator[Callable[[], Any]]:
    import httpx

    with mock_forge_storage() as storage:
        storage.kvs[_served.KEY] = _served.VALUE

        async def batch() -> None:
            async with httpx.AsyncClient() as client:
                for _ in range(50):
                    url, auth = _served.BASE, _served.AUTH
                    await client.post(url + "get", json=_served.BODIES["get"], headers=auth)
                    await client.post(url + "set", json=_served.BODIES["set"], headers=auth)

        yield lambda: asyncio.run(batch())


@contextlib.contextmanager
def _activation() -> Iterator[Callable[[], Any]]:
    def op() -> None:
        with mock_forge_storage():
            pass

    yield op


@contextlib.contextmanager
def _page(kind: str, config: Config) -> Iterator[Callable[[], Any]]:
    """A page from the middle of the largest store (the one the scale group built)."""
    size = config.sizes[-1]
    storage = _scale.store(kind, size, config)[0]
    if kind == "entity":
        body: dict[str, Any] = {
            "entityName": _scale.ENTITY,
            "indexName": _scale.INDEX,
            "partition": ["core"],
            "limit": _scale.PAGE,
        }
        client, field = _scale._Client(storage, "entity/query"), "cursor"
    else:
        body = {"limit": _scale.PAGE}
        client, field = _scale._Client(storage, "query"), "after"
    _, cursors = client.walk(body, field)
    storage.calls.clear()
    yield client.request({**body, field: cursors[len(cursors) // 2]}, decode=False)


TARGETS: dict[str, Target] = {
    "requests": _requests,
    "httpx": lambda: _httpx(
        _served.BASE + "get",
        _served.BODIES["get"],
        (_served.BASE + "set", _served.BODIES["set"]),
    ),
    "httpx-async": _httpx_async,
    "graphql": lambda: _httpx(_served.GRAPHQL_URL, _served.GRAPHQL_BODY),
    "moto": lambda: _httpx(
        _served.BASE + "set",
        _served.BODIES["set"],
        (_served.BASE + "get", _served.BODIES["get"]),
    ),
    "activation": _activation,
}
#: Targets that need the run's configuration (the stores it built).
CONFIGURED_TARGETS: dict[str, Callable[[Config], Any]] = {
    "kvs-scale": lambda config: _page("kvs", config),
    "entity-scale": lambda config: _page("entity", config),
}


def _where(filename: str) -> str:
    """``pytest_forge_storage/router.py``, ``requests/sessions.py``, ``json/decoder.py``..."""
    if filename.startswith("~") or filename.startswith("<"):
        return filename
    parts = Path(filename).parts
    for anchor in ("pytest_forge_storage", "benchmarks"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor) :])
    if "site-packages" in parts:
        return "/".join(parts[parts.index("site-packages") + 1 :])
    for index, part in enumerate(parts):
        if part.startswith("python3"):  # the standard library
            return "/".join(parts[index + 1 :])
    return Path(filename).name


def _package(where: str) -> str:
    if where.startswith("~"):
        return "(builtins)"
    if where.startswith("<"):
        return "(frozen stdlib)"
    head = where.split("/", 1)[0]
    return head if "/" in where else f"{head} (stdlib)"


def profile(group: str, config: Config, top: int = 20) -> None:
    print(f"\n=== profile: {group} (fake side, cProfile) ===")
    if group in CONFIGURED_TARGETS:
        context = CONFIGURED_TARGETS[group](config)
    elif group in TARGETS:
        context = TARGETS[group]()
    else:
        print("  (no profile target for this group)")
        return
    rounds = 30 if group == "httpx-async" else max(200, config.number)
    with context as op:
        for _ in range(min(50, rounds)):
            op()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(rounds):
            op()
        profiler.disable()
    entries: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in entries.values()) or 1.0
    by_package: dict[str, float] = defaultdict(float)
    by_file: dict[str, float] = defaultdict(float)
    functions, ours = [], []
    for (filename, line, name), (_, calls, tt, ct, _) in entries.items():
        where = _where(filename)
        by_package[_package(where)] += tt
        entry = (tt, ct, calls / rounds, f"{where}:{line}({name})")
        functions.append(entry)
        if where.startswith("pytest_forge_storage/"):
            by_file[where] += tt
            ours.append(entry)
    print(f"  {rounds} rounds, {total / rounds * 1e6:.0f} us per round under the profiler")
    print("  own time by package:")
    for package, tt in sorted(by_package.items(), key=lambda kv: -kv[1])[:12]:
        print(f"    {tt / total:6.1%}  {package}")
    print("  own time by pytest_forge_storage file:")
    for where, tt in sorted(by_file.items(), key=lambda kv: -kv[1]):
        print(f"    {tt / total:6.1%}  {where}")
    header = "(own share, cumulative share, calls per round)"
    print(f"  pytest_forge_storage functions by cumulative time {header}:")
    for tt, ct, calls, name in sorted(ours, key=lambda e: -e[1])[:top]:
        print(f"    {tt / total:6.1%} {ct / total:7.1%} {calls:7.1f}  {name}")
    print(f"  all functions by own time {header}:")
    for tt, ct, calls, name in sorted(functions, reverse=True)[:top]:
        print(f"    {tt / total:6.1%} {ct / total:7.1%} {calls:7.1f}  {name}")
