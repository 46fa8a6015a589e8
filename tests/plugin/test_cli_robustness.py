"""``forge-storage-fake serve`` under bad input and bad luck, as a subprocess.

A bad ``--data`` file or an unwritable ``--dump`` is refused before serving, with exit code 2
and one line naming the problem; a ``--dump`` is never half-written, whatever happens while
it is written (a full disk, a second SIGTERM).
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest
import requests

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and rlimits")
AUTH = {"Authorization": "Bearer t"}
MANIFEST = """\
app:
  storage:
    entities:
      - name: employee
        attributes:
          age: {type: integer}
"""
URL_LINE = re.compile(r"^forge-storage-fake serving on (http://127\.0\.0\.1:\d+)$")


class Served:
    """A running ``serve`` subprocess: its URL, and its stderr line by line."""

    def __init__(self, *args: str, preexec_fn: Callable[[], None] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pytest_forge_storage", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=preexec_fn,
        )
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.stderr_lines: queue.Queue[str] = queue.Queue()
        self._pump = threading.Thread(
            target=_pump, args=(self.process.stderr, self.stderr_lines), daemon=True
        )
        self._pump.start()
        first = self.process.stdout.readline()
        match = URL_LINE.match(first.rstrip("\n"))
        if match is None:
            self.close()
            raise AssertionError(f"unexpected first line {first!r}; stderr: {self.stderr()}")
        self.url = match.group(1)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._pump.join(5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def stderr(self) -> str:
        lines = []
        while not self.stderr_lines.empty():
            lines.append(self.stderr_lines.get())
        return "".join(lines)


def _pump(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def serve(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``serve`` expecting it to refuse to start (it would otherwise serve until killed)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest_forge_storage", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""  # never served
    assert done.stderr.count("\n") == 1, done.stderr  # one line
    assert done.stderr.startswith("forge-storage-fake: error: ")
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


BAD_DATA: list[tuple[str, Any, tuple[str, ...]]] = [
    ("a list", [], ("data must be a dict", "not list")),
    ("a string", "kvs", ("data must be a dict",)),
    ("an unknown section", {"kv": {"a": 1}}, ("Unknown data section 'kv'",)),
    ("kvs a list", {"kvs": [1, 2]}, ("data['kvs'] must be a dict", "not list")),
    ("a bad key", {"kvs": {"a/b": 1}}, ("data['kvs']", "INVALID_KEY", "a/b")),
    ("secrets a number", {"secrets": 3}, ("data['secrets'] must be a dict",)),
    ("entities a list", {"entities": []}, ("data['entities'] must be a dict",)),
    (
        "records not a dict",
        {"entities": {"employee": [1]}},
        ("data['entities']['employee'] must be a dict of key -> record",),
    ),
    (
        "a record not a dict",
        {"entities": {"employee": {"e1": 5}}},
        ("data['entities']['employee']['e1'] must be a dict of attributes",),
    ),
    (
        "a record of the wrong type",
        {"entities": {"employee": {"e1": {"age": "old"}}}},
        ("data['entities']['employee']['e1']", "INVALID_ENTITY_VALUE"),
    ),
    (
        "an undeclared entity",
        {"entities": {"manager": {"m1": {}}}},
        ("data['entities']['manager']['m1']", "INVALID_ENTITY_TYPE"),
    ),
    ("metadata a list", {"metadata": []}, ("data['metadata'] must be a dict",)),
    (
        "an unknown metadata section",
        {"metadata": {"kv": {}}},
        ("Unknown metadata section 'kv'",),
    ),
    (
        "metadata of a missing item",
        {"kvs": {}, "metadata": {"kvs": {"ghost": {"createdAt": 1}}}},
        ("metadata['kvs']['ghost'] describes no item in data['kvs']",),
    ),
    (
        "createdAt a string",
        {"kvs": {"k": 1}, "metadata": {"kvs": {"k": {"createdAt": "yesterday"}}}},
        ("metadata['kvs']['k']['createdAt'] must be epoch milliseconds", "'yesterday'"),
    ),
    (
        "updatedAt a boolean",
        {"kvs": {"k": 1}, "metadata": {"kvs": {"k": {"updatedAt": True}}}},
        ("metadata['kvs']['k']['updatedAt'] must be epoch milliseconds",),
    ),
    (
        "expireTime not a time",
        {"secrets": {"s": "x"}, "metadata": {"secrets": {"s": {"expireTime": "soon"}}}},
        ("metadata['secrets']['s']['expireTime'] must be an ISO-8601 time",),
    ),
    (
        "an unknown metadata field",
        {"kvs": {"k": 1}, "metadata": {"kvs": {"k": {"ttl": 5}}}},
        ("metadata['kvs']['k']: unknown field 'ttl'",),
    ),
    (
        "entity metadata of a missing entity",
        {"metadata": {"entities": {"employee": {}}}},
        ("metadata['entities']['employee'] describes no entity",),
    ),
]


@pytest.mark.parametrize(
    ("data", "words"), [case[1:] for case in BAD_DATA], ids=[case[0] for case in BAD_DATA]
)
def test_bad_data_is_refused_in_one_line(tmp_path: Path, data: Any, words: tuple[str]) -> None:
    (tmp_path / "manifest.yml").write_text(MANIFEST)
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    done = serve("--manifest", str(tmp_path / "manifest.yml"), "--data", str(path))
    assert_refused(done, f"cannot load --data {path}: ", *words)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"{nope", ("not JSON",)),
        (b"\xff\xfe{}", ("not JSON",)),
        (b"", ("not JSON",)),
        (b"[" * 100_000 + b"]" * 100_000, ("not JSON",)),
    ],
    ids=["syntax", "not-utf-8", "empty", "deep"],
)
def test_data_that_is_not_json_is_refused_in_one_line(
    tmp_path: Path, content: bytes, words: tuple[str]
) -> None:
    path = tmp_path / "data.json"
    path.write_bytes(content)
    assert_refused(serve("--data", str(path)), *words)


def test_data_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    assert_refused(serve("--data", str(tmp_path)), f"cannot load --data {tmp_path}")


@pytest.mark.parametrize("where", ["directory", "missing-parent", "parent-is-a-file"])
def test_unwritable_dump_is_refused_before_serving(tmp_path: Path, where: str) -> None:
    (tmp_path / "file").write_text("x")
    path = {
        "directory": tmp_path,
        "missing-parent": tmp_path / "missing" / "dump.json",
        "parent-is-a-file": tmp_path / "file" / "dump.json",
    }[where]
    assert_refused(serve("--dump", str(path)), f"cannot write --dump {path}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no probe left behind


def _seed_file(tmp_path: Path, count: int) -> Path:
    seed = tmp_path / "seed.json"
    values = {f"key-{i:06d}": {"n": i, "pad": "x" * 80} for i in range(count)}
    seed.write_text(json.dumps({"kvs": values}))
    return seed


@posix_only
def test_a_failing_dump_keeps_the_previous_file_whole(tmp_path: Path) -> None:
    """A full disk (here: a file size limit) while dumping leaves the old dump as it was."""
    dump = tmp_path / "dump.json"
    previous = json.dumps({"kvs": {"good": 1}}, indent=2) + "\n"
    dump.write_text(previous)

    def limit_file_size() -> None:  # in the child: writes past 64 KiB fail with EFBIG
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    seed = _seed_file(tmp_path, 2_000)
    s = Served("--data", str(seed), "--dump", str(dump), "--quiet", preexec_fn=limit_file_size)
    try:
        assert s.stop() == 1
    finally:
        s.close()
    assert dump.read_text() == previous
    assert "cannot write --dump" in s.stderr()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dump.json", "seed.json"]


@posix_only
def test_a_second_sigterm_while_dumping_is_ignored(tmp_path: Path) -> None:
    dump = tmp_path / "dump.json"
    s = Served("--data", str(_seed_file(tmp_path, 60_000)), "--dump", str(dump))
    try:
        r = requests.post(f"{s.url}/api/v1/set", json={"key": "new", "value": 1}, headers=AUTH)
        assert r.status_code == 204
        s.process.send_signal(signal.SIGTERM)
        line = s.stderr_lines.get(timeout=30)
        while "writing --dump" not in line:
            line = s.stderr_lines.get(timeout=30)
        s.process.send_signal(signal.SIGTERM)  # while the dump is being written
        assert s.process.wait(timeout=60) == 0
    finally:
        s.close()
    data = json.loads(dump.read_text())
    assert len(data["kvs"]) == 60_001
    assert data["kvs"]["new"] == 1
    assert "forge-storage-fake stopped" in s.stderr()


@posix_only
def test_the_dump_keeps_the_file_mode(tmp_path: Path) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text("{}")
    os.chmod(dump, 0o640)
    s = Served("--dump", str(dump), "--quiet")
    try:
        assert s.stop() == 0
    finally:
        s.close()
    assert dump.stat().st_mode & 0o777 == 0o640
    assert json.loads(dump.read_text())["kvs"] == {}


@posix_only
def test_control_api_on_by_default_and_off_with_no_control(tmp_path: Path) -> None:
    s = Served("--quiet")
    try:
        r = requests.post(f"{s.url}/_forge-storage/seed", json={"kvs": {"k": 1}}, timeout=10)
        assert r.status_code == 200
        r = requests.post(f"{s.url}/api/v1/get", json={"key": "k"}, headers=AUTH, timeout=10)
        assert r.json() == {"key": "k", "value": 1}
        assert s.stop() == 0
    finally:
        s.close()
    s = Served("--quiet", "--no-control")
    try:
        r = requests.post(f"{s.url}/_forge-storage/reset", timeout=10)
        assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND")
        assert s.stop() == 0
    finally:
        s.close()
