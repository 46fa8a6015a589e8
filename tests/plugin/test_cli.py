"""``forge-storage-fake serve`` (and ``python -m pytest_forge_storage serve``) as a subprocess."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
import requests

from pytest_forge_storage import __version__
from pytest_forge_storage.cli import build_parser, main

AUTH = {"Authorization": "Bearer t"}
REST = "/forge/storage/kvs/v1"
URL_LINE = re.compile(r"^forge-storage-fake serving on (http://127\.0\.0\.1:\d+)$")
SCRIPT = Path(sys.executable).with_name("forge-storage-fake")
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

MANIFEST = """\
app:
  storage:
    entities:
      - name: employee
        attributes:
          name: {type: string}
          age: {type: integer}
        indexes: [age]
"""


class Served:
    """A running ``serve`` subprocess, its URL and its output."""

    def __init__(self, *args: str, module: bool = True) -> None:
        command = [sys.executable, "-m", "pytest_forge_storage"] if module else [str(SCRIPT)]
        self.process = subprocess.Popen(
            [*command, "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.stderr_lines: queue.Queue[str] = queue.Queue()
        self.stdout_lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.pumps = [
            threading.Thread(target=_pump, args=(stream, into), daemon=True)
            for stream, into in (
                (self.process.stdout, self.stdout_lines),
                (self.process.stderr, self.stderr_lines),
            )
        ]
        for pump in self.pumps:
            pump.start()
        try:
            first = self.stdout_lines.get(timeout=20)
        except queue.Empty:
            self.close()
            raise AssertionError(f"no URL line; stderr: {self.stderr()}") from None
        match = URL_LINE.match(first.rstrip("\n"))
        assert match, f"unexpected first line {first!r}; stderr: {self.stderr()}"
        self.url = match.group(1)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=20)
        for pump in self.pumps:
            pump.join(5)
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pump in self.pumps:
            pump.join(5)
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


@pytest.fixture
def served() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for s in started:
        s.close()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_forge_storage", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


@posix_only
def test_serve_sigterm_dumps_and_exits_0(tmp_path: Path, served: list[Served]) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"kvs": {"seeded": {"n": 1}}, "secrets": {"s": "x"}}))
    dump = tmp_path / "dump.json"
    s = Served("--data", str(seed), "--dump", str(dump))
    served.append(s)
    r = requests.post(f"{s.url}{REST}/get", json={"key": "seeded"}, headers=AUTH, timeout=5)
    assert r.json() == {"key": "seeded", "value": {"n": 1}}
    r = requests.post(f"{s.url}/api/v1/set", json={"key": "new", "value": [1, 2]}, headers=AUTH)
    assert r.status_code == 204
    r = requests.post(f"{s.url}{REST}/get", json={"key": "a"}, timeout=5)
    assert (r.status_code, r.json()["code"]) == (401, "UNAUTHORIZED")
    assert s.stop() == 0
    data = json.loads(dump.read_text())
    assert data["kvs"] == {"new": [1, 2], "seeded": {"n": 1}}
    assert data["secrets"] == {"s": "x"}
    log = s.stderr()
    assert f"POST {REST}/get 200 " in log
    assert "POST /api/v1/set 204 " in log
    assert f"POST {REST}/get 401 " in log
    assert "forge-storage-fake stopped" in log
    assert "[1, 2]" not in log  # bodies are never logged


@posix_only
def test_ctrl_c_exits_0(served: list[Served], tmp_path: Path) -> None:
    dump = tmp_path / "out.json"
    s = Served("--dump", str(dump), "--quiet")
    served.append(s)
    requests.post(f"{s.url}{REST}/set", json={"key": "k", "value": 1}, headers=AUTH, timeout=5)
    assert s.stop(signal.SIGINT) == 0
    assert json.loads(dump.read_text())["kvs"] == {"k": 1}
    assert "POST" not in s.stderr()  # --quiet


@posix_only
def test_console_script(served: list[Served]) -> None:
    if not SCRIPT.exists():
        pytest.skip(f"{SCRIPT} is not installed (pip install -e .)")
    s = Served("--no-auth", module=False)
    served.append(s)
    requests.post(f"{s.url}{REST}/set", json={"key": "k", "value": 1}, timeout=5)
    r = requests.post(f"{s.url}{REST}/get", json={"key": "k"}, timeout=5)
    assert r.json() == {"key": "k", "value": 1}
    assert s.stop() == 0


@posix_only
def test_manifest_declares_entities(tmp_path: Path, served: list[Served]) -> None:
    manifest = tmp_path / "manifest.yml"
    manifest.write_text(MANIFEST)
    s = Served("--manifest", str(manifest))
    served.append(s)
    body = {"entityName": "employee", "key": "e1", "value": {"name": "Ann", "age": 30}}
    r = requests.post(f"{s.url}{REST}/entity/set", json=body, headers=AUTH, timeout=5)
    assert r.status_code == 204, r.text
    body = {"entityName": "employee", "indexName": "age"}
    r = requests.post(f"{s.url}{REST}/entity/query", json=body, headers=AUTH, timeout=5)
    assert r.json() == {"data": [{"key": "e1", "value": {"name": "Ann", "age": 30}}]}
    assert s.stop() == 0


def test_remote_host_needs_allow_remote(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("forge-storage-fake: error: Refusing to serve")
    assert "--allow-remote" in err


SIGTERM_ON_ANOTHER_THREAD = """
import signal, sys, threading, time
from pytest_forge_storage import cli

