"""The usage report as users meet it: ``--forge-storage-usage``, ``--forge-storage-usage-json``,
JUnit XML properties, in one process and under pytest-xdist (figures from the workers)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
SUITE = """
import requests
URL = "https://api.atlassian.com/forge/storage/kvs/v1/"
AUTH = {"Authorization": "Bearer t"}

def post(operation, body, headers=AUTH):
    return requests.post(URL + operation, json=body, headers=headers, timeout=5)

def test_one_by_one(forge_storage):
    for i in range(30):
        post("set", {"key": f"item:{i:02}", "value": {"n": i}})

def test_in_batches(forge_storage):
    post("batch/set", [{"key": f"item:{i:02}", "value": {"n": i}} for i in range(25)])
    post("batch/set", [{"key": f"item:{i:02}", "value": {"n": i}} for i in range(25, 30)])

def test_reads(forge_storage):
    forge_storage.kvs["big"] = "x" * 50_000
    for _ in range(3):
        post("get", {"key": "big"})

def test_two_sites(forge_storage):
    a = forge_storage.installation("site-a")
    b = forge_storage.installation("site-b")
    post("set", {"key": "k", "value": 1}, {"Authorization": f"Bearer {a.token}"})
    post("get", {"key": "k"}, {"Authorization": f"Bearer {b.token}"})

def test_without_storage():
    pass

def test_fixture_but_no_request(forge_storage):
    forge_storage.kvs["seeded"] = 1

def test_failing(forge_storage):
    post("set", {"key": "k", "value": 1})
    assert False
"""
#: The table of SUITE, as printed at the end of the run (xdist or not: the same text).
TABLE = """\
============================= forge storage usage ==============================
5 tests used Forge storage, by write units:

test                                   requests  read units  write units  read bytes  write bytes  429s  cost USD
test_report_suite.py::test_one_by_one        30           0           30           0        1,010     0  0.000001
test_report_suite.py::test_in_batches         2           0            2           0        1,042     0  0.000001
test_report_suite.py::test_two_sites          2           0            1           0           21     0  0.000000
test_report_suite.py::test_failing            1           0            1           0           21     0  0.000000
test_report_suite.py::test_reads              3          18            0     150,072            0     0  0.000008
total (5 tests)                              38          18           34     150,072        2,094     0  0.000011

