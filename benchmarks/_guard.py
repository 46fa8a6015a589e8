"""What an active fake costs a request to another host: the doors' URL check and the guard.

While a fake is active, every ``requests`` and ``httpx`` request meets the wrapped seam
(``Session.get_adapter``, ``Client._transport_for_url``), which asks whether the URL is on a
Forge origin, and every name resolution meets the network guard on
``socket.getaddrinfo``, which asks whether the host is a Forge host. Both answer "no" for
everything else. These rows price that "no" on real traffic: a keep-alive ``GET`` to a
stdlib HTTP server on 127.0.0.1 (by name, ``localhost``, so the resolver runs), with a fake
active beside it and without, interleaved batch by batch. A third row prices the guard
alone, on ``socket.getaddrinfo("localhost", port)`` (answered from /etc/hosts, so the
guard's microseconds are not hidden by a real lookup's milliseconds): a report, since a
client resolves once per connection. Budget (issue 12): nothing measurable on requests,
here at most 1.05x.
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from _timing import Config, Row, at_most, median, paired, us

from pytest_forge_storage import mock_forge_storage

BUDGET = at_most(1.05)
BASELINE = "the same, no fake active"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the connection is reused, the resolver not
    disable_nagle_algorithm = True  # else each answer waits ~40 ms for a delayed ACK

    def do_GET(self) -> None:
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _sides(send: Callable[[], Any]) -> dict[str, Callable[[], Any]]:
    @contextlib.contextmanager
    def bare() -> Iterator[Callable[[], Any]]:
        yield send

    @contextlib.contextmanager
    def beside_a_fake() -> Iterator[Callable[[], Any]]:
        with mock_forge_storage():
            yield send

    return {"baseline": bare, "fake": beside_a_fake}


def guard_rows(config: Config) -> list[Row]:
    import httpx
    import requests

    rows = []
    with _server() as port:
        url = f"http://localhost:{port}/other"
        with requests.Session() as session:

            def via_requests() -> Any:
                response = session.get(url)
                if response.status_code != 200:
                    raise RuntimeError(f"the local server answered {response.status_code}")
                return response

            rows.append(_row("another host via requests, fake active", via_requests, config))
        with httpx.Client() as client:

            def via_httpx() -> Any:
                response = client.get(url)
                if response.status_code != 200:
                    raise RuntimeError(f"the local server answered {response.status_code}")
                return response

            rows.append(_row("another host via httpx.Client, fake active", via_httpx, config))

        def resolve() -> Any:
            return socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)

        row = _row("socket.getaddrinfo('localhost'), fake active", resolve, config)
        assert row.value is not None
        assert row.baseline_value is not None
        row.budget = None
        row.note = f"the guard alone: +{row.value - row.baseline_value:.1f} us per resolution"
        rows.append(row)
    return rows


def _row(figure: str, send: Callable[[], Any], config: Config) -> Row:
    send()  # the connection is open before anything is timed
    samples = paired(_sides(send), config)
    fake, base = us(median(samples["fake"])), us(median(samples["baseline"]))
    return Row("guard", figure, fake, "us", BASELINE, base, BUDGET, samples=samples)
