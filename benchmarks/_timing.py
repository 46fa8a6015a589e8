"""Timing primitives and the result row shared by every benchmark group.

Every figure is a median over ``repeat`` batches; a batch runs ``number`` operations back to
back (timed with ``time.perf_counter_ns``, after a few untimed ones) and yields the time per
operation. When a figure is compared with a baseline, both are measured in the same process,
in alternating order batch by batch (AB BA AB ...), so drift on a shared machine hits both
sides alike. The garbage collector stays on, as in a real test run.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

#: A side of a comparison: a context manager factory that sets up (untimed) and yields the
#: operation to time.
Side = Callable[[], contextlib.AbstractContextManager[Callable[[], Any]]]
AsyncSide = Callable[[], contextlib.AbstractContextManager[Callable[[], Awaitable[Any]]]]


@dataclass(frozen=True)
class Config:
    """How hard to measure: ``--quick`` lowers every count."""

    quick: bool
    repeat: int  # batches per figure; the figure is their median
    number: int  # operations per batch (for cheap operations)
    warmup: int  # untimed operations before the first batch of each side
    rewarm: int = 3  # untimed operations before every batch (caches after set-up)
    sizes: tuple[int, int, int] = (1_000, 10_000, 100_000)
    walk_repeat: int = 21  # rounds of walks: a budget takes at least 21 (design §3)
    subprocess_repeat: int = 11
    #: Items seeded under tracemalloc for the memory figures (100k; 10k with --quick, as
    #: tracemalloc triples the cost of seeding).
    memory_size: int = 100_000

    @classmethod
    def make(cls, quick: bool) -> Config:
        # Many short batches, alternating sides: load on a shared machine drifts over
        # seconds, and short alternating batches spread that drift over both sides alike.
        if quick:
            return cls(
                quick,
                repeat=11,
                number=40,
                warmup=20,
                walk_repeat=3,
                subprocess_repeat=5,
                memory_size=10_000,
            )
        return cls(quick, repeat=41, number=100, warmup=100, walk_repeat=21, subprocess_repeat=15)


@dataclass(frozen=True)
class Budget:
    """``ratio <= max_ratio`` passes; ``text`` is what the table prints."""

    max_ratio: float
    text: str

    def check(self, ratio: float) -> bool:
        return ratio <= self.max_ratio


def at_most(ratio: float) -> Budget:
    return Budget(ratio, f"<= {ratio:g}x")


def faster_by(factor: float) -> Budget:
    return Budget(1 / factor, f">= {factor:g}x faster")


@dataclass
class Row:
    """One line of the table. ``value`` and ``baseline_value`` are in ``unit``."""

    group: str
    figure: str
    value: float | None
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    budget: Budget | None = None
    #: Set for rows whose pass/fail is not a ratio (e.g. modules loaded at import).
    verdict: bool | None = None
    budget_text: str = ""
    note: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)
    #: ``fake / baseline`` round by round, when both sides were measured in rounds (see
    #: :func:`round_ratios`); taken from ``samples`` when they hold both sides.
    ratios: list[float] = field(default_factory=list)
    #: A ratio, spread and result recorded elsewhere (``run.py --render`` of a saved run).
    ratio_override: float | None = None
    spread_override: tuple[float, float] | None = None
    status_override: str | None = None

    def __post_init__(self) -> None:
        fake, base = self.samples.get("fake"), self.samples.get("baseline")
        if not self.ratios and fake and base and len(fake) == len(base):
            self.ratios = round_ratios(fake, base)

    @property
    def ratio(self) -> float | None:
        if self.ratio_override is not None:
            return self.ratio_override
        if self.ratios:
            return median(self.ratios)
        if self.value is None or not self.baseline_value:
            return None
        return self.value / self.baseline_value

    @property
    def spread(self) -> tuple[float, float] | None:
        """The run's own spread of :attr:`ratio`: see :func:`spread`."""
        if self.spread_override is not None:
            return self.spread_override
        return spread(self.ratios) if self.ratios else None

    @property
    def status(self) -> str:
        """``PASS``, ``HELD`` (over the budget by less than the run's own spread, which
        counts as held: design §3), ``FAIL``, ``report`` (no budget) or ``SKIP``."""
        if self.status_override is not None:
            return self.status_override
        if self.value is None:
            return "SKIP"
        if self.verdict is not None:
            return "PASS" if self.verdict else "FAIL"
        if self.budget is None or self.ratio is None:
            return "report"
        if self.budget.check(self.ratio):
            return "PASS"
        interval = self.spread
        return "HELD" if interval is not None and self.budget.check(interval[0]) else "FAIL"

    @property
    def budget_label(self) -> str:
        if self.budget_text:
            return self.budget_text
        return self.budget.text if self.budget is not None else "-"


