"""Server mode stays available: slow, idle and surplus sockets cost it nothing but a descriptor.

0.1.0 ran one thread per connection with no cap and no deadline, so a few hundred idle or
trickling sockets locked every other client out. The timings here are hang detectors
(seconds), except where the contract is a number (a new client is served within a second
while 300 sockets are held).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from pytest_forge_storage.server import ForgeStorageServer
from pytest_forge_storage.server._server import WORKERS

HANG = 10.0
AUTH = {"Authorization": "Bearer t"}
REST = "/forge/storage/kvs/v1"
HEAD = b"POST /forge/storage/kvs/v1/get HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_NOFILE and /proc")


@contextlib.contextmanager
def held_sockets(port: int, count: int) -> Iterator[list[socket.socket]]:
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=HANG))
        yield socks
    finally:
        for sock in socks:
            sock.close()


def served_within(url: str) -> float:
    """Seconds a fresh client waits for its answer (it must come, and be the real one)."""
    started = time.monotonic()
    r = requests.post(f"{url}{REST}/get", json={"key": "k"}, headers=AUTH, timeout=HANG)
    assert (r.status_code, r.json()["code"]) == (404, "KEY_NOT_FOUND")
    return time.monotonic() - started


def read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    sock.settimeout(HANG)
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_300_idle_sockets_do_not_lock_a_new_client_out() -> None:
    with ForgeStorageServer(log=lambda line: None) as srv:
        threads = threading.active_count()
        with held_sockets(srv.port, 300):
            assert served_within(srv.url) < 1.0
            # a pool, not a thread per socket (0.1.0 started 300 threads here)
            assert threading.active_count() - threads <= WORKERS
            assert srv.open_connections >= 300  # all held, none refused


def test_300_trickling_sockets_do_not_lock_a_new_client_out() -> None:
    with ForgeStorageServer(log=lambda line: None) as srv, held_sockets(srv.port, 300) as socks:
        threads = threading.active_count()
        stop = threading.Event()

        def trickle() -> None:  # one byte of a request head per socket, every 50 ms
            for i in range(len(HEAD)):
                if stop.is_set():
                    return
                for sock in socks:
                    with contextlib.suppress(OSError):
                        sock.send(HEAD[i : i + 1])
                time.sleep(0.05)

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        try:
            time.sleep(0.2)
            assert served_within(srv.url) < 1.0
            assert threading.active_count() - threads <= WORKERS + 1  # + the trickler
        finally:
            stop.set()
            thread.join(HANG)


def test_a_trickling_head_gets_408_at_the_header_deadline() -> None:
    with (
        ForgeStorageServer(log=lambda line: None, header_timeout=0.3) as srv,
        socket.create_connection(("127.0.0.1", srv.port), timeout=HANG) as sock,
    ):
        sock.sendall(HEAD[:20])
        started = time.monotonic()
        answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b'"code":"REQUEST_TIMEOUT"' in answer
        assert time.monotonic() - started < HANG
        assert served_within(srv.url) < HANG


def test_a_slow_body_gets_408_at_the_body_deadline() -> None:
    with (
        ForgeStorageServer(log=lambda line: None, body_timeout=0.3) as srv,
        socket.create_connection(("127.0.0.1", srv.port), timeout=HANG) as sock,
    ):
        sock.sendall(HEAD + b"Content-Length: 20\r\n\r\n{")
        answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert srv.storage.calls == []


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() -> None:
    with ForgeStorageServer(log=lambda line: None, idle_timeout=0.3) as srv:
        session = requests.Session()
        r = session.post(f"{srv.url}{REST}/get", json={"key": "k"}, headers=AUTH, timeout=HANG)
        assert r.status_code == 404
        deadline = time.monotonic() + HANG
        while srv.open_connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert srv.open_connections == 0
        # requests notices the closed connection and opens a new one
        r = session.post(f"{srv.url}{REST}/get", json={"key": "k"}, headers=AUTH, timeout=HANG)
        assert r.status_code == 404
        session.close()


def test_over_max_connections_a_client_gets_503_and_a_close() -> None:
    with (
        ForgeStorageServer(log=lambda line: None, max_connections=5) as srv,
        held_sockets(srv.port, 5),
    ):
        deadline = time.monotonic() + HANG
        while srv.open_connections < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=HANG) as extra:
            extra.sendall(HEAD + b"Content-Length: 0\r\n\r\n")
            answer = read_until_closed(extra)
        assert answer.startswith(b"HTTP/1.1 503 ")
        body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert body["code"] == "SERVICE_UNAVAILABLE"
        assert "max_connections" in body["message"]
    with ForgeStorageServer(log=lambda line: None, max_connections=5) as srv:
        assert served_within(srv.url) < HANG  # freed sockets make room again


def test_a_worker_is_not_held_by_a_timeout_fault() -> None:
    """Held requests wait in the I/O thread: more of them than workers still leave room."""
    with ForgeStorageServer(log=lambda line: None, workers=1, timeout_delay=HANG) as srv:
        srv.storage.fail_transport("set", error="timeout", times=3)
        held = [socket.create_connection(("127.0.0.1", srv.port), timeout=HANG) for _ in range(3)]
        body = b'{"key":"a","value":1}'
        for sock in held:
            sock.sendall(HEAD.replace(b"/get", b"/set") + b"Content-Length: 21\r\n\r\n" + body)
        deadline = time.monotonic() + HANG
        while len(srv.storage.calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert served_within(srv.url) < 1.0
        for sock in held:
            sock.close()


EMFILE_CHILD = textwrap.dedent(
    """
    import os, resource, sys, time
    from pytest_forge_storage.server import ForgeStorageServer

    srv = ForgeStorageServer(log=lambda line: None).start()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # a few descriptors to spare, then EMFILE
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 8, hard))
    print(srv.url, flush=True)
    for line in sys.stdin:
        if line.strip() == "measure":
            time.sleep(0.3)
            started = time.process_time()
            time.sleep(1.0)
            print(time.process_time() - started, flush=True)
        elif line.strip() == "open":
            print(srv.open_connections, flush=True)
    """
)


@linux_only
def test_emfile_on_accept_pauses_instead_of_spinning() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", EMFILE_CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        url = child.stdout.readline().strip()
        port = int(url.rsplit(":", 1)[1])
        with held_sockets(port, 20):  # more than the child has descriptors left
            child.stdin.write("measure\n")
            child.stdin.flush()
            cpu = float(child.stdout.readline())
            assert cpu < 0.5, f"the accept loop spun: {cpu:.2f} s of CPU in 1 s"
        # the descriptors are free again: after its pause the server accepts once more
        assert served_within(url) < HANG
    finally:
        child.kill()
        _, err = child.communicate(timeout=HANG)
    assert err.count("pausing new connections") == 1, err
