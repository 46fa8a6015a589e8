"""Server mode: what a test pays to start and stop a server, and what one request costs.

* ``ForgeStorageServer`` start + stop, as the ``forge_storage_server`` fixture does it per
  test (budget: 3 ms);
* one keep-alive request through the server's HTTP stack beside the same request to a bare
  standard-library ``http.server`` echo server, in this process, with the same client (one
  ``http.client.HTTPConnection`` kept open on each side): once with the storage replaced by
  an echo (the HTTP stack alone, budget 1.2x), once as a real REST ``get`` (the whole door,
  reported);
* the 95th percentile of one ``DurableStore.apply()`` of a single small change, what a
  ``--db`` write adds to a request (budget: 2 ms).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from _timing import Config, Row, at_most, median, ms, paired, simply, us

from pytest_forge_storage._http import HttpResponse
from pytest_forge_storage.server import ForgeStorageServer

BODY = json.dumps({"key": "bench:key"}).encode()
HEADERS = {"Authorization": "Bearer benchmark-token", "Content-Type": "application/json"}
START_STOP_BUDGET_MS = 3.0
DB_P95_BUDGET_MS = 2.0


class _Echo(BaseHTTPRequestHandler):
    """The bare baseline: read the body, answer it back as JSON."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as any server answering in two writes must

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _stdlib_echo() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextlib.contextmanager
def _forge(echo: bool) -> Iterator[int]:
    with ForgeStorageServer(log=lambda line: None) as server:
        server.storage.kvs["bench:key"] = {"name": "Ada Lovelace", "age": 36}
        if echo:

            def dispatch(method: str, path: str, headers: Any, body: bytes) -> HttpResponse:
                return HttpResponse(200, body, {"content-type": "application/json"})

            server.dispatch = dispatch  # type: ignore[method-assign]
        yield server.port


def _keep_alive(serve: Callable[[], contextlib.AbstractContextManager[int]], path: str) -> Any:
    @contextlib.contextmanager
    def side() -> Iterator[Callable[[], Any]]:
        with serve() as port:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

            def request() -> None:
                conn.request("POST", path, BODY, HEADERS)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"benchmark request answered {response.status}")

            request()
            try:
                yield request
            finally:
                conn.close()

    return side


def server_rows(config: Config) -> list[Row]:
    def cycle() -> None:
        ForgeStorageServer(log=lambda line: None).start().stop()

    cycles = paired({"fake": lambda: simply(cycle)}, config, number=max(5, config.number // 10))
    start_stop = ms(median(cycles["fake"]))
    rows = [
        Row(
            "server",
            "forge_storage_server start + stop",
            start_stop,
            "ms",
            verdict=start_stop <= START_STOP_BUDGET_MS,
            budget_text=f"<= {START_STOP_BUDGET_MS:g} ms",
            note="ForgeStorageServer(): bind a free port, start the I/O thread, stop, release",
        )
    ]
    baseline = "bare stdlib http.server echo"
    for figure, echo, path, budget in (
        ("keep-alive request, HTTP stack alone (echo)", True, "/echo", at_most(1.2)),
        ("keep-alive REST get through the server", False, "/forge/storage/kvs/v1/get", None),
    ):
        samples = paired(
            {
                "fake": _keep_alive(lambda echo=echo: _forge(echo), path),  # type: ignore[misc]
                "baseline": _keep_alive(_stdlib_echo, "/echo"),
            },
            config,
        )
        rows.append(
            Row(
                "server",
                figure,
                us(median(samples["fake"])),
                "us",
                baseline,
                us(median(samples["baseline"])),
                budget,
                note="" if budget else "the storage call included (routing, validation)",
                samples=samples,
            )
        )
    rows.append(_db_row(config))
    return rows


def _db_row(config: Config) -> Row:
    from pytest_forge_storage.server._durable import Change, DurableStore

    count = 200 if config.quick else 2000
    with tempfile.TemporaryDirectory() as directory, DurableStore(f"{directory}/b.db") as store:
        times = []
        for i in range(count + 20):
            change = Change(
                "default",
                "kvs",
                None,
                f"key-{i % 100}",
                {"value": {"n": i, "name": "Ada"}, "createdAt": i, "updatedAt": i},
            )
            started = time.perf_counter_ns()
            store.apply([change])
            times.append(time.perf_counter_ns() - started)
    p95 = ms(statistics.quantiles(times[20:], n=20)[-1])
    return Row(
        "server",
        "--db write: DurableStore.apply() of one small change, p95",
        p95,
        "ms",
        verdict=p95 <= DB_P95_BUDGET_MS,
        budget_text=f"<= {DB_P95_BUDGET_MS:g} ms",
        note=f"SQLite WAL, synchronous=NORMAL; median {ms(statistics.median(times[20:])):.2f} ms",
    )
