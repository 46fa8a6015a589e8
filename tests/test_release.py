"""Release hygiene: one version, and a changelog that names it."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest

import pytest_forge_storage

ROOT = Path(__file__).parent.parent


def test_installed_metadata_carries_the_package_version() -> None:
    # pyproject.toml's version is dynamic, read by hatch from __init__.py: a mismatch means a
    # second version source crept back, or a stale install (pip install -e . again).
    assert version("pytest-forge-storage") == pytest_forge_storage.__version__


def test_pyproject_has_no_version_of_its_own() -> None:
    pyproject = ROOT / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("runs from a source checkout only")
    text = pyproject.read_text(encoding="utf-8")
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    assert re.search(r"^version\s*=", project, re.M) is None, "the version lives in __init__.py"
    assert re.search(r'^dynamic\s*=\s*\[[^]]*"version"', project, re.M)


def test_changelog_has_a_section_for_the_version() -> None:
    changelog = ROOT / "CHANGELOG.md"
    if not changelog.is_file():
        pytest.skip("runs from a source checkout only")
    headings = re.findall(r"^## (\S+)", changelog.read_text(encoding="utf-8"), re.M)
    assert headings[0] == "Unreleased", headings
    assert pytest_forge_storage.__version__ in headings, headings
