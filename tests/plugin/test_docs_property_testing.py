"""The recipes of docs/property-testing.md, run as written through pytester.

Each fenced block of the page whose first line is ``# <file name>`` is a file; a recipe is a
set of those files, written into a fresh pytester directory with ``app.py`` and
``manifest.yml`` and run. Editing the page changes what these tests run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("hypothesis")

PAGE = Path(__file__).parents[2] / "docs" / "property-testing.md"
BLOCK = re.compile(r"^```(?:python|yaml)\n# (?P<name>[\w.]+)\n(?P<body>.*?)^```$", re.M | re.S)
SHARED = ("app.py", "manifest.yml")


def files() -> dict[str, str]:
    text = PAGE.read_text(encoding="utf-8")
    found = {m["name"]: f"# {m['name']}\n{m['body']}" for m in BLOCK.finditer(text)}
    assert len(found) == len(BLOCK.findall(text)), "two blocks name the same file"
    return found


def write(pytester: pytest.Pytester, *names: str, edit: tuple[str, str] | None = None) -> None:
    docs = files()
    for name in (*SHARED, *names):
        body = docs[name]
        if edit is not None and edit[0] in body:
            body = body.replace(*edit)
        path = pytester.path / name
        path.write_text(body, encoding="utf-8")


def test_the_page_has_every_recipe_file() -> None:
    assert set(files()) == {
        "app.py",
        "manifest.yml",
        "test_round_trip.py",
        "test_trips_the_health_check.py",
        "test_employees.py",
        "test_with_the_fixture.py",
        "conftest.py",
        "test_shared_fake.py",
    }


def test_a_fresh_fake_inside_given(pytester: pytest.Pytester) -> None:
    write(pytester, "test_round_trip.py")
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


def test_the_fixture_inside_given_trips_the_health_check(pytester: pytest.Pytester) -> None:
    write(pytester, "test_trips_the_health_check.py")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    line = next(line for line in PAGE.read_text().splitlines() if "FailedHealthCheck:" in line)
    result.stdout.fnmatch_lines([f"*{line.split('FailedHealthCheck: ', 1)[1]}*"])


def test_a_module_scoped_fake_reset_per_example(pytester: pytest.Pytester) -> None:
    write(pytester, "test_employees.py")
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


def test_without_required_age_the_property_fails_on_one_record(
    pytester: pytest.Pytester,
) -> None:
    # The page says so: a record without "age" is not in the by-age index.
    write(pytester, "test_employees.py", edit=(', required=["age"]', ""))
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Draw 1: {'0': {}}*"])  # one record, without "age"


def test_the_fixture_with_the_check_turned_off(pytester: pytest.Pytester) -> None:
    write(pytester, "test_with_the_fixture.py")
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


@pytest.mark.parametrize("order", ["as written", "reversed"])
def test_one_seeded_fake_for_the_session(pytester: pytest.Pytester, order: str) -> None:
    write(pytester, "conftest.py", "test_shared_fake.py")
    if order == "reversed":
        pytester.makeconftest(
            files()["conftest.py"]
            + "\n\ndef pytest_collection_modifyitems(items):\n    items.reverse()\n"
        )
    result = pytester.runpytest("-p", "no:randomly", "-v")
    result.assert_outcomes(passed=3)
    names = [line.split("::")[1].split()[0] for line in result.outlines if " PASSED" in line]
    expected = ["test_reads_the_seeded_settings", "test_writes_stay_in_their_test"]
    expected.append("test_starts_from_the_seeded_state")
    assert names == (expected if order == "as written" else expected[::-1])
