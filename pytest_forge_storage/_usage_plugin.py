"""``--forge-storage-usage`` and ``--forge-storage-usage-json``: the run's usage report.

Each test's figures ride on its teardown report (``report.forge_storage_usage``, set by the
plugin), which pytest-xdist serialises from the workers to the controller; this plugin,
registered only when one of the options is given, collects them there and prints the table
(:func:`~pytest_forge_storage._usage_report.usage_table`) or writes the JSON document at the
end of the session. Workers write nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ._usage import Usage
from ._usage_report import usage_json, usage_table

ATTRIBUTE = "forge_storage_usage"


class UsageReport:
    """Collects ``{nodeid: {installation: counters}}`` from the reports of the run."""

    def __init__(self, config: pytest.Config, *, table: bool, json_path: Path | None) -> None:
        self.config = config
        self.table = table
        self.json_path = json_path
        #: Added to in place, one report at a time (a rerun adds to its test's figures).
        self._figures: dict[str, dict[str, Usage]] = {}

    @property
    def run(self) -> dict[str, dict[str, dict[str, int]]]:
        """``{nodeid: {installation: counters}}`` so far (the report's input)."""
        return {
            nodeid: {key: usage.as_dict() for key, usage in installations.items()}
            for nodeid, installations in self._figures.items()
        }

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        usage: Any = getattr(report, ATTRIBUTE, None)
        if usage:
            target = self._figures.setdefault(report.nodeid, {})
            for key, counters in usage.items():
                target.setdefault(key, Usage()).add(counters)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.table and not hasattr(self.config, "workerinput"):
            terminalreporter.write_sep("=", "forge storage usage")
            terminalreporter.write_line(usage_table(self.run))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.json_path is not None and not hasattr(self.config, "workerinput"):
            self.json_path.parent.mkdir(parents=True, exist_ok=True)
            self.json_path.write_text(usage_json(self.run), encoding="utf-8")
