"""``benchmarks/run.py`` runs and prints its table (a smoke test: timings are never asserted).

The benchmarks are a report, not a gate: a slow or shared machine must not fail this test,
so it checks only that the script completes, exits 0 and prints one row per figure of the
groups it was asked for, each with a result word.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
#: One cheap group from each benchmark module: served calls, start-up costs, memory.
GROUPS = "httpx,activation,memory"
RESULTS = {"PASS", "HELD", "FAIL", "report", "SKIP"}

pytestmark = pytest.mark.skipif(not RUN.exists(), reason="benchmarks/ is not part of this tree")


def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_quick_run_prints_one_table_with_a_result_per_row(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    done = run("--quick", "--only", GROUPS, "--json", str(out))

    assert done.returncode == 0, done.stdout + done.stderr
    text = done.stdout
    assert "Python " in text  # machine info
    assert "CPUs: " in text
    header = next(line for line in text.splitlines() if line.startswith("Figure"))
    assert [cell.strip() for cell in header.split("|")] == [
        "Figure",
        "Median",
        "Baseline",
        "Baseline median",
        "Ratio",
        "Spread",
        "Budget",
        "Result",
    ]
    document = json.loads(out.read_text())
    assert document["format"] == 1
    assert document["machine"][0].startswith("Python ")
    rows = document["rows"]
    assert {row["group"] for row in rows} == set(GROUPS.split(","))
    figures = {row["figure"] for row in rows}
    assert "REST get via httpx.Client" in figures
    assert "REST set via httpx.Client" in figures
    assert "forge_storage activation + teardown" in figures
    assert any(figure.startswith("memory per KVS item") for figure in figures)
    for row in rows:
        assert row["status"] in RESULTS, row
        assert row["figure"] in text  # every row is in the printed table
        if row["status"] != "SKIP":
            assert row["value"] > 0, row
    served = [row for row in rows if row["group"] == "httpx"]
    assert all(row["baseline"] == "bare respx route (sync)" for row in served)
    assert {row["figure"]: row["budget"] for row in served} == {
        "REST get via httpx.Client": "<= 0.65x",
        "REST set via httpx.Client": "<= 0.85x",
    }
    assert all(row["ratio"] > 0 for row in served)
    for row in served:  # 11 rounds: the 2nd to the 10th hold the median with 95% confidence
        low, high = row["spread"]
        assert low <= row["ratio"] <= high, row
    assert "wall time" in text

    # --render prints the same report again from the file, without running anything
    again = run("--render", str(out))
    assert again.returncode == 0, again.stderr
    printed = [line.rstrip() for line in text.splitlines() if "|" in line]
    rendered = [line.rstrip() for line in again.stdout.splitlines() if "|" in line]
    assert [line.split("|")[1:] for line in rendered] == [
        line.split("|")[1:] for line in printed
    ]  # every cell but the figure's indent
    assert document["summary"] in again.stdout


def test_list_names_every_group() -> None:
    done = run("--list", timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "requests",
        "httpx",
        "httpx-async",
        "aiohttp",
        "guard",
        "graphql",
        "moto",
        "activation",
        "import",
        "server",
        "kvs-scale",
        "entity-scale",
        "memory",
        "invocations",
        "installations",
        "realism",
        "lag",
        "seeding",
    ]


def test_unknown_group_is_refused_naming_the_groups() -> None:
    done = run("--only", "nope", timeout=60)

    assert done.returncode == 2
    assert "unknown group(s) nope; choose from requests, httpx" in done.stderr
