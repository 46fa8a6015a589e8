"""How ``benchmarks/run.py`` judges a row: its ratio, the run's own spread of it, and the
result word ``--strict`` gates on (design §3: a ratio within the run's own spread of the
budget counts as held).

The rows here are built from chosen round times, so every verdict is known in advance;
no timing of this machine is asserted.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

pytestmark = pytest.mark.skipif(
    not (BENCHMARKS / "run.py").exists(), reason="benchmarks/ is not part of this tree"
)


@pytest.fixture(scope="module")
def timing() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import _timing

        yield _timing
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def run(timing: ModuleType) -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import run

        yield run
    finally:
        sys.path.remove(str(BENCHMARKS))


def coverage(n: int, k: int) -> float:
    """The chance that rounds k and n+1-k of n (in order) hold the median between them."""
    return 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2**n


def test_the_spread_of_21_rounds_is_the_6th_to_the_16th(timing: ModuleType) -> None:
    ratios = [10.0 + i / 10 for i in range(21)]  # 10.0, 10.1, ... 12.0
    shuffled = ratios[::2] + ratios[1::2]

    assert timing.spread(shuffled) == (ratios[5], ratios[15])


def test_the_spread_of_11_rounds_is_the_2nd_to_the_10th(timing: ModuleType) -> None:
    ratios = [float(i) for i in range(1, 12)]

    assert timing.spread(ratios) == (2.0, 10.0)


@pytest.mark.parametrize("n", range(6, 80))
def test_the_spread_is_the_narrowest_interval_with_95_percent_coverage(
    timing: ModuleType, n: int
) -> None:
    ratios = [float(i) for i in range(1, n + 1)]

    low, high = timing.spread(ratios)

    k = int(low)
    assert high == n + 1 - k  # symmetric in rank
    assert coverage(n, k) >= 0.95
    assert coverage(n, k + 1) < 0.95  # one rank further in would no longer be 95% sure


@pytest.mark.parametrize("n", [1, 2, 5])
def test_too_few_rounds_have_no_spread(timing: ModuleType, n: int) -> None:
    assert timing.spread([1.0] * n) is None


def walk_row(timing: ModuleType, ratios: list[float]) -> Any:
    return timing.Row(
        "entity-scale",
        "walk",
        100.0,
        "ms",
        "walk at 10k",
        10.0,
        timing.at_most(11),
        ratios=ratios,
    )


# 21 rounds whose median is 11.2x; the 6th smallest decides whether 11x is within reach.
OVER_WITHIN = [10.8, 10.85, 10.9, 10.95, 10.99, 11.0, *[11.2] * 9, 11.4, 11.5, 11.6, 11.7,
               11.8, 11.9]  # fmt: skip
OVER_BEYOND = [11.05, 11.06, 11.07, 11.08, 11.09, 11.1, *[11.2] * 9, 11.4, 11.5, 11.6, 11.7,
               11.8, 11.9]  # fmt: skip


def test_a_ratio_over_its_budget_within_the_runs_spread_is_held(timing: ModuleType) -> None:
    row = walk_row(timing, OVER_WITHIN)

    assert row.ratio == pytest.approx(11.2)
    assert row.spread == (11.0, 11.4)
    assert row.status == "HELD"


def test_a_ratio_over_its_budget_beyond_the_runs_spread_fails(timing: ModuleType) -> None:
    row = walk_row(timing, OVER_BEYOND)

    assert row.spread == (11.1, 11.4)
    assert row.status == "FAIL"


def test_a_ratio_over_its_budget_with_too_few_rounds_fails(timing: ModuleType) -> None:
    assert walk_row(timing, [10.0, 11.2, 11.3]).status == "FAIL"  # --quick walks: 3 rounds


def test_a_ratio_within_its_budget_passes_whatever_its_spread(timing: ModuleType) -> None:
    assert walk_row(timing, [9.0, *[10.9] * 19, 14.0]).status == "PASS"


def test_paired_samples_give_the_row_its_rounds(timing: ModuleType) -> None:
    fake = [2.0 * i for i in range(1, 22)]
    baseline = [float(i) for i in range(1, 22)]
    fake[0] = 9.0  # one noisy round: 9x

    row = timing.Row("g", "f", 1.0, "us", "b", 1.0, timing.at_most(2.5),
                     samples={"fake": fake, "baseline": baseline})  # fmt: skip

    assert row.ratio == 2.0
    assert row.spread == (2.0, 2.0)
    assert row.status == "PASS"


def test_a_faster_by_budget_is_held_within_the_spread_too(timing: ModuleType) -> None:
    # "at least 2x faster": a ratio of at most 0.5
    ratios = [0.45, 0.46, 0.47, 0.48, 0.49, 0.5, *[0.52] * 9, *[0.6] * 6]
    row = timing.Row("g", "f", 1.0, "us", "b", 2.0, timing.faster_by(2), ratios=ratios)

    assert row.status == "HELD"


@pytest.fixture
def fake_groups(run: ModuleType, timing: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = {
        "held": [walk_row(timing, OVER_WITHIN)],
        "failed": [walk_row(timing, OVER_BEYOND)],
    }
    monkeypatch.setattr(run, "GROUPS", {name: lambda config, name=name: rows[name]
                                        for name in rows})  # fmt: skip


@pytest.mark.usefixtures("fake_groups")
def test_strict_passes_a_run_whose_only_miss_is_held(
    run: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "run.json"

    assert run.main(["--strict", "--quick", "--only", "held", "--json", str(saved)]) == 0

    printed = capsys.readouterr().out
    assert "1 rows: 0 PASS, 1 HELD, 0 FAIL" in printed
    assert "11.00-11.40x" in printed
    (row,) = json.loads(saved.read_text())["rows"]
    assert row["status"] == "HELD"
    assert row["spread"] == [11.0, 11.4]
    assert row["ratio"] == pytest.approx(11.2)


@pytest.mark.usefixtures("fake_groups")
def test_strict_fails_a_run_with_a_miss_beyond_its_spread(
    run: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run.main(["--strict", "--quick", "--only", "held,failed"]) == 1

    assert "2 rows: 0 PASS, 1 HELD, 1 FAIL" in capsys.readouterr().out


@pytest.mark.usefixtures("fake_groups")
def test_render_shows_a_saved_run_with_its_spreads_and_results(
    run: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "run.json"
    run.main(["--quick", "--only", "held,failed", "--json", str(saved)])
    printed = capsys.readouterr().out

    assert run.main(["--render", str(saved)]) == 0

    rendered = capsys.readouterr().out
    table = [line.split("|")[1:] for line in printed.splitlines() if "|" in line]
    assert [line.split("|")[1:] for line in rendered.splitlines() if "|" in line] == table
    assert "11.10-11.40x" in rendered


def test_render_reads_a_saved_run_without_spreads(
    run: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A format-1 document written before spreads were recorded still renders."""
    saved = tmp_path / "old.json"
    row = {"group": "httpx", "figure": "REST get via httpx.Client", "value": 228.0,
           "unit": "us", "baseline": "bare respx route (sync)", "baseline_value": 354.0,
           "ratio": 0.66, "budget": "<= 0.65x", "status": "FAIL", "note": None}  # fmt: skip
    document = {"format": 1, "machine": ["Python 3"], "rows": [row],
                "summary": "1 rows: 0 PASS, 1 FAIL", "wall_seconds": 1.0}  # fmt: skip
    saved.write_text(json.dumps(document))

    assert run.main(["--render", str(saved)]) == 0

    (line,) = [line for line in capsys.readouterr().out.splitlines() if "REST get" in line]
    cells = [cell.strip() for cell in line.split("|")]
    assert cells[4:] == ["0.66x", "-", "<= 0.65x", "FAIL"]
