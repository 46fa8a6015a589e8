"""Shared pieces of the reliability suite: the doors to the fake, and the fuzzing tally."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability._support import DOORS, Door, prepare

#: (door, operation, phase, mode) → examples sent, and (door, status) → responses seen.
_TALLY = pytest.StashKey["collections.Counter[tuple[str, ...]]"]()
_STATUSES = pytest.StashKey["collections.Counter[tuple[str, int]]"]()


class FuzzTally:
    """Counts what the spec fuzzer sent and what came back, for the terminal summary."""

    def __init__(self, config: pytest.Config) -> None:
        self.examples = config.stash.setdefault(_TALLY, collections.Counter())
        self.statuses = config.stash.setdefault(_STATUSES, collections.Counter())

    def add(self, door: str, operation: str, phase: str, mode: str, status: int) -> None:
        self.examples[(door, operation, phase, mode)] += 1
        self.statuses[(door, status)] += 1

    def total(self, door: str | None = None) -> int:
        return sum(n for key, n in self.examples.items() if door in (None, key[0]))


@pytest.fixture(scope="session")
def fuzz_tally(pytestconfig: pytest.Config) -> FuzzTally:
    return FuzzTally(pytestconfig)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    examples = config.stash.get(_TALLY, None)
    if not examples:
        return
    statuses = config.stash[_STATUSES]
    write = terminalreporter.write_line
    terminalreporter.section("forge storage spec fuzzing")
    for door in sorted({key[0] for key in examples}):
        per_op: collections.Counter[str] = collections.Counter()
        per_kind: collections.Counter[str] = collections.Counter()
        for (d, operation, phase, mode), n in examples.items():
            if d == door:
                per_op[operation] += n
                per_kind[f"{phase}/{mode}"] += n
        total = sum(per_op.values())
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(per_kind.items()))
        seen = ", ".join(f"{s}: {n}" for (d, s), n in sorted(statuses.items()) if d == door)
        write(f"{door}: {total} examples over {len(per_op)} operations ({kinds})")
        write(f"{door}: statuses {seen}")


@pytest.fixture(scope="module")
def reliability_server() -> Iterator[Any]:
    from pytest_forge_storage.server import ForgeStorageServer

    with ForgeStorageServer(log=lambda _line: None) as server:
        yield server


@pytest.fixture(params=DOORS)
def door(request: pytest.FixtureRequest) -> Door:
    """The fake behind each door in turn, empty, with the entity ``employee`` declared."""
    if request.param == "server":
        server = request.getfixturevalue("reliability_server")
        return Door("server", server.url, prepare(server.storage))
    storage = request.getfixturevalue("forge_storage")
    return Door(request.param, "https://api.atlassian.com", prepare(storage))
