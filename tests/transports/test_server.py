"""Server mode: real HTTP to ``ForgeStorageServer`` with ``requests`` and ``httpx``.

Every front-end test runs through each client (requests, httpx sync, httpx async) and
asserts status, code and message together. The last section drives the
``forge_storage_server`` fixture through ``pytester``.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from pytest_forge_storage import ForgeStorage
from pytest_forge_storage.server import ForgeStorageServer

TOKEN = {"Authorization": "Bearer test-token"}
REST = "/forge/storage/kvs/v1"

MANIFEST = """\
app:
  id: ari:cloud:ecosystem::app/00000000-0000-0000-0000-000000000000
  storage:
    entities:
      - name: employee
        attributes:
          name: {type: string}
          age: {type: integer}
        indexes:
          - age
"""


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Client:
    """One HTTP client library, behind a common ``post``."""

    name = ""

    def __init__(self, base: str) -> None:
        self.base = base

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        timeout: float = 10,
    ) -> Reply:
        raise NotImplementedError

    def close(self) -> None:
        pass

    @staticmethod
    def _content(body: Any, content: bytes | None) -> bytes:
        return content if content is not None else json.dumps(body).encode()

    @staticmethod
    def _decode(raw: bytes) -> Any:
        return json.loads(raw) if raw else None


class RequestsClient(Client):
    name = "requests"

    def __init__(self, base: str) -> None:
        super().__init__(base)
        self.session = requests.Session()

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        timeout: float = 10,
    ) -> Reply:
        hdrs = {"Content-Type": "application/json", **(TOKEN if headers is None else headers)}
        r = self.session.post(
            self.base + path, data=self._content(body, content), headers=hdrs, timeout=timeout
        )
        return Reply(r.status_code, self._decode(r.content), dict(r.headers))

    def close(self) -> None:
        self.session.close()


class HttpxClient(Client):
    name = "httpx"

    def __init__(self, base: str) -> None:
        super().__init__(base)
        self.client = httpx.Client()

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        timeout: float = 10,
    ) -> Reply:
        hdrs = {"Content-Type": "application/json", **(TOKEN if headers is None else headers)}
        r = self.client.post(
            self.base + path, content=self._content(body, content), headers=hdrs, timeout=timeout
        )
        return Reply(r.status_code, self._decode(r.content), dict(r.headers))

    def close(self) -> None:
        self.client.close()


class AsyncHttpxClient(Client):
    name = "httpx-async"

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        timeout: float = 10,
    ) -> Reply:
        hdrs = {"Content-Type": "application/json", **(TOKEN if headers is None else headers)}

        async def call() -> httpx.Response:
            async with httpx.AsyncClient() as client:
                return await client.post(
                    self.base + path,
                    content=self._content(body, content),
                    headers=hdrs,
                    timeout=timeout,
                )

        r = asyncio.run(call())
        return Reply(r.status_code, self._decode(r.content), dict(r.headers))


CLIENTS = [RequestsClient, HttpxClient, AsyncHttpxClient]


@pytest.fixture
def server() -> Iterator[ForgeStorageServer]:
    with ForgeStorageServer(log=lambda line: None, timeout_delay=0.3) as srv:
        yield srv


@pytest.fixture(params=CLIENTS, ids=lambda cls: cls.name)
def client(request: pytest.FixtureRequest, server: ForgeStorageServer) -> Iterator[Client]:
    c = request.param(server.url)
    yield c
    c.close()


# -- serving --------------------------------------------------------------------------------


def test_url_is_loopback_with_a_free_port(server: ForgeStorageServer) -> None:
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.port > 0
    assert server.url in server.storage.base_urls
    assert server.running


def test_rest_set_get_delete(client: Client, server: ForgeStorageServer) -> None:
    r = client.post(f"{REST}/set", {"key": "greeting", "value": {"text": "hi", "n": 0}})
    assert (r.status, r.body) == (204, None)
    r = client.post(f"{REST}/get", {"key": "greeting"})
    assert (r.status, r.body) == (200, {"key": "greeting", "value": {"text": "hi", "n": 0}})
    assert r.headers["content-type"] == "application/json"
    assert server.storage.kvs["greeting"] == {"text": "hi", "n": 0}
    r = client.post(f"{REST}/delete", {"key": "greeting"})
    assert r.status == 204
    r = client.post(f"{REST}/get", {"key": "greeting"})
    assert (r.status, r.body) == (
        404,
        {"code": "KEY_NOT_FOUND", "message": "Provided key does not exist"},
    )


def test_rest_query_pages_with_the_cursor(client: Client, server: ForgeStorageServer) -> None:
    for i in range(5):
        server.storage.kvs[f"account.{i}"] = i
    server.storage.kvs["other"] = "x"
    where = [{"property": "key", "condition": "BEGINS_WITH", "values": ["account."]}]
    keys: list[str] = []
    body: dict[str, Any] = {"where": where, "limit": 2}
    pages = 0
    while True:
        r = client.post(f"{REST}/query", body)
        assert r.status == 200
        pages += 1
        keys += [item["key"] for item in r.body["data"]]
        if "cursor" not in r.body:
            break
        body = {**body, "after": r.body["cursor"]}
    assert keys == [f"account.{i}" for i in range(5)]
    assert pages == 3


def test_sdk_alias_paths_are_served(client: Client, server: ForgeStorageServer) -> None:
    server.storage.secrets["api-key"] = "s3cret"
    r = client.post("/api/v1/secret/get", {"key": "api-key"})
    assert (r.status, r.body) == (200, {"key": "api-key", "value": "s3cret"})
    r = client.post("/api/v1/set", {"key": "k", "value": 1})
    assert r.status == 204
    assert server.storage.kvs["k"] == 1


def test_calls_are_recorded_with_the_server_url(client: Client, server: ForgeStorageServer) -> None:
    client.post(f"{REST}/set", {"key": "a", "value": [1]})
    client.post("/api/v1/get", {"key": "a"})
    client.post(f"{REST}/get", {"key": "missing"})
    calls = server.storage.calls
    assert [(c.operation, c.key, c.status, c.error_code) for c in calls] == [
        ("set", "a", 204, None),
        ("get", "a", 200, None),
        ("get", "missing", 404, "KEY_NOT_FOUND"),
    ]
    assert calls[0].url == f"{server.url}{REST}/set"
    assert calls[1].url == f"{server.url}/api/v1/get"
    assert calls[0].request == {"key": "a", "value": [1]}
    assert calls[1].response == {"key": "a", "value": [1]}
    server.storage.assert_called("get", key="a", times=1)


MISSING = "missing an Authorization: Bearer <token> header"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, MISSING),
        ({"Authorization": "Bearer"}, MISSING),  # httpx refuses to send "Bearer " itself
        ({"Authorization": "Basic dXNlcjpwdw=="}, MISSING),
    ],
    ids=["missing", "blank", "basic"],
)
def test_401_without_a_bearer_token(
    client: Client, server: ForgeStorageServer, headers: dict[str, str], message: str
) -> None:
    r = client.post(f"{REST}/get", {"key": "a"}, headers=headers)
    assert r.status == 401
    assert r.body["code"] == "UNAUTHORIZED"
    assert message in r.body["message"]
    assert server.storage.calls[-1].status == 401


def test_401_for_a_token_not_allowed(client: Client, server: ForgeStorageServer) -> None:
    server.storage.allowed_tokens = {"the-one"}
    r = client.post(f"{REST}/get", {"key": "a"})
    assert r.status == 401
    assert r.body["code"] == "UNAUTHORIZED"
    r = client.post(f"{REST}/get", {"key": "a"}, headers={"Authorization": "Bearer the-one"})
    assert (r.status, r.body["code"]) == (404, "KEY_NOT_FOUND")


def test_auth_off(client: Client, server: ForgeStorageServer) -> None:
    server.storage.auth = False
    server.storage.kvs["a"] = True
    r = client.post(f"{REST}/get", {"key": "a"}, headers={})
    assert (r.status, r.body) == (200, {"key": "a", "value": True})


def test_403_for_an_unknown_storage_path(client: Client) -> None:
    r = client.post(f"{REST}/secret/query", {})
    assert r.status == 403
    assert r.body["code"] == "FORBIDDEN"
    assert "/forge/storage/kvs/v1/secret/query" in r.body["message"]


def test_404_outside_forge_storage(client: Client, server: ForgeStorageServer) -> None:
    r = client.post("/rest/api/3/issue", {})
    assert r.status == 404
    assert r.body["code"] == "NOT_FOUND"
    assert r.body["message"].startswith("/rest/api/3/issue is not a Forge storage path")
    assert server.storage.calls == []


@pytest.mark.parametrize("path", ["/graphql", "/forge/entities/graphql"])
def test_graphql_without_storage_fields_gets_a_graphql_error(
    server: ForgeStorageServer, path: str
) -> None:
    # in process such a request goes on to the user's own mock; a server has nowhere to send it
    url = server.url + path
    r = requests.post(url, json={"query": "{ me { user { name } } }"}, headers=TOKEN, timeout=5)
    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert error["extensions"] == {"errorType": "BAD_REQUEST", "statusCode": 400}
    assert "no Forge storage field" in error["message"]
    for method in ("GET", "PUT", "DELETE"):
        r = requests.request(method, url, headers=TOKEN, timeout=5)
        assert (r.status_code, r.headers["allow"]) == (405, "POST")
        [error] = r.json()["errors"]
        assert error["extensions"] == {"errorType": "METHOD_NOT_ALLOWED", "statusCode": 405}
        assert error["message"].startswith(f"{method} is not allowed on {path}")
    # a GET that names a storage field is refused by the GraphQL protocol itself, as in process
    r = requests.get(url, params={"query": '{ appStoredEntity(key: "k") { value } }'},
                     headers=TOKEN, timeout=5)  # fmt: skip
    assert r.status_code == 405
    # only that refusal is a storage call; the requests without storage fields are not
    summaries = [call.summary() for call in server.storage.calls]
    assert summaries == ["graphql (no field ran) -> 405 METHOD_NOT_ALLOWED"]


def test_get_method_is_405(server: ForgeStorageServer) -> None:
    r = requests.get(f"{server.url}{REST}/get", headers=TOKEN, timeout=5)
    assert r.status_code == 405
    assert r.json()["code"] == "METHOD_NOT_ALLOWED"
    r = requests.head(f"{server.url}/nowhere", timeout=5)
    assert (r.status_code, r.content) == (404, b"")


def test_rest_errors_keep_forge_codes(client: Client) -> None:
    r = client.post(f"{REST}/set", {"key": "a/b", "value": 1})
    assert (r.status, r.body["code"]) == (400, "INVALID_KEY")
    r = client.post(f"{REST}/get", content=b"{not json")
    assert (r.status, r.body["code"]) == (400, "BAD_REQUEST")
    assert "not valid JSON" in r.body["message"]


# -- faults -----------------------------------------------------------------------------------


def test_fail_answers_forge_error(client: Client, server: ForgeStorageServer) -> None:
    server.storage.fail("set", code="RATE_LIMIT_EXCEEDED", times=1)
    r = client.post(f"{REST}/set", {"key": "a", "value": 1})
    assert r.status == 429
    assert r.body["code"] == "RATE_LIMIT_EXCEEDED"
    assert "a" not in server.storage.kvs
    r = client.post(f"{REST}/set", {"key": "a", "value": 1})
    assert r.status == 204
    assert [c.status for c in server.storage.calls] == [429, 204]


CONNECTION_ERRORS: dict[str, tuple[type[BaseException], ...]] = {
    "requests": (requests.ConnectionError,),
    "httpx": (httpx.RemoteProtocolError, httpx.ReadError),
    "httpx-async": (httpx.RemoteProtocolError, httpx.ReadError),
}
TIMEOUT_ERRORS: dict[str, type[BaseException]] = {
    "requests": requests.Timeout,
    "httpx": httpx.ReadTimeout,
    "httpx-async": httpx.ReadTimeout,
}


def test_transport_fault_connection_drops_the_connection(
    client: Client, server: ForgeStorageServer
) -> None:
    server.storage.fail_transport("get", error="connection")
    with pytest.raises(CONNECTION_ERRORS[client.name]):
        client.post(f"{REST}/get", {"key": "a"})
    r = client.post(f"{REST}/get", {"key": "a"})  # the next call is served (times=1)
    assert r.status == 404
    assert [c.operation for c in server.storage.calls] == ["get", "get"]


def test_transport_fault_timeout_holds_then_drops(
    client: Client, server: ForgeStorageServer
) -> None:
    server.storage.fail_transport("set", error="timeout")
    started = time.perf_counter()
    with pytest.raises(TIMEOUT_ERRORS[client.name]):
        client.post(f"{REST}/set", {"key": "a", "value": 1}, timeout=0.1)
    assert time.perf_counter() - started < 2
    assert "a" not in server.storage.kvs


def test_timeout_fault_without_client_timeout_ends_in_a_dropped_connection(
    server: ForgeStorageServer,
) -> None:
    server.timeout_delay = 0.05
    server.storage.fail_transport(error="timeout")
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{server.url}{REST}/get", json={"key": "a"}, headers=TOKEN, timeout=5)


# -- bodies -----------------------------------------------------------------------------------


def test_body_over_the_limit_is_413_before_reading() -> None:
    with ForgeStorageServer(max_body_bytes=1024) as srv:
        r = requests.post(f"{srv.url}{REST}/set", data=b"x" * 2048, headers=TOKEN, timeout=5)
        assert r.status_code == 413
        assert r.json() == {
            "code": "MAX_SIZE",
            "message": "The request body of 2048 bytes exceeds this server's limit of 1024 bytes",
        }
        assert srv.storage.calls == []


def test_expect_100_continue_is_refused_before_the_body_is_sent() -> None:
    with (
        ForgeStorageServer(max_body_bytes=1024) as srv,
        socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock,
    ):
        sock.sendall(
            b"POST /forge/storage/kvs/v1/set HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
            b"Content-Length: 999999\r\nExpect: 100-continue\r\n\r\n"
        )
        answer = _read_all(sock)
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert b'"code":"MAX_SIZE"' in answer


def test_expect_100_continue_within_the_limit_is_served(server: ForgeStorageServer) -> None:
    body = b'{"key": "a"}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /api/v1/get HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
            b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(body)
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 404 ")


def test_chunked_body_is_read(server: ForgeStorageServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"key": "chunked", '
        yield b'"value": {"ok": true}}'

    r = requests.post(f"{server.url}{REST}/set", data=chunks(), headers=TOKEN, timeout=5)
    assert r.status_code == 204
    assert server.storage.kvs["chunked"] == {"ok": True}


def test_chunked_body_over_the_limit_is_413() -> None:
    with ForgeStorageServer(max_body_bytes=10) as srv:
        r = requests.post(
            f"{srv.url}{REST}/set", data=iter([b"x" * 8, b"x" * 8]), headers=TOKEN, timeout=5
        )
        assert (r.status_code, r.json()["code"]) == (413, "MAX_SIZE")


def test_malformed_chunked_body_is_400(server: ForgeStorageServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /api/v1/get HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 400 ")


def test_missing_content_length_means_an_empty_body(server: ForgeStorageServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.putrequest("POST", f"{REST}/get")
    conn.putheader("Authorization", "Bearer t")
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 400
    assert json.loads(response.read())["code"] == "BAD_REQUEST"
    conn.close()


def test_invalid_content_length_is_400(server: ForgeStorageServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /api/v1/get HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\n")
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"Invalid Content-Length" in answer


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks)


def test_malformed_http_is_answered_in_json() -> None:
    lines: list[str] = []
    with ForgeStorageServer(log=lines.append) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(b"PROPFIND /x HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = _read_all(sock)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n")
            too_long = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 501 ")
    assert answer.endswith(b"\"Unsupported method ('PROPFIND')\"}")
    assert b'"code":"NOT_IMPLEMENTED"' in answer
    assert too_long.startswith(b"HTTP/1.1 414 ")
    assert b'"code":"BAD_REQUEST"' in too_long
    assert [line.split()[:3] for line in lines] == [["PROPFIND", "/x", "501"], ["-", "-", "414"]]


def test_keep_alive_serves_many_requests_on_one_connection(server: ForgeStorageServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    for i in range(20):
        body = json.dumps({"key": f"k{i}", "value": i})
        conn.request("POST", f"{REST}/set", body, {**TOKEN, "Content-Type": "application/json"})
        response = conn.getresponse()
        assert (response.status, response.read()) == (204, b"")
    conn.close()
    assert len(server.storage.kvs) == 20


def test_a_bug_in_the_fake_is_a_500_not_a_hang(
    server: ForgeStorageServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(request: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(server.storage, "handle", broken)
    with caplog.at_level(logging.ERROR, "pytest_forge_storage.server"):
        r = requests.post(f"{server.url}{REST}/get", json={"key": "a"}, headers=TOKEN, timeout=5)
    assert r.status_code == 500
    assert r.json()["code"] == "INTERNAL_SERVER_ERROR"
    assert "RuntimeError('boom')" in r.json()["message"]
    assert "failed to serve POST /forge/storage/kvs/v1/get" in caplog.text


# -- concurrency ----------------------------------------------------------------------------


@pytest.mark.parametrize("library", ["requests", "httpx"])
def test_eight_threads_two_hundred_requests_each(library: str) -> None:
    threads, per_thread = 8, 200
    errors: list[BaseException] = []
    with ForgeStorageServer(log=lambda line: None) as srv:

        def worker(n: int) -> None:
            try:
                session: Any = requests.Session() if library == "requests" else httpx.Client()
                with session:
                    for i in range(per_thread // 2):
                        key = f"t{n}.{i:03d}"
                        r = session.post(
                            f"{srv.url}{REST}/set",
                            json={"key": key, "value": [n, i]},
                            headers=TOKEN,
                        )
                        assert r.status_code == 204, r.text
                        r = session.post(f"{srv.url}/api/v1/get", json={"key": key}, headers=TOKEN)
                        assert r.json() == {"key": key, "value": [n, i]}
            except BaseException as exc:  # reported below, from the main thread
                errors.append(exc)

        pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        assert errors == []
        assert len(srv.storage.calls) == threads * per_thread
        assert len(srv.storage.kvs) == threads * per_thread // 2
        assert srv.storage.kvs["t7.099"] == [7, 99]


# -- lifecycle --------------------------------------------------------------------------------


def test_start_and_stop_are_quick_and_release_the_port() -> None:
    started = time.perf_counter()
    srv = ForgeStorageServer().start()
    start_cost = time.perf_counter() - started
    session = requests.Session()  # leaves a keep-alive connection open
    assert session.post(f"{srv.url}{REST}/get", json={"key": "a"}, headers=TOKEN).status_code == 404
    srv.storage.fail_transport(error="timeout")
    srv.timeout_delay = 30
    outcome: list[BaseException] = []

    def held_request() -> None:
        try:
            requests.post(f"{srv.url}{REST}/get", json={"key": "a"}, headers=TOKEN)
        except requests.ConnectionError as exc:
            outcome.append(exc)

    held = threading.Thread(target=held_request)
    held.start()
    while not srv.storage.calls[1:]:
        time.sleep(0.005)
    stopping = time.perf_counter()
    srv.stop()
    stop_cost = time.perf_counter() - stopping
    held.join(5)
    assert not held.is_alive()
    assert len(outcome) == 1
    # serve_forever() would need up to 0.5 s to notice; the held request would need 30 s.
    assert start_cost < 0.4
    assert stop_cost < 0.4
    with pytest.raises(requests.ConnectionError):
        session.post(f"{srv.url}{REST}/get", json={"key": "a"}, headers=TOKEN)
    with socket.socket() as sock:  # nothing listens on the port any more
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
        sock.bind(("127.0.0.1", srv.port))
        sock.listen()


def test_stop_is_idempotent_and_works_before_start() -> None:
    srv = ForgeStorageServer()
    assert "not started" in repr(srv)
    srv.stop()
    srv.stop()
    assert "stopped" in repr(srv)
    with pytest.raises(RuntimeError, match="create a new one"):
        srv.start()


def test_start_is_idempotent() -> None:
    with ForgeStorageServer() as srv:
        assert srv.start() is srv
        assert "running" in repr(srv)
    srv.stop()


def test_fixed_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with ForgeStorageServer(port=port) as srv:
        assert srv.url == f"http://127.0.0.1:{port}"
        with pytest.raises(OSError, match="in use"):  # the port is taken now
            ForgeStorageServer(port=port)


def test_remote_interfaces_need_allow_remote() -> None:
    with pytest.raises(ValueError, match="allow_remote=True"):
        ForgeStorageServer(host="0.0.0.0")
    with pytest.warns(UserWarning, match="reachable from other machines"):
        srv = ForgeStorageServer(host="0.0.0.0", allow_remote=True)
    with srv:
        r = requests.post(
            f"http://127.0.0.1:{srv.port}{REST}/get", json={"key": "a"}, headers=TOKEN, timeout=5
        )
        assert r.status_code == 404  # routed although the Host header is not srv.url


def test_a_host_name_other_than_localhost_needs_allow_remote() -> None:
    with pytest.raises(ValueError, match="allow_remote=True"):
        ForgeStorageServer(host="forge-fake.example")


def test_localhost_is_loopback() -> None:
    with ForgeStorageServer(host="localhost") as srv:
        assert srv.url.startswith("http://localhost:")
        r = requests.post(f"{srv.url}{REST}/get", json={"key": "a"}, headers=TOKEN, timeout=5)
        assert r.status_code == 404


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback on this machine")
def test_ipv6_loopback() -> None:
    with ForgeStorageServer(host="::1") as srv:
        assert srv.url == f"http://[::1]:{srv.port}"
        r = httpx.post(f"{srv.url}{REST}/get", json={"key": "a"}, headers=TOKEN)
        assert r.status_code == 404


def test_serves_a_given_storage() -> None:
    storage = ForgeStorage()  # no sdk_paths, and it cannot know the port in advance
    storage.kvs["a"] = 1
    with ForgeStorageServer(storage) as srv:
        assert srv.storage is storage
        r = requests.post(f"{srv.url}/api/v1/get", json={"key": "a"}, headers=TOKEN, timeout=5)
        assert r.json() == {"key": "a", "value": 1}
        r = requests.post(f"{srv.url}{REST}/get", json={"key": "a"}, headers=TOKEN, timeout=5)
        assert r.json() == {"key": "a", "value": 1}
    # Presented under the storage's own base URL.
    assert [c.url for c in storage.calls] == [
        "https://api.atlassian.com/forge/storage/kvs/v1/get",
    ] * 2


def test_manifest_is_loaded(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yml"
    manifest.write_text(MANIFEST)
    with ForgeStorageServer(manifest=manifest) as srv:
        body = {"entityName": "employee", "key": "e1", "value": {"name": "Ann", "age": 30}}
        r = requests.post(f"{srv.url}{REST}/entity/set", json=body, headers=TOKEN, timeout=5)
        assert r.status_code == 204, r.text
        assert srv.storage.entity("employee")["e1"] == {"name": "Ann", "age": 30}


def test_manifest_is_loaded_into_a_given_storage(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yml"
    manifest.write_text(MANIFEST)
    storage = ForgeStorage()
    with ForgeStorageServer(storage, manifest=manifest):
        assert storage.entity("employee") is not None


def test_bad_manifest_releases_the_port(tmp_path: Path) -> None:
    with pytest.raises((OSError, ValueError)) as info:
        ForgeStorageServer(manifest=tmp_path / "missing.yml", port=0)
    assert "missing.yml" in str(info.value)


# -- logging ----------------------------------------------------------------------------------


def test_one_log_line_per_request_without_bodies() -> None:
    lines: list[str] = []
    with ForgeStorageServer(log=lines.append) as srv:
        srv.storage.fail_transport("secret/get")
        body = {"key": "token", "value": "hunter2-secret"}
        requests.post(f"{srv.url}{REST}/secret/set", json=body, headers=TOKEN, timeout=5)
        requests.post(f"{srv.url}/nowhere?token=abc", json=body, timeout=5)
        with pytest.raises(requests.ConnectionError):
            requests.post(f"{srv.url}/api/v1/secret/get", json={"key": "token"}, headers=TOKEN)
    assert len(lines) == 3
    assert lines[0].startswith("POST /forge/storage/kvs/v1/secret/set 204 ")
    assert lines[0].endswith("ms")
    assert lines[1].startswith("POST /nowhere 404 ")
    assert lines[2].startswith("POST /api/v1/secret/get dropped (connection fault) ")
    text = "\n".join(lines)
    assert "hunter2" not in text
    assert "abc" not in text
    assert "test-token" not in text


def test_default_log_goes_to_a_logger(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, "pytest_forge_storage.server"), ForgeStorageServer() as srv:
        requests.post(f"{srv.url}{REST}/get", json={"key": "a"}, headers=TOKEN, timeout=5)
    assert [r.getMessage()[:30] for r in caplog.records] == ["POST /forge/storage/kvs/v1/get"]


def test_log_to_a_given_logger(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("my.app.fake")
    with caplog.at_level(logging.INFO, "my.app.fake"), ForgeStorageServer(log=logger) as srv:
        requests.post(f"{srv.url}{REST}/get", json={"key": "a"}, headers=TOKEN, timeout=5)
    assert caplog.records[0].name == "my.app.fake"


def test_log_must_be_a_logger_or_callable() -> None:
    with pytest.raises(TypeError, match=r"logging\.Logger or a callable"):
        ForgeStorageServer(log="stderr")  # type: ignore[arg-type]


# -- GraphQL ----------------------------------------------------------------------------------

GET_DOC = (
    "query forge_app_getApplicationStorageEntity($key: ID!, $encrypted: Boolean!) {"
    " appStoredEntity(key: $key, encrypted: $encrypted) { key value } }"
)


@pytest.mark.parametrize("path", ["/graphql", "/forge/entities/graphql"])
def test_graphql_paths(client: Client, server: ForgeStorageServer, path: str) -> None:
    server.storage.kvs["k"] = 0
    body = {"query": GET_DOC, "variables": {"key": "k", "encrypted": False}}
    r = client.post(path, body)
    assert (r.status, r.body) == (200, {"data": {"appStoredEntity": {"key": "k", "value": 0}}})
    assert server.storage.calls[-1].api == "graphql"
    assert server.storage.calls[-1].operation == "get"


# -- the forge_storage_server fixture (pytester) ----------------------------------------------

FIXTURE_TESTS = """
import pytest
import requests

