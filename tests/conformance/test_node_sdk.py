"""Atlassian's own SDKs against the server: ``@forge/kvs@1.6.5`` and ``@forge/api@7.2.2``.

``tests/conformance/node/`` holds a Node project (``package-lock.json`` pins the SDKs), a
shim that runs the SDKs outside Forge (ref §14.3) and ``node --test`` suites whose
expectations come from the reference. This test serves the fake with the suite's
``manifest.yml``, runs the suites once per path style — the SDK's in-runtime paths
(``/api/v1/<op>``, ``/forge/entities/graphql``; decision 13) and the public remote paths
(``/forge/storage/kvs/v1/<op>``, ``/graphql``) — and fails with Node's output when a case
fails. Skipped only when ``node`` or ``npm`` is missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_forge_storage._operations import OPERATIONS
from pytest_forge_storage.server import ForgeStorageServer

NODE_DIR = Path(__file__).parent / "node"
STAMP = NODE_DIR / "node_modules" / ".pytest-forge-storage-lock"
GRAPHQL_OPERATIONS = {
    "get", "set", "delete", "query", "secret/get", "secret/set", "secret/delete",
    "entity/get", "entity/set", "entity/delete", "entity/query",
}  # fmt: skip

NODE = shutil.which("node")
NPM = shutil.which("npm")
pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None,
    reason="the Node conformance suite needs node (>= 20) and npm on PATH",
)


def _lock_digest() -> str:
    return hashlib.sha256((NODE_DIR / "package-lock.json").read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """``npm ci`` once, and only when node_modules is missing or the lock file changed.

    Session scope is per xdist worker: the cases run on several workers at once, so the
    install is done under a file lock, by whichever worker comes first (``npm ci`` deletes
    ``node_modules`` before it fills it again, so two at once break each other).
    """
    digest = _lock_digest()
    with open(NODE_DIR / ".npm-ci.lock", "w") as lock:
        with contextlib.suppress(ImportError):  # no fcntl on Windows: no workers to race
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        if STAMP.is_file() and STAMP.read_text().strip() == digest:
            return NODE_DIR / "node_modules"
        assert NPM is not None
        result = subprocess.run(
            [NPM, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            pytest.fail(f"npm ci failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        STAMP.write_text(digest + "\n")
    return NODE_DIR / "node_modules"


def _counts(tap: str) -> dict[str, int]:
    return {
        name: int(n)
        for name, n in re.findall(r"^# (tests|pass|fail|skipped|todo) (\d+)$", tap, re.M)
    }


@pytest.mark.parametrize("paths", ["sdk", "rest"])
def test_forge_sdks_against_the_server(
    node_modules: Path, tmp_path: Path, paths: str, record_property: Callable[[str, object], None]
) -> None:
    assert NODE is not None
    tests = sorted(str(p.relative_to(NODE_DIR)) for p in (NODE_DIR / "test").glob("*.test.js"))
    tap_file = tmp_path / "report.tap"
    with ForgeStorageServer(manifest=NODE_DIR / "manifest.yml", log=lambda line: None) as server:
        env = {
            **os.environ,
            "FORGE_STORAGE_URL": server.url,
            "FORGE_STORAGE_PATHS": paths,
            "NODE_OPTIONS": "",
            "NO_COLOR": "1",
        }
        result = subprocess.run(
            [
                NODE, "--test",
                "--test-reporter=spec", "--test-reporter-destination=stdout",
                "--test-reporter=tap", f"--test-reporter-destination={tap_file}",
                *tests,
            ],
            cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        calls = list(server.storage.calls)
    counts = _counts(tap_file.read_text() if tap_file.exists() else "")
    record_property("node_cases", counts)
    summary = (
        f"node --test ({paths} paths): {counts.get('tests', '?')} cases, "
        f"{counts.get('pass', '?')} passed, {counts.get('fail', '?')} failed"
    )
    print(summary)
    if result.returncode != 0:
        full = tmp_path / "node-output.txt"
        full.write_text(result.stdout + result.stderr)
        failing = result.stdout.rfind("✖ failing tests:")
        shown = result.stdout[failing:] if failing >= 0 else result.stdout
        pytest.fail(
            f"{summary}\n\n{shown}\n{result.stderr}\n(full Node output: {full})", pytrace=False
        )
    assert counts.get("tests", 0) > 0, result.stdout

    # The suites exercised every REST operation and every legacy GraphQL operation, and the
    # fake never answered an unrequested 5xx.
    rest = {c.operation for c in calls if c.api == "rest" and c.operation is not None}
    # The suites probe unknown storage paths too: recorded with no operation, answered 403.
    assert {c.status for c in calls if c.api == "rest" and c.operation is None} <= {403}
    graphql = {c.operation for c in calls if c.api == "graphql" and c.operation is not None}
    # ... and malformed GraphQL documents: recorded with no operation, each a 4xx refusal.
    refused = [c for c in calls if c.api == "graphql" and c.operation is None]
    assert all(400 <= c.status < 500 and c.error_code for c in refused), refused
    assert rest == set(OPERATIONS), sorted(set(OPERATIONS) - rest)
    assert graphql == GRAPHQL_OPERATIONS, sorted(GRAPHQL_OPERATIONS - graphql)
    assert [c.summary() for c in calls if c.status >= 500] == []
    prefix = "/api/v1/" if paths == "sdk" else "/forge/storage/kvs/v1/"
    assert all(prefix in c.url for c in calls if c.api == "rest")