def median(values: list[float]) -> float:
    return statistics.median(values)


def round_ratios(fake: list[float], baseline: list[float]) -> list[float]:
    """``fake / baseline`` round by round, each round two adjacent batches.

    Adjacent batches run under the same load, so their ratio cancels the load drift of a
    shared machine that a ratio of the two medians keeps (measured here: the median of
    these ratios spread over 1.01-1.06 across trials where the ratio of medians spread over
    0.82-1.02).
    """
    return [f / b for f, b in zip(fake, baseline, strict=True)]


#: How sure the spread of a ratio is to hold the median a longer run would find.
CONFIDENCE = 0.95


def spread(ratios: list[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The run's own spread of the median of ``ratios``: a ``confidence`` interval for it.

    The interval is distribution-free, read from the order statistics: the k-th smallest
    and k-th largest round, for the largest k at which k or more of n rounds fall on either
    side of the true median with probability at most ``(1 - confidence) / 2`` each (rounds
    fall on either side of it with even odds: a binomial count). So it assumes nothing about
    the shape of the noise. For 95%: rounds 6 and 16 of 21, 2 and 10 of 11. ``None`` when
    there are too few rounds for ``confidence`` (5 or fewer for 95%).
    """
    n = len(ratios)
    tail = (1 - confidence) / 2
    k, below = 0, 0.0  # below: the chance that at most k rounds fall under the median
    while True:
        below += math.comb(n, k) / 2**n
        if below > tail:
            break
        k += 1
    if k == 0:
        return None
    ordered = sorted(ratios)
    return ordered[k - 1], ordered[n - k]


def _batch(op: Callable[[], Any], number: int, warmup: int) -> float:
    for _ in range(warmup):
        op()
    gc.collect()
    start = time.perf_counter_ns()
    for _ in range(number):
        op()
    return (time.perf_counter_ns() - start) / number


def paired(
    sides: dict[str, Side], config: Config, *, number: int | None = None
) -> dict[str, list[float]]:
    """Per-operation nanoseconds of each side, one sample per batch, sides interleaved."""
    count = number or config.number
    samples: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for repeat in range(config.repeat):
        for name in names if repeat % 2 == 0 else reversed(names):
            with sides[name]() as op:
                warmup = config.warmup if repeat == 0 else config.rewarm
                samples[name].append(_batch(op, count, warmup))
    return samples


async def _abatch(op: Callable[[], Awaitable[Any]], number: int, warmup: int) -> float:
    for _ in range(warmup):
        await op()
    gc.collect()
    start = time.perf_counter_ns()
    for _ in range(number):
        await op()
    return (time.perf_counter_ns() - start) / number


def paired_async(
    sides: dict[str, AsyncSide],
    config: Config,
    check: Callable[[str, Any], None] | None = None,
) -> dict[str, list[float]]:
    """:func:`paired` for coroutines: every batch of every side runs in one event loop.

    ``check(side, result)`` sees each side's first result, before anything is timed.
    """

    async def run() -> dict[str, list[float]]:
        samples: dict[str, list[float]] = {name: [] for name in sides}
        names = list(sides)
        for repeat in range(config.repeat):
            for name in names if repeat % 2 == 0 else reversed(names):
                with sides[name]() as op:
                    if repeat == 0 and check is not None:
                        check(name, await op())
                    warmup = config.warmup if repeat == 0 else config.rewarm
                    samples[name].append(await _abatch(op, config.number, warmup))
        return samples

    return asyncio.run(run())


@contextlib.contextmanager
def simply(op: Callable[[], Any]) -> Iterator[Callable[[], Any]]:
    """A side with nothing to set up."""
    yield op


def us(ns: float) -> float:
    return ns / 1_000


def ms(ns: float) -> float:
    return ns / 1_000_000