def killer():
    while signal.getsignal(signal.SIGTERM) is not cli._on_sigterm:  # serving, or about to
        time.sleep(0.01)
    time.sleep(0.2)
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)  # this thread, not the main one

threading.Thread(target=killer, daemon=True).start()
sys.exit(cli.main(["serve", "--port", "0", "--quiet"]))
"""


@posix_only
def test_a_sigterm_delivered_to_another_thread_still_stops_the_server() -> None:
    # The kernel may hand a process's SIGTERM to any of its threads; Python runs the handler
    # in the main thread only when that thread next runs, so it must not sleep for long.
    done = subprocess.run(
        [sys.executable, "-c", SIGTERM_ON_ANOTHER_THREAD],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("forge-storage-fake serving on http://127.0.0.1:")
    assert "forge-storage-fake stopped" in done.stderr


@posix_only
def test_allow_remote_warns() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest_forge_storage",
            "serve",
            "--port",
            "0",
            "--host",
            "0.0.0.0",
            "--allow-remote",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("forge-storage-fake serving on http://0.0.0.0:")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "reachable from other machines" in err


def test_port_in_use_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert main(["serve", "--port", str(sock.getsockname()[1])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("forge-storage-fake: error: ")
    assert "in use" in err


def test_bad_data_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    assert main(["serve", "--port", "0", "--data", str(bad)]) == 2
    assert f"cannot load --data {bad}: " in capsys.readouterr().err
    assert main(["serve", "--port", "0", "--data", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_bad_manifest_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "0", "--manifest", str(tmp_path / "missing.yml")]) == 2
    assert "missing.yml" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_in_process(args: list[str], calls: Callable[[str], None]) -> int:
    """Run ``main(["serve", ...])`` here; a helper thread calls the server, then SIGTERMs us."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    failures: list[BaseException] = []

    def client() -> None:
        for _ in range(500):  # until the server answers; never signal before that
            try:
                requests.post(f"{url}{REST}/get", json={"key": "-"}, headers=AUTH, timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.01)
        else:
            return
        try:
            calls(url)
        except BaseException as exc:
            failures.append(exc)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=client)
    thread.start()
    code = main(["serve", "--port", str(port), *args])
    thread.join()
    if failures:
        raise failures[0]
    return code


@posix_only
def test_serve_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"kvs": {"seeded": 1}}))
    dump = tmp_path / "dump.json"

    def calls(url: str) -> None:
        r = requests.post(f"{url}{REST}/get", json={"key": "seeded"}, timeout=5)
        assert r.json() == {"key": "seeded", "value": 1}  # --no-auth
        r = requests.post(f"{url}/api/v1/set", json={"key": "k", "value": 2}, timeout=5)
        assert r.status_code == 204

    previous = signal.getsignal(signal.SIGTERM)
    assert _serve_in_process(["--data", str(seed), "--dump", str(dump), "--no-auth"], calls) == 0
    assert signal.getsignal(signal.SIGTERM) is previous  # restored
    assert json.loads(dump.read_text())["kvs"] == {"k": 2, "seeded": 1}
    out, err = capsys.readouterr()
    assert re.fullmatch(r"forge-storage-fake serving on http://127\.0\.0\.1:\d+\n", out)
    assert "POST /api/v1/set 204 " in err
    assert err.endswith("forge-storage-fake stopped\n")


def test_unwritable_dump_is_refused_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 0.1.0 served, then failed at exit (code 1) having lost everything; now it never starts.
    assert main(["serve", "--port", "0", "--dump", str(tmp_path), "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert (
        err
        == f"forge-storage-fake: error: cannot write --dump {tmp_path}: {tmp_path} is a directory\n"
    )


def test_version_and_help() -> None:
    result = run("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"forge-storage-fake {__version__}")
    result = run("serve", "--help")
    assert result.returncode == 0
    for option in (
        "--host",
        "--port",
        "--manifest",
        "--data",
        "--dump",
        "--no-auth",
        "--allow-remote",
    ):
        assert option in result.stdout


def test_parser_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.manifest, args.data, args.dump) == (
        "127.0.0.1",
        8080,
        None,
        None,
        None,
    )
    assert (args.no_auth, args.allow_remote) == (False, False)


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "COMMAND" in capsys.readouterr().err
