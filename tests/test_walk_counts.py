"""``benchmarks/walk_counts.py``: the walk it counts, the totals it reads, the table it prints.

Running it for real takes minutes under valgrind, so the suite checks its parts: the walk
its cachegrind runs execute (in this process, small), the reading of a cachegrind out file,
the subtraction and ratios, and the refusal without valgrind.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "walk_counts.py"

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ is not part of this tree")

# The head and tail of a cachegrind out file (valgrind 3.19), as cachegrind writes it.
OUT_FILE = """\
desc: I1 cache:         32768 B, 64 B, 8-way associative
desc: D1 cache:         49152 B, 64 B, 12-way associative
desc: LL cache:         2097152 B, 64 B, 16-way associative
cmd: python walk_counts.py --child 10000 0
events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw
fl=???
fn=???
0 1 1 1 0 0 0 0 0 0
summary: 2355874245 1000 900 714925516 23238172 55582 349469419 2549612 307447
"""


@pytest.fixture(scope="module")
def walk_counts() -> Iterator[ModuleType]:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import walk_counts

        yield walk_counts
    finally:
        sys.path.remove(str(SCRIPT.parent))


def test_the_counted_walk_sees_every_record_of_its_store(walk_counts: ModuleType) -> None:
    assert walk_counts.walk(250, 2) == 250
    assert walk_counts.walk(250, 0) == 0  # the run without the walk: seeding and warm-up only


def test_summary_reads_the_totals_by_event_name(walk_counts: ModuleType) -> None:
    totals = walk_counts.summary(OUT_FILE)

    assert totals["Ir"] == 2355874245
    assert totals["Dr"] == 714925516
    assert totals["D1mr"] == 23238172
    assert totals["DLmr"] == 55582
    assert len(totals) == 9


def test_summary_refuses_a_file_that_is_not_cachegrinds(walk_counts: ModuleType) -> None:
    with pytest.raises(ValueError, match="not a cachegrind out file"):
        walk_counts.summary("summary: 1 2 3\n")  # no events line before it


def test_rows_count_the_walk_alone_and_compare_equal_records(walk_counts: ModuleType) -> None:
    def totals(ir: int, misses: int) -> dict[str, int]:
        return {"Ir": ir, "Dr": ir // 2, "D1mr": misses, "DLmr": misses // 10}

    counts = {
        (10_000, 0): totals(1_000, 100),
        (10_000, 10): totals(3_000, 300),  # the walks: 2,000 and 200
        (100_000, 0): totals(9_000, 900),
        (100_000, 1): totals(11_010, 1_160),  # the walk: 2,010 and 260
    }
    table = {row["event"]: row for row in walk_counts.rows(counts)}

    assert table["Ir"]["small"] == 2_000
    assert table["Ir"]["big"] == 2_010
    assert table["Ir"]["ratio"] == 10.05
    assert table["D1mr"]["ratio"] == 13.0
    assert table["DLmr"] == {"event": "DLmr", "figure": "LL read misses", "small": 20,
                             "big": 26, "ratio": 13.0}  # fmt: skip
    printed = walk_counts.render(walk_counts.rows(counts))
    assert "10 walks of 10k" in printed.splitlines()[0]
    assert "2,010" in printed
    assert "10.05x" in printed


def test_without_valgrind_it_says_what_to_install(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT)],
        capture_output=True,
        text=True,
        env={"PATH": str(tmp_path)},  # no valgrind there
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert "needs valgrind on PATH" in done.stderr
