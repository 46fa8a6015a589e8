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

from ._usage_report import merge_runs, usage_json, usage_table

ATTRIBUTE = "forge_storage_usage"


class UsageReport:
    """Collects ``{nodeid: {installation: counters}}`` from the reports of the run."""

    def __init__(self, config: pytest.Config, *, table: bool, json_path: Path | None) -> None:
        self.config = config
        self.table = table
        self.json_path = json_path
        self.run: dict[str, dict[str, dict[str, int]]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        usage: Any = getattr(report, ATTRIBUTE, None)
        if usage:
            self.run = merge_runs([self.run, {report.nodeid: usage}])

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.table and not hasattr(self.config, "workerinput"):
            terminalreporter.write_sep("=", "forge storage usage")
            terminalreporter.write_line(usage_table(self.run))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.json_path is not None and not hasattr(self.config, "workerinput"):
            self.json_path.parent.mkdir(parents=True, exist_ok=True)
            self.json_path.write_text(usage_json(self.run), encoding="utf-8")
