"""The snippet of docs/getting-started.md that uses this example runs as written, with this
example's pytest configuration (a pytest subprocess, so the page's test file stays as is)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[1]
PAGE = EXAMPLE.parents[1] / "docs" / "getting-started.md"


def test_the_getting_started_snippet_passes(tmp_path: Path) -> None:
    if not PAGE.exists():
        pytest.skip("docs/getting-started.md is not beside this example")
    blocks = re.findall(r"^```python\n(.*?)^```$", PAGE.read_text(encoding="utf-8"), re.M | re.S)
    (snippet,) = [block for block in blocks if "from forge_deploy_tracker import" in block]
    test_file = tmp_path / "test_snippet.py"
    test_file.write_text(snippet, encoding="utf-8")
    config = ["-c", str(EXAMPLE / "pyproject.toml"), "--rootdir", str(EXAMPLE)]
    command = [sys.executable, "-m", "pytest", *config, "-q", "-p", "no:cacheprovider"]
    result = subprocess.run(
        [*command, str(test_file)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