Share of the monthly free allowance (0.1 GB read, 0.1 GB written, per app): 0.15% read, 0.00209% written.
Cost is gross, before the allowance, at Forge's prices of 2025-06-30: $0.055/GB read, $1.090/GB written
(billed from 2026-01-01). A unit is 10,000 bytes, a GB 1,000,000,000 bytes."""  # noqa: E501

XDIST = ("-p", "xdist", "-n", "2")


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makepyfile(test_report_suite=SUITE)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    result = pytester.runpytest("-p", "no:randomly", *args)
    result.assert_outcomes(passed=6, failed=1)
    return result


def printed_table(result: pytest.RunResult) -> str:
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if "forge storage usage" in line)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("===="))
    return "\n".join(lines[start:end])


# -- the table -------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [(), XDIST], ids=["one process", "xdist -n 2"])
def test_the_table_is_printed_at_the_end_of_the_run(
    suite: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    result = run(suite, "--forge-storage-usage", *workers)

    assert printed_table(result) == TABLE
    # after every test report, as the last section before pytest's own summary
    text = result.stdout.str()
    assert text.index("forge storage usage ===") > text.index("forge storage calls ---")
    assert text.index("forge storage usage ===") < text.index("short test summary info")


def test_no_table_unless_asked(suite: pytest.Pytester) -> None:
    result = run(suite)

    assert "forge storage usage" not in result.stdout.str()


def test_a_run_where_no_test_used_storage_says_so(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("def test_plain(): pass\ndef test_seed(forge_storage): pass\n")

    result = pytester.runpytest("-p", "no:randomly", "--forge-storage-usage")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*= forge storage usage =*", "No test made a Forge storage request."]
    )


def test_the_table_shows_the_top_ten_and_the_total_of_all(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_top="""
        import pytest, requests
        URL = "https://api.atlassian.com/forge/storage/kvs/v1/set"

        @pytest.mark.parametrize("n", range(12))
        def test_writes(forge_storage, n):
            for i in range(n + 1):
                requests.post(URL, json={"key": f"k{i}", "value": 1},
                              headers={"Authorization": "Bearer t"}, timeout=5)
        """
    )

    result = pytester.runpytest("-p", "no:randomly", "--forge-storage-usage")

    result.assert_outcomes(passed=12)
    table = printed_table(result).splitlines()
    assert table[1] == "12 tests used Forge storage; the 10 with the most write units:"
    rows = [line.split()[0] for line in table[4:14]]
    assert rows == [f"test_top.py::test_writes[{n}]" for n in range(11, 1, -1)]
    assert table[14].split()[:5] == ["total", "(12", "tests)", "78", "0"]  # 1 + 2 + ... + 12


# -- the JSON document ------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [(), XDIST], ids=["one process", "xdist -n 2"])
def test_the_json_document_has_every_test_s_figures(
    suite: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    path = suite.path / "reports" / "usage.json"

    run(suite, "--forge-storage-usage-json", str(path), *workers)

    document = json.loads(path.read_text(encoding="utf-8"))
    assert (document["format"], document["version"]) == ("pytest-forge-storage-usage", 1)
    assert document["units"] == {"unit_bytes": 10_000, "gb_bytes": 10**9}
    assert document["pricing"]["write_usd_per_gb"] == 1.09
    tests = document["tests"]
    assert list(tests) == sorted(f"test_report_suite.py::{name}" for name in (
        "test_one_by_one", "test_in_batches", "test_reads", "test_two_sites", "test_failing",
    ))  # fmt: skip
    one_by_one = tests["test_report_suite.py::test_one_by_one"]
    assert {name: one_by_one[name] for name in ("requests", "write_bytes", "write_units")} == {
        "requests": 30,
        "write_bytes": 1_010,
        "write_units": 30,
    }
    sites = tests["test_report_suite.py::test_two_sites"]["installations"]
    pairs = {key: (figures["requests"], figures["write_units"]) for key, figures in sites.items()}
    assert pairs == {"site-a": (1, 1), "site-b": (1, 0)}
    totals = document["totals"]
    assert (totals["tests"], totals["requests"], totals["read_bytes"]) == (5, 38, 150_072)
    assert totals["cost_usd"] == pytest.approx((150_072 * 0.055 + 2_094 * 1.09) / 1e9)
    assert [p.name for p in path.parent.iterdir()] == ["usage.json"]  # workers write nothing


def test_the_table_and_the_json_together(suite: pytest.Pytester) -> None:
    path = suite.path / "usage.json"

    result = run(suite, "--forge-storage-usage", "--forge-storage-usage-json", str(path))

    assert printed_table(result) == TABLE
    assert json.loads(path.read_text(encoding="utf-8"))["totals"]["write_units"] == 34


# -- JUnit XML ----------------------------------------------------------------------------------
def properties(path: Any) -> dict[str, dict[str, str]]:
    tree = ET.parse(path)
    return {
        case.get("name", ""): {prop.get("name", ""): prop.get("value", "") for prop in case.iter(
            "property"
        )}
        for case in tree.iter("testcase")
    }  # fmt: skip


@pytest.mark.parametrize("workers", [(), XDIST], ids=["one process", "xdist -n 2"])
def test_junit_xml_carries_the_figures_as_properties(
    suite: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    path = suite.path / "junit.xml"

    run(suite, f"--junitxml={path}", *workers)

    found = properties(path)
    assert found["test_one_by_one"] == {
        "forge_storage.requests": "30",
        "forge_storage.read_bytes": "0",
        "forge_storage.write_bytes": "1010",
        "forge_storage.read_units": "0",
        "forge_storage.write_units": "30",
        "forge_storage.rate_limited": "0",
        "forge_storage.cost_usd": "0.000001101",
    }
    sites = found["test_two_sites"]
    assert sites["forge_storage.requests"] == "2"
    assert sites["forge_storage.site-a.write_units"] == "1"
    assert sites["forge_storage.site-b.requests"] == "1"
    assert sites["forge_storage.site-b.write_units"] == "0"
    assert found["test_failing"]["forge_storage.write_units"] == "1"
    assert found["test_without_storage"] == {}
    assert found["test_fixture_but_no_request"] == {}


def test_a_test_s_own_properties_stay_beside_the_figures(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI + "junit_family = xunit1\n")
    pytester.makepyfile(
        """
        import requests

        def test_it(forge_storage, record_property):
            record_property("ticket", "FORGE-1")
            requests.post("https://api.atlassian.com/forge/storage/kvs/v1/get",
                          json={"key": "k"}, headers={"Authorization": "Bearer t"}, timeout=5)
        """
    )
    path = pytester.path / "junit.xml"

    pytester.runpytest("-p", "no:randomly", f"--junitxml={path}").assert_outcomes(passed=1)

    found = properties(path)["test_it"]
    assert found["ticket"] == "FORGE-1"
    assert found["forge_storage.requests"] == "1"
