"""The usage report: end-of-run table, JSON document, JUnit properties, from plain data."""

from __future__ import annotations

import json

import pytest

from pytest_forge_storage._usage import Usage
from pytest_forge_storage._usage_report import (
    FORMAT,
    VERSION,
    junit_properties,
    merge_runs,
    per_test_totals,
    usage_document,
    usage_json,
    usage_table,
)
from pytest_forge_storage.router._meter import Meter

PLAIN = "tests/test_import.py::test_bulk_import_one_by_one"
BATCHED = "tests/test_import.py::test_bulk_import_batched"
REPORT = "tests/test_reports.py::test_monthly_report[site-b]"


def _run() -> dict[str, dict[str, dict[str, int]]]:
    """Figures as a worker sends them: each test's ``Meter.as_dict()``."""
    plain, batched, report = Meter(), Meter(), Meter()
    for i in range(1_250):
        plain.record("set", {"key": f"row:{i}", "value": "x" * 9_000}, status=204)
    for i in range(50):
        items = [{"key": f"row:{i}-{j}", "value": "x" * 9_000} for j in range(25)]
        batched.record("batch/set", items, status=200)
    batched.record("batch/set", [], status=429, rate_limited=True)
    report.record("query", {}, b"x" * 65_000, status=200)
    report.record("get", {"key": "k"}, b"x" * 300, status=200, installation="site-b")
    return {PLAIN: plain.as_dict(), BATCHED: batched.as_dict(), REPORT: report.as_dict()}


def test_the_table_ranks_tests_by_write_units_and_shows_totals_and_the_allowance() -> None:
    text = usage_table(_run())

    assert text.splitlines() == [
        "3 tests used Forge storage, by write units:",
        "",
        "test                                                requests  read units  write units"
        "  read bytes  write bytes  429s  cost USD",
        "tests/test_import.py::test_bulk_import_one_by_one      1,250           0        1,250"
        "           0   11,285,140     0  0.012301",
        "tests/test_import.py::test_bulk_import_batched            51           0        1,150"
        "           0   11,288,050     1  0.012304",
        "tests/test_reports.py::test_monthly_report[site-b]         2           8            0"
        "      65,300            0     0  0.000004",
        "total (3 tests)                                        1,303           8        2,400"
        "      65,300   22,573,190     1  0.024608",
        "",
        "Share of the monthly free allowance (0.1 GB read, 0.1 GB written, per app): 0.0653% "
        "read, 22.6% written.",
        "Cost is gross, before the allowance, at Forge's prices of 2025-06-30: $0.055/GB read, "
        "$1.090/GB written",
        "(billed from 2026-01-01). A unit is 10,000 bytes, a GB 1,000,000,000 bytes.",
    ]


def test_the_table_shows_the_top_tests_only_but_totals_all() -> None:
    lines = usage_table(_run(), top=1).splitlines()

    assert lines[0] == "3 tests used Forge storage; the 1 with the most write units:"
    assert lines[3].startswith(PLAIN)
    assert lines[4].startswith("total (3 tests)")
    assert lines[4].split()[3] == "1,303"


def test_long_test_ids_are_shortened_from_the_left() -> None:
    nodeid = "tests/" + "deep/" * 20 + "test_x.py::test_one"
    lines = usage_table({nodeid: {"default": {"requests": 1}}}).splitlines()

    assert lines[0] == "1 test used Forge storage, by write units:"
    assert lines[3].startswith("...")
    assert lines[3].split()[0] == "..." + nodeid[-61:]


def test_an_empty_run_says_so() -> None:
    assert usage_table({}) == "No test made a Forge storage request."


def test_the_json_document_has_stable_keys_and_every_figure() -> None:
    document = json.loads(usage_json(_run()))

    assert list(document) == ["format", "version", "units", "pricing", "totals", "tests"]
    assert (
        (document["format"], document["version"])
        == (FORMAT, VERSION)
        == (
            "pytest-forge-storage-usage",
            1,
        )
    )
    assert document["units"] == {"unit_bytes": 10_000, "gb_bytes": 1_000_000_000}
    assert document["pricing"] == {
        "source": "https://developer.atlassian.com/platform/forge/forge-platform-pricing",
        "updated": "2025-06-30",
        "billing_from": "2026-01-01",
        "read_usd_per_gb": 0.055,
        "write_usd_per_gb": 1.09,
        "free_read_gb": 0.1,
        "free_write_gb": 0.1,
        "allowance_per": "app and month",
    }
    assert list(document["tests"]) == sorted([PLAIN, BATCHED, REPORT])
    report = document["tests"][REPORT]
    assert report == {
        "requests": 2,
        "read_bytes": 65_300,
        "write_bytes": 0,
        "read_units": 8,
        "write_units": 0,
        "rate_limited": 0,
        "cost_usd": pytest.approx(65_300 * 0.055 / 1e9),
        "allowance_share": {"read": pytest.approx(0.000653), "write": 0.0},
        "installations": {
            "default": {
                "requests": 1, "read_bytes": 65_000, "write_bytes": 0, "read_units": 7,
                "write_units": 0, "rate_limited": 0,
                "cost_usd": pytest.approx(65_000 * 0.055 / 1e9),
                "allowance_share": {"read": pytest.approx(0.00065), "write": 0.0},
            },
            "site-b": {
                "requests": 1, "read_bytes": 300, "write_bytes": 0, "read_units": 1,
                "write_units": 0, "rate_limited": 0,
                "cost_usd": pytest.approx(300 * 0.055 / 1e9),
                "allowance_share": {"read": pytest.approx(0.000003), "write": 0.0},
            },
        },
    }  # fmt: skip
    totals = document["totals"]
    assert (totals["tests"], totals["requests"], totals["write_units"]) == (3, 1_303, 2_400)
    assert totals["cost_usd"] == pytest.approx(65_300 * 0.055e-9 + 22_573_190 * 1.09e-9)
    assert usage_document(_run()) == document


def test_worker_reports_merge_into_one_run() -> None:
    first = {PLAIN: {"default": {"requests": 2, "write_units": 2}}}
    second = {
        PLAIN: {"default": {"requests": 1}, "site-b": {"requests": 4}},  # a rerun of the test
        REPORT: {"default": {"read_units": 3}},
    }

    merged = merge_runs([first, second])

    assert per_test_totals(merged) == {
        PLAIN: Usage(requests=7, write_units=2),
        REPORT: Usage(read_units=3),
    }
    assert merged[PLAIN]["site-b"] == Usage(requests=4).as_dict()


def test_corrupt_worker_figures_are_refused() -> None:
    with pytest.raises(ValueError, match="Unknown usage counter"):
        usage_table({PLAIN: {"default": {"writes": 1}}})


def test_junit_properties_carry_the_figures_of_one_test() -> None:
    one = {"default": Usage(requests=3, write_bytes=12_000, write_units=2).as_dict()}
    two = {**one, "site-b": Usage(requests=1, read_bytes=10, read_units=1).as_dict()}

    assert junit_properties(one) == [
        ("forge_storage.requests", 3),
        ("forge_storage.read_bytes", 0),
        ("forge_storage.write_bytes", 12_000),
        ("forge_storage.read_units", 0),
        ("forge_storage.write_units", 2),
        ("forge_storage.rate_limited", 0),
        ("forge_storage.cost_usd", "0.000013080"),
    ]
    pairs = dict(junit_properties(two))
    assert pairs["forge_storage.requests"] == 4
    assert pairs["forge_storage.site-b.read_units"] == 1
    assert pairs["forge_storage.default.write_units"] == 2
    assert len(pairs) == 7 + 2 * 6
