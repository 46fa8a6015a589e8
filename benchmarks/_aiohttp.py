"""A served REST ``get`` through ``aiohttp.ClientSession``, beside a bare aioresponses callback.

Both sides run in one event loop with one ``ClientSession``, interleaved batch by batch
(AB BA AB ..., as ``_timing.paired_async``, whose batches this reuses), and read the whole
body of every answer:

* baseline: an ``aioresponses`` mock with one ``callback`` route for the URL (``repeat=True``)
  that reads the request's JSON and answers the bytes the fake answers;
* fake: ``mock_forge_storage()`` serving the same request from its store.

A second row prices the fake for everything else: a request to another host, answered by the
same aioresponses callback, with the fake active beside it and without (budget 1.05x).

The fake runs aiohttp's own request preparation (headers, payload, middlewares), which
aioresponses skips, then routes, validates and records the call. Budget (issue 12): 1.2x the
bare callback. aioresponses 0.7.9 cannot build responses on aiohttp 3.14
(pnuckowski/aioresponses#289): there the row is skipped, with a note.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from _served import ANSWER, AUTH, BASE, BODIES, JSON_HEADERS, KEY, VALUE
from _timing import AsyncSide, Budget, Config, Row, _abatch, at_most, median, us

from pytest_forge_storage import mock_forge_storage

FIGURE = "REST get via aiohttp.ClientSession"
BASELINE = "bare aioresponses callback"
BUDGET = at_most(1.2)
OTHER_FIGURE = "another host via aiohttp, fake active"
OTHER_BASELINE = "the same, fake inactive"
OTHER_BUDGET = at_most(1.05)
OTHER_URL = "https://other.example/api"


def aiohttp_rows(config: Config) -> list[Row]:
    try:
        import aiohttp
        import aioresponses.core
    except ImportError:
        return _skipped("aiohttp or aioresponses missing: pip install aiohttp aioresponses")
    if "stream_writer" in inspect.signature(aiohttp.ClientResponse).parameters and (
        "stream_writer" not in inspect.getsource(aioresponses.core.RequestMatch._build_response)
    ):
        return _skipped("this aioresponses cannot build responses on this aiohttp (#289)")
    served, other = asyncio.run(_measure(config))
    return [
        _row(FIGURE, BASELINE, BUDGET, served),
        _row(OTHER_FIGURE, OTHER_BASELINE, OTHER_BUDGET, other),
    ]


def _row(figure: str, baseline: str, budget: Budget, samples: dict[str, list[float]]) -> Row:
    fake, base = us(median(samples["fake"])), us(median(samples["baseline"]))
    return Row("aiohttp", figure, fake, "us", baseline, base, budget, samples=samples)


async def _measure(config: Config) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    import aiohttp
    from aioresponses import CallbackResult, aioresponses

    url, body = BASE + "get", BODIES["get"]

    def callback(_url: Any, **kwargs: Any) -> Any:
        if kwargs["json"]["key"] != KEY:
            raise RuntimeError("the baseline was sent another request")
        return CallbackResult(status=200, body=ANSWER, headers=JSON_HEADERS)

    async with aiohttp.ClientSession() as session:

        def sender(url: str) -> Callable[[], Awaitable[Any]]:
            async def send() -> Any:
                async with session.post(url, json=body, headers=AUTH) as response:
                    await response.read()
                    return response

            return send

        @contextlib.contextmanager
        def mocked(url: str, *, fake: bool) -> Iterator[Callable[[], Awaitable[Any]]]:
            with contextlib.ExitStack() as stack:
                if fake:
                    stack.enter_context(mock_forge_storage())
                mock = stack.enter_context(aioresponses())
                mock.post(url, callback=callback, repeat=True)
                yield sender(url)

        @contextlib.contextmanager
        def fake() -> Iterator[Callable[[], Awaitable[Any]]]:
            with mock_forge_storage() as storage:
                storage.kvs[KEY] = VALUE
                yield sender(url)

        served = await _paired({"baseline": lambda: mocked(url, fake=False), "fake": fake}, config)
        other = await _paired(
            {
                "baseline": lambda: mocked(OTHER_URL, fake=False),
                "fake": lambda: mocked(OTHER_URL, fake=True),
            },
            config,
        )
        return served, other


async def _paired(sides: dict[str, AsyncSide], config: Config) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for repeat in range(config.repeat):
        for name in names if repeat % 2 == 0 else reversed(names):
            with sides[name]() as op:
                if repeat == 0:
                    response = await op()
                    if response.status != 200:
                        raise RuntimeError(f"the {name} side answered {response.status}")
                warmup = config.warmup if repeat == 0 else config.rewarm
                samples[name].append(await _abatch(op, config.number, warmup))
    return samples


def _skipped(note: str) -> list[Row]:
    return [
        Row("aiohttp", FIGURE, None, "us", BASELINE, budget=BUDGET, note=note),
        Row("aiohttp", OTHER_FIGURE, None, "us", OTHER_BASELINE, budget=OTHER_BUDGET, note=note),
    ]