SEEN = []
AUTH = {"Authorization": "Bearer t"}


def test_serves_over_http(forge_storage_server):
    SEEN.append(forge_storage_server)
    url = forge_storage_server.url
    assert url.startswith("http://127.0.0.1:")
    forge_storage_server.storage.kvs["seeded"] = {"n": 1}
    r = requests.post(url + "/forge/storage/kvs/v1/get", json={"key": "seeded"}, headers=AUTH)
    assert r.json() == {"key": "seeded", "value": {"n": 1}}
    r = requests.post(url + "/api/v1/set", json={"key": "new", "value": 2}, headers=AUTH)
    assert r.status_code == 204
    assert forge_storage_server.storage.kvs["new"] == 2
    forge_storage_server.storage.assert_called("set", key="new", times=1)


def test_previous_server_was_stopped_and_store_is_fresh(forge_storage_server):
    old = SEEN[0]
    assert not old.running
    with pytest.raises(requests.ConnectionError):
        requests.post(old.url + "/api/v1/get", json={"key": "seeded"}, headers=AUTH)
    assert forge_storage_server.url != old.url or forge_storage_server is not old
    assert "seeded" not in forge_storage_server.storage.kvs
    assert forge_storage_server.storage.calls == []
"""


def test_fixture_serves_and_stops(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fixture=FIXTURE_TESTS)
    # The second test checks what the first left behind: keep the file's order.
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio", "-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_fixture_honours_the_ini_manifest(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yml", manifest=MANIFEST)
    pytester.makeini("[pytest]\nforge_storage_manifest = manifest.yml\n")
    pytester.makepyfile(
        """
        import requests

        def test_entity(forge_storage_server):
            body = {"entityName": "employee", "key": "e1", "value": {"name": "Ann", "age": 3}}
            r = requests.post(forge_storage_server.url + "/api/v1/entity/set", json=body,
                              headers={"Authorization": "Bearer t"})
            assert r.status_code == 204, r.text
            assert forge_storage_server.storage.entity("employee")["e1"]["age"] == 3
        """
    )
    pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio").assert_outcomes(passed=1)


def test_fixture_shares_the_marked_storage(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yml", manifest=MANIFEST)
    pytester.makepyfile(
        """
        import pytest
        import requests

        @pytest.mark.forge_storage(manifest="manifest.yml", data={"kvs": {"a": 1}}, auth=False)
        def test_marker(forge_storage_server, forge_storage):
            assert forge_storage_server.storage is forge_storage
            r = requests.post(forge_storage_server.url + "/api/v1/get", json={"key": "a"})
            assert r.json() == {"key": "a", "value": 1}
            assert forge_storage.entity("employee") is not None

        def test_fixture_alongside(forge_storage, forge_storage_server):
            assert forge_storage_server.storage is forge_storage
        """
    )
    pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio").assert_outcomes(passed=2)


def test_failing_fixture_test_reports_the_calls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests

        def test_fails(forge_storage_server):
            requests.post(forge_storage_server.url + "/api/v1/get", json={"key": "nope"},
                          headers={"Authorization": "Bearer t"})
            assert False
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*forge storage calls*", "*rest get key='nope' -> 404 KEY_NOT_FOUND*"]
    )


def test_fixture_is_listed(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures", "-p", "no:cacheprovider", "-p", "no:asyncio")
    result.stdout.fnmatch_lines(["forge_storage_server*", "*real HTTP on 127.0.0.1*"])
