"""Hostile HTTP/1.1 framing against server mode, as raw bytes over sockets.

Each case is one request a client (or an attacker, or a proxy in between) might send. Every
one must get an answer, a JSON ``{code, message}`` with the listed status, and then the
connection must close; a second request hidden in the first one's body (request smuggling)
must never run. The cases marked 0.1.0 are the breaks an attack on 0.1.0 found: the 0.1.0
server executed the hidden request, read past its body cap, or never answered.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import h11
import pytest

from pytest_forge_storage.server import ForgeStorageServer

#: A hang detector, not a timing: a case that needs it has hung.
HANG = 10.0
CAP = 64 * 1024
HIDDEN_BODY = b'{"key":"smuggled","value":"executed"}'
#: A complete request for a key no honest case writes: it must never be executed.
HIDDEN = (
    b"POST /forge/storage/kvs/v1/set HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
    % (len(HIDDEN_BODY), HIDDEN_BODY)
)
HEAD = b"POST /forge/storage/kvs/v1/get HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
H11_016 = tuple(int(part) for part in h11.__version__.split(".")[:2]) >= (0, 16)


@dataclass(frozen=True)
class Case:
    id: str
    raw: bytes
    status: int
    #: The break in 0.1.0 this case pins, if any.
    found: str = ""


def chunked(*lines: bytes) -> bytes:
    return HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(lines)


CASES = [
    # -- Transfer-Encoding that does not end in one "chunked"
    Case(
        "TE gzip",
        HEAD + b"Transfer-Encoding: gzip\r\n\r\n" + HIDDEN,
        400,
        "0.1.0: 400, then the body ran as a second request",
    ),
    Case(
        "TE chunked, gzip",
        HEAD + b"Transfer-Encoding: chunked, gzip\r\n\r\n" + HIDDEN,
        400,
        "0.1.0: 400, then the body ran as a second request",
    ),
    Case("TE gzip, chunked", HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400),
    Case("TE identity", HEAD + b"Transfer-Encoding: identity\r\n\r\n" + HIDDEN, 400),
    Case(
        "TE twice",
        HEAD + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    Case(
        "TE and CL together (CL.TE)",
        HEAD + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + HIDDEN,
        400,
    ),
    Case("TE with a space before the colon", HEAD + b"Transfer-Encoding : chunked\r\n\r\n", 400),
    # -- Content-Length
    Case(
        "CL 0 and CL N",
        HEAD + b"Content-Length: 0\r\nContent-Length: %d\r\n\r\n" % len(HIDDEN) + HIDDEN,
        400,
        "0.1.0: served with an empty body, then the body ran as a second request",
    ),
    Case("CL '0, N' in one header", HEAD + b"Content-Length: 0, 5\r\n\r\n" + HIDDEN, 400),
    Case(
        "CL superscript two",
        HEAD + b"Content-Length: \xb2\r\n\r\n",  # '²' in Latin-1, how headers are decoded
        400,
        "0.1.0: no answer at all ('²'.isdigit(), then int('²') raised in the handler)",
    ),
    Case("CL superscript two in UTF-8", HEAD + "Content-Length: ²\r\n\r\n".encode(), 400),
    Case("CL Arabic-Indic digit", HEAD + "Content-Length: ٣\r\n\r\n".encode(), 400),
    Case(
        "CL of 5,000 digits",
        HEAD + b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n",
        400,
        "0.1.0: no answer at all (int() of 5,000 digits raised in the handler)",
    ),
    Case("CL of 21 digits", HEAD + b"Content-Length: " + b"1" * 21 + b"\r\n\r\n", 400),
    Case("CL negative", HEAD + b"Content-Length: -3\r\n\r\n", 400),
    Case("CL with a plus sign", HEAD + b"Content-Length: +5\r\n\r\n12345", 400),
    Case("CL in hex", HEAD + b"Content-Length: 0x10\r\n\r\n", 400),
    Case("CL with inner space", HEAD + b"Content-Length: 1 2\r\n\r\n", 400),
    Case("CL with a space before the colon", HEAD + b"Content-Length : 5\r\n\r\n12345", 400),
    Case("CL over the cap", HEAD + b"Content-Length: %d\r\n\r\n" % (CAP + 1), 413),
    Case(
        "CL over the cap with Expect",
        HEAD + b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (CAP + 1),
        413,
    ),
    # -- chunk sizes and chunk framing
    Case(
        "chunk size -1",
        chunked(b"-1\r\n", b"x" * (2 * CAP)),
        400,
        "0.1.0: read(-1) read everything the client sent, far past the body cap",
    ),
    Case("chunk size not hex", chunked(b"zz\r\nhello\r\n0\r\n\r\n"), 400),
    Case("chunk size 0x prefix", chunked(b"0x5\r\nhello\r\n0\r\n\r\n"), 400),
    Case("chunk size of 30 digits", chunked(b"0" * 29 + b"5\r\nhello\r\n0\r\n\r\n"), 400),
    Case("chunk size with a space inside", chunked(b"1 0\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n"), 400),
    Case(
        "chunks over the cap",
        chunked(*[b"%x\r\n%s\r\n" % (8192, b"x" * 8192) for _ in range(9)], b"0\r\n\r\n"),
        413,
    ),
    Case("one huge chunk", chunked(b"fffffffffff\r\n", b"x" * (2 * CAP)), 413),
    # -- request line and headers
    Case("no Host in HTTP/1.1", b"POST /api/v1/get HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400),
    Case("two Hosts", HEAD.replace(b"Host: x\r\n", b"Host: x\r\nHost: y\r\n") + b"\r\n", 400),
    Case("NUL in a header", HEAD + b"X-Bad: a\x00b\r\n\r\n", 400),
    Case("garbage request line", b"hello there\r\n\r\n", 400),
    Case("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    Case("unknown HTTP version", b"GET / HTTP/3.7\r\nHost: x\r\n\r\n", 505),
    Case("request line over the cap", b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
    Case(
        "headers over the cap",
        HEAD + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 1000) for i in range(80)) + b"\r\n",
        431,
    ),
    Case("a method HTTP does not define", b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501),
]
if H11_016:  # CVE-2025-43859: older h11 did not check the CRLF after a chunk's data
    CASES.append(Case("chunk data not ended by CRLF", chunked(b"5\r\nhelloXX0\r\n\r\n"), 400))


@pytest.fixture(scope="module")
def server() -> Iterator[ForgeStorageServer]:
    with ForgeStorageServer(log=lambda line: None, max_body_bytes=CAP) as srv:
        yield srv


def exchange(port: int, raw: bytes) -> bytes:
    """Send ``raw`` (keeping the socket open for writing) and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=HANG) as sock:
        # refused early (413, 414), the answer is still there to read
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(raw)
        chunks = []
        started = time.monotonic()
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            except TimeoutError:
                pytest.fail(f"no answer, or the connection stayed open, after {HANG} s")
            if not chunk:
                break
            chunks.append(chunk)
            assert time.monotonic() - started < HANG, "the server keeps sending"
    return b"".join(chunks)


def answers(raw: bytes) -> list[tuple[int, bytes]]:
    """Every response in ``raw``: (status, body)."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(raw)
    client.receive_data(b"")
    found: list[tuple[int, bytes]] = []
    status, body = 0, b""
    while True:
        event = client.next_event()
        if isinstance(event, h11.Response):
            status, body = event.status_code, b""
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            found.append((status, body))
            if client.our_state is h11.MUST_CLOSE or client.their_state is not h11.DONE:
                break
            client.start_next_cycle()
            client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
            client.send(h11.EndOfMessage())
        elif isinstance(event, h11.InformationalResponse):
            continue
        else:
            break
    return found


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_framing_is_answered_and_closed(server: ForgeStorageServer, case: Case) -> None:
    server.storage.reset()
    raw = exchange(server.port, case.raw)
    assert raw, "no answer at all"
    assert raw.startswith(b"HTTP/1.1 %d " % case.status), raw[:200]
    responses = answers(raw)
    assert len(responses) == 1, f"more than one answer: {raw[:400]!r}"
    status, body = responses[0]
    assert status == case.status
    error = json.loads(body)
    assert set(error) == {"code", "message"}
    assert error["code"]
    assert error["message"]
    assert b"connection: close" in raw.lower()
    assert "smuggled" not in server.storage.kvs
    assert all(call.key != "smuggled" for call in server.storage.calls)


def test_the_server_still_serves_after_every_case(server: ForgeStorageServer) -> None:
    for case in CASES:
        exchange(server.port, case.raw)
    raw = exchange(
        server.port,
        HEAD.replace(b"/get", b"/set")
        + b"Connection: close\r\nContent-Length: 23\r\n\r\n"
        + b'{"key":"ok","value":1}\n',
    )
    assert raw.startswith(b"HTTP/1.1 204 ")
    assert server.storage.kvs["ok"] == 1
    assert "smuggled" not in server.storage.kvs


def test_pipelined_requests_are_served_in_order(server: ForgeStorageServer) -> None:
    """Two honest requests in one write are both served (the framing is not just refused)."""
    server.storage.reset()
    first = b'{"key":"a","value":1}'
    second = b'{"key":"a"}'
    raw = (
        HEAD.replace(b"/get", b"/set") + b"Content-Length: %d\r\n\r\n%s" % (len(first), first)
    ) + (HEAD + b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(second), second))
    responses = answers(exchange(server.port, raw))
    assert [status for status, _ in responses] == [204, 200]
    assert json.loads(responses[1][1]) == {"key": "a", "value": 1}


def test_a_chunked_body_within_the_cap_is_served(server: ForgeStorageServer) -> None:
    server.storage.reset()
    body = b'{"key":"c","value":"' + b"v" * 1000 + b'"}'
    parts = [body[i : i + 100] for i in range(0, len(body), 100)]
    raw = HEAD.replace(b"/get", b"/set") + b"Transfer-Encoding: chunked\r\nConnection: close\r\n"
    raw += b"\r\n" + b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts)
    raw += b"0\r\nX-Trailer: t\r\n\r\n"
    assert answers(exchange(server.port, raw)) == [(204, b"")]
    assert server.storage.kvs["c"] == "v" * 1000
