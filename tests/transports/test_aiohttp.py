"""aiohttp as the third in-process client (design §2.5): served, faulted, declined, untouched.

Every request goes through a real ``aiohttp.ClientSession``. Nothing leaves loopback: a guard
refuses to resolve any other host, and the "Forge" origin whose requests the handler declines
is a local echo server that answers with what it received, so a declined request shows the
exact bytes aiohttp sent beside the bytes the handler was given.
"""

from __future__ import annotations

import asyncio
import base64
import io
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import pytest

from pytest_forge_storage._http import TransportFault
from pytest_forge_storage.transports._aiohttp import AiohttpInterceptor
from tests.transports import _aiohttp_support, _network
from tests.transports._aiohttp_support import (
    AUTH,
    FORGE,
    STORAGE,
    Recorder,
    claims_for,
    real_echo,
    started,
)

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("loopback_only")]
loopback_only = pytest.fixture(_network.loopback_only)
echo_server = pytest.fixture(scope="module")(_aiohttp_support.echo_server)

ORIGINAL_REQUEST = vars(aiohttp.ClientSession)["_request"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def ours(echo_server: str, recorder: Recorder) -> Iterator[AiohttpInterceptor]:
    interceptor = AiohttpInterceptor(claims_for(echo_server), recorder)
    interceptor.start()
    yield interceptor
    interceptor.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


# --- served: a real ClientResponse ---------------------------------------------------------------


@pytest.mark.usefixtures("ours")
async def test_served_as_a_real_client_response(session: aiohttp.ClientSession) -> None:
    async with session.post(STORAGE, json={"key": "k"}, headers=AUTH) as response:
        assert isinstance(response, aiohttp.ClientResponse)
        assert (response.status, response.reason, response.ok) == (200, "OK", True)
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["x-fake"] == "1"
        body = await response.read()
        assert response.content_length == len(body) == int(response.headers["Content-Length"])
        echo = await response.json()
        assert await response.text() == body.decode()
        assert (str(response.url), response.method, response.history) == (STORAGE, "POST", ())
        assert response.request_info.headers["Authorization"] == "Bearer test-token"
    assert response.closed
    assert echo["served_by"] == "fake"
    assert base64.b64decode(echo["body"]) == b'{"key": "k"}'


@pytest.mark.usefixtures("ours")
async def test_served_when_awaited_directly_and_released(session: aiohttp.ClientSession) -> None:
    response = await session.post(STORAGE, data=b"{}", headers=AUTH)
    assert (await response.json())["served_by"] == "fake"
    response.release()
    assert (await response.json())["served_by"] == "fake"  # the body was read: still there


@pytest.mark.usefixtures("ours")
async def test_served_body_streams(session: aiohttp.ClientSession) -> None:
    async with session.post(f"{FORGE}/forge/storage/kvs/v1/large", headers=AUTH) as response:
        first = await response.content.read(10)
        rest = b"".join([chunk async for chunk in response.content.iter_chunked(65_536)])
    assert first + rest == b"x" * 300_000


@pytest.mark.usefixtures("ours")
async def test_raise_for_status_sees_the_served_status(session: aiohttp.ClientSession) -> None:
    url = f"{FORGE}/forge/storage/kvs/v1/limited"
    async with session.post(url, headers=AUTH) as response:
        with pytest.raises(aiohttp.ClientResponseError) as raised:
            response.raise_for_status()
    assert (raised.value.status, raised.value.message) == (429, "Too Many Requests")
    async with aiohttp.ClientSession(raise_for_status=True) as strict:
        with pytest.raises(aiohttp.ClientResponseError, match="429"):
            await strict.post(url, headers=AUTH)


@pytest.mark.usefixtures("ours")
async def test_empty_and_head_answers(session: aiohttp.ClientSession) -> None:
    async with session.post(f"{FORGE}/forge/storage/kvs/v1/empty", headers=AUTH) as response:
        assert (response.status, response.reason, await response.read()) == (204, "No Content", b"")
        assert "Content-Length" not in response.headers
    async with session.head(STORAGE, headers=AUTH) as response:
        assert (response.status, await response.read()) == (200, b"")


@pytest.mark.usefixtures("ours")
async def test_base_url_default_headers_and_module_request(recorder: Recorder) -> None:
    async with (
        aiohttp.ClientSession(base_url=FORGE, headers=AUTH) as client,
        client.post("/forge/storage/kvs/v1/get", json={}) as response,
    ):
        assert response.status == 200
    assert recorder.seen[-1].url == STORAGE
    assert recorder.seen[-1].headers["authorization"] == "Bearer test-token"
    async with aiohttp.request("POST", STORAGE, headers=AUTH) as response:
        assert (await response.json())["served_by"] == "fake"


@pytest.mark.usefixtures("ours")
async def test_explicit_default_port_and_host_case(recorder: Recorder) -> None:
    async with aiohttp.ClientSession() as client:
        url = "https://API.atlassian.com:443/forge/storage/kvs/v1/get"
        async with client.post(url, headers=AUTH) as response:
            assert (await response.json())["served_by"] == "fake"
    assert recorder.seen[-1].url == STORAGE  # yarl folds the host's case and the default port


# --- what the handler is given -------------------------------------------------------------------


async def _agen() -> AsyncIterator[bytes]:
    yield b'{"key": '
    yield b'"k"}'


def _form() -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("key", "k")
    form.add_field("file", io.BytesIO(b"\x00\xffbinary"), filename="a.bin")
    return form


BODIES: dict[str, Callable[[], dict[str, Any]]] = {
    "json": lambda: {"json": {"key": "k", "value": [1, "é"]}},
    "bytes": lambda: {"data": b'{"key": "k"}'},
    "str": lambda: {"data": '{"key": "é"}'},
    "form-dict": lambda: {"data": {"key": "k", "n": "1"}},
    "multipart": lambda: {"data": _form()},
    "payload": lambda: {"data": aiohttp.payload.BytesPayload(b"{}", content_type="x/y")},
    "file": lambda: {"data": io.BytesIO(b'{"key": "k"}')},
    "async-iterable": lambda: {"data": _agen()},
    "compressed": lambda: {"json": {"key": "k"}, "compress": "deflate"},
    "none": dict,
}


@pytest.mark.usefixtures("ours")
@pytest.mark.parametrize("form", list(BODIES))
async def test_handler_gets_the_bytes_and_headers_aiohttp_sends(
    session: aiohttp.ClientSession, echo_server: str, recorder: Recorder, form: str
) -> None:
    # Declined (not under /forge/storage/), the request goes on to the real server.
    async with session.post(f"{echo_server}/claimed/x", **BODIES[form]()) as response:
        sent_body, sent_headers = real_echo(await response.json())
    (request,) = recorder.seen
    assert (request.method, request.url) == ("POST", f"{echo_server}/claimed/x")
    assert request.body == sent_body
    names = (
        "content-type",
        "content-length",
        "content-encoding",
        "transfer-encoding",
        "connection",
    )
    for name in names:
        assert request.headers.get(name) == sent_headers.get(name), name
    assert all(name == name.lower() for name in request.headers)
    assert {"host", "user-agent", "accept", "accept-encoding"} <= set(request.headers)


@pytest.mark.usefixtures("ours")
async def test_json_body_gets_aiohttps_content_type(
    session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    async with session.post(STORAGE, json={"key": "k"}, headers={"X-Case": "Kept"}) as response:
        assert response.status == 200
    (request,) = recorder.seen
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-case"] == "Kept"
    assert request.body == b'{"key": "k"}'


async def test_middlewares_run_around_the_fake(echo_server: str, recorder: Recorder) -> None:
    """An auth middleware adds the token the fake sees; the session's middlewares stay."""
    order: list[str] = []

    async def auth(req: aiohttp.ClientRequest, handler: Any) -> aiohttp.ClientResponse:
        order.append("auth")
        req.headers["Authorization"] = "Bearer from-middleware"
        return await handler(req)

    with started(AiohttpInterceptor(claims_for(echo_server), recorder)):
        async with aiohttp.ClientSession(middlewares=(auth,)) as client:
            async with client.post(STORAGE) as response:
                assert response.status == 200
            async with client.post(STORAGE, middlewares=()) as response:
                assert response.status == 200
    assert order == ["auth"]
    assert [r.headers.get("authorization") for r in recorder.seen] == [
        "Bearer from-middleware",
        None,
    ]


@pytest.mark.parametrize(
    ("session_options", "request_options"),
    [
        ({"force_close": True}, {}),
        ({}, {"skip_auto_headers": ["Content-Type"]}),
        ({"version": aiohttp.HttpVersion10}, {}),
    ],
)
@pytest.mark.usefixtures("ours")
async def test_handler_gets_the_headers_aiohttp_adds_while_sending(
    echo_server: str, recorder: Recorder, session_options: Any, request_options: Any
) -> None:
    session_options = dict(session_options)
    connector = aiohttp.TCPConnector(force_close=session_options.pop("force_close", False))
    async with (
        aiohttp.ClientSession(connector=connector, **session_options) as client,
        client.post(f"{echo_server}/claimed/x", **request_options) as response,
    ):
        _, sent_headers = real_echo(await response.json())
    (request,) = recorder.seen
    for name in ("content-type", "connection"):
        assert request.headers.get(name) == sent_headers.get(name), name


# --- transport faults ----------------------------------------------------------------------------


@pytest.mark.usefixtures("ours")
async def test_connection_fault_is_aiohttps_connector_error(
    session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    recorder.faults.append(TransportFault("connection", "refused by the fake"))
    with pytest.raises(aiohttp.ClientConnectorError) as raised:
        await session.post(STORAGE, headers=AUTH)
    error = raised.value
    assert isinstance(error, aiohttp.ClientConnectionError)
    assert isinstance(error, OSError)
    assert (error.host, error.port, error.ssl) == ("api.atlassian.com", 443, True)
    assert isinstance(error.os_error, ConnectionRefusedError)
    assert error.__cause__ is error.os_error
    assert "Cannot connect to host api.atlassian.com:443" in str(error)
    assert "refused by the fake" in str(error)


@pytest.mark.usefixtures("ours")
async def test_timeout_fault_is_aiohttps_server_timeout(
    session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    recorder.faults.append(TransportFault("timeout", "read timed out"))
    with pytest.raises(aiohttp.ServerTimeoutError, match="read timed out") as raised:
        await session.post(STORAGE, headers=AUTH)
    assert isinstance(raised.value, asyncio.TimeoutError)


@pytest.mark.parametrize("error", ["connection", "timeout"])
async def test_faults_reach_retry_middlewares_and_traces_once_per_attempt(
    echo_server: str, recorder: Recorder, error: Any
) -> None:
    """Where aiohttp's callers see a network error: a retry middleware, trace signals."""
    exceptions: list[BaseException] = []

    async def on_exception(session: Any, context: Any, params: Any) -> None:
        exceptions.append(params.exception)

    async def retry(req: aiohttp.ClientRequest, handler: Any) -> aiohttp.ClientResponse:
        for _ in range(2):
            try:
                return await handler(req)
            except (aiohttp.ClientConnectorError, aiohttp.ServerTimeoutError):
                pass
        return await handler(req)

    trace = aiohttp.TraceConfig()
    trace.on_request_exception.append(on_exception)
    recorder.faults += [TransportFault(error), TransportFault(error)]
    with started(AiohttpInterceptor(claims_for(echo_server), recorder)):
        async with aiohttp.ClientSession(middlewares=(retry,), trace_configs=[trace]) as client:
            async with client.post(STORAGE, headers=AUTH) as response:
                assert response.status == 200
            recorder.faults.append(TransportFault(error))
            with pytest.raises((aiohttp.ClientConnectorError, aiohttp.ServerTimeoutError)):
                await client.post(STORAGE, headers=AUTH, middlewares=())
    assert len(recorder.seen) == 4  # three attempts, then one
    expected = aiohttp.ClientConnectorError if error == "connection" else aiohttp.ServerTimeoutError
    (seen,) = exceptions  # the retried ones never left aiohttp's _request
    assert isinstance(seen, expected)


# --- declined, unclaimed, nested -----------------------------------------------------------------


@pytest.mark.usefixtures("ours")
async def test_declined_goes_on_to_the_network(
    session: aiohttp.ClientSession, echo_server: str, recorder: Recorder
) -> None:
    async with session.get(f"{echo_server}/claimed/ex/jira?x=1") as response:
        answer = await response.json()
    assert (answer["real"], answer["method"], answer["path"]) == (
        True,
        "GET",
        "/claimed/ex/jira?x=1",
    )
    assert [r.url for r in recorder.seen] == [f"{echo_server}/claimed/ex/jira?x=1"]


@pytest.mark.usefixtures("ours")
async def test_unclaimed_urls_are_untouched(
    session: aiohttp.ClientSession, echo_server: str, recorder: Recorder
) -> None:
    async with session.put(f"{echo_server}/elsewhere", data=b"abc") as response:
        assert real_echo(await response.json())[0] == b"abc"
    assert recorder.seen == []


async def test_a_forge_leak_meets_the_guard(recorder: Recorder, echo_server: str) -> None:
    """Declined on Forge itself: aiohttp goes for the network, which the guard refuses."""
    with started(AiohttpInterceptor(claims_for(echo_server), recorder)):
        async with aiohttp.ClientSession() as client:
            with pytest.raises(aiohttp.ClientConnectorError) as raised:
                await client.get(f"{FORGE}/ex/jira/cloud/rest/api/3/myself")
    assert "only loopback is allowed" in str(raised.value.os_error)
    assert len(recorder.seen) == 1


async def test_newest_interceptor_serves_and_older_ones_take_what_it_declines(
    session: aiohttp.ClientSession, echo_server: str
) -> None:
    older, newer = Recorder("older"), Recorder("newer")
    first = AiohttpInterceptor(claims_for(echo_server), older)
    picky = AiohttpInterceptor(lambda url: url.endswith("/get"), newer)
    with started(first):
        with started(picky):
            assert await _served_by(session, STORAGE) == "newer"
            assert await _served_by(session, f"{FORGE}/forge/storage/kvs/v1/set") == "older"
            assert len(newer.seen) == 1  # /set is not its to claim
        assert await _served_by(session, STORAGE) == "older"


async def _served_by(session: aiohttp.ClientSession, url: str) -> str:
    async with session.post(url, headers=AUTH) as response:
        name: str = (await response.json())["served_by"]
        return name


@pytest.mark.usefixtures("ours")
async def test_an_invalid_url_gets_aiohttps_own_error(
    session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    with pytest.raises(aiohttp.InvalidURL):
        await session.get("https://[api.atlassian.com/forge/storage/kvs/v1/get")
    assert recorder.seen == []


async def test_a_middleware_may_send_a_forge_request_elsewhere(
    echo_server: str, recorder: Recorder
) -> None:
    async def elsewhere(req: aiohttp.ClientRequest, handler: Any) -> aiohttp.ClientResponse:
        req.url = aiohttp.client.URL(f"{echo_server}/elsewhere")
        return await handler(req)

    with started(AiohttpInterceptor(claims_for(echo_server), recorder)):
        async with (
            aiohttp.ClientSession(middlewares=(elsewhere,)) as client,
            client.post(STORAGE, data=b"x") as response,
        ):
            assert (await response.json())["path"] == "/elsewhere"
    assert recorder.seen == []  # no longer a Forge URL where aiohttp would connect


FIRST_START = """
import asyncio, aiohttp
from unittest import mock
from aioresponses import aioresponses
from pytest_forge_storage._http import HttpResponse
from pytest_forge_storage.transports._aiohttp import AiohttpInterceptor

async def main():
    ours = AiohttpInterceptor(lambda url: "forge" in url, lambda r: HttpResponse(200, b"ours"))
    with {patch}:
        try:
            ours.start()
        except RuntimeError as error:
            return print(error)
        async with aiohttp.ClientSession() as s, s.get("https://forge.test/") as r:
            print(await r.text())
        ours.stop()

asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ("aioresponses()", "ours"),
        (
            'mock.patch.object(aiohttp.ClientSession, "_request", new=lambda *a, **k: None)',
            "pytest-forge-storage cannot find aiohttp's own ClientSession._request under the "
            "patch on it: start the fake before patching ClientSession._request",
        ),
    ],
)
def test_first_start_under_a_patch(patch: str, expected: str) -> None:
    """In a fresh process (this one found aiohttp's own ``_request`` long ago)."""
    code = FIRST_START.replace("{patch}", patch)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected, out.stderr


def test_start_and_stop_are_idempotent_and_restore_aiohttp(recorder: Recorder) -> None:
    from aioresponses import aioresponses

    start, stop = aioresponses.start, aioresponses.stop
    interceptor = AiohttpInterceptor(lambda url: True, recorder)
    for _ in range(2):
        interceptor.start()
        interceptor.start()
        assert interceptor.active
        assert vars(aiohttp.ClientSession)["_request"] is not ORIGINAL_REQUEST
        interceptor.stop()
        interceptor.stop()
        assert not interceptor.active
        assert vars(aiohttp.ClientSession)["_request"] is ORIGINAL_REQUEST
        assert (aioresponses.start, aioresponses.stop) == (start, stop)


def test_import_is_lazy() -> None:
    code = (
        "import sys\n"
        "from pytest_forge_storage.transports._aiohttp import AiohttpInterceptor\n"
        "AiohttpInterceptor(lambda url: True, lambda request: None).stop()\n"
        "import pytest_forge_storage.transports as t\n"
        "print(sorted(m for m in sys.modules if m.startswith(('aiohttp', 'aioresponses'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- through the forge_storage fixture -----------------------------------------------------------

REST = f"{FORGE}/forge/storage/kvs/v1/"
GRAPHQL = f"{FORGE}/graphql"
#: ``UntypedQueries.get("k", false)`` as ``@forge/storage@2.0.3`` builds it (reference §12.3).
GRAPHQL_GET = """
      query forge_app_getApplicationStorageEntity($key: ID!, $encrypted: Boolean!) {
        appStoredEntity(key: $key, encrypted: $encrypted) {
          key
          value
        }
      }
    """


async def rest(operation: str, body: Any, **options: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as client,
        client.post(REST + operation, json=body, headers=AUTH, **options) as response,
    ):
        return response.status, await response.json() if await response.read() else None


async def graphql_get(key: str) -> tuple[int, Any]:
    body = {"query": GRAPHQL_GET, "variables": {"key": key, "encrypted": False}}
    async with (
        aiohttp.ClientSession() as client,
        client.post(GRAPHQL, json=body, headers=AUTH) as response,
    ):
        return response.status, await response.json()


async def test_fixture_serves_rest_get_and_set(forge_storage: Any) -> None:
    forge_storage.kvs["k"] = {"a": [1, 2]}
    assert await rest("get", {"key": "k"}) == (200, {"key": "k", "value": {"a": [1, 2]}})
    assert await rest("set", {"key": "n", "value": "é"}) == (204, None)
    assert forge_storage.kvs["n"] == "é"
    assert await rest("get", {"key": "nope"}) == (
        404,
        {"code": "KEY_NOT_FOUND", "message": "Provided key does not exist"},
    )
    assert (await rest("set", {"key": "k"}))[1]["code"] == "BAD_REQUEST"


async def test_fixture_serves_graphql(forge_storage: Any) -> None:
    forge_storage.kvs["k"] = 7
    assert await graphql_get("k") == (200, {"data": {"appStoredEntity": {"key": "k", "value": 7}}})


async def test_fixture_records_calls(forge_storage: Any) -> None:
    forge_storage.kvs["k"] = 1
    await rest("get", {"key": "k"})
    await graphql_get("k")
    first, second = forge_storage.calls
    assert (first.operation, first.api, first.key, first.status, first.url) == (
        "get",
        "rest",
        "k",
        200,
        REST + "get",
    )
    assert (first.request, first.response) == ({"key": "k"}, {"key": "k", "value": 1})
    assert (second.operation, second.api, second.request) == (
        "get",
        "graphql",
        {"key": "k", "encrypted": False},
    )
    forge_storage.assert_called("get", key="k", times=2)


async def test_fixture_refuses_a_missing_token(forge_storage: Any) -> None:
    async with (
        aiohttp.ClientSession() as client,
        client.post(REST + "get", json={"key": "k"}) as response,
    ):
        assert response.status == 401
        assert (await response.json())["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    ("code", "status"),
    [("RATE_LIMIT_EXCEEDED", 429), ("INTERNAL_SERVER_ERROR", 500), ("KEY_CONFLICT", 409)],
)
async def test_fixture_fail(forge_storage: Any, code: str, status: int) -> None:
    forge_storage.kvs["k"] = 1
    forge_storage.fail("get", code=code, after=1)
    assert (await rest("get", {"key": "k"}))[0] == 200
    answer = await rest("get", {"key": "k"})
    assert (answer[0], answer[1]["code"]) == (status, code)
    assert (await rest("get", {"key": "k"}))[0] == 200
    assert [c.status for c in forge_storage.calls] == [200, status, 200]
    assert forge_storage.calls[1].error_code == code


async def test_fixture_fail_on_graphql(forge_storage: Any) -> None:
    forge_storage.fail("get")
    status, body = await graphql_get("k")
    assert status == 429
    assert body["errors"][0]["extensions"] == {
        "errorType": "RATE_LIMIT_EXCEEDED",
        "statusCode": 429,
    }


@pytest.mark.parametrize(
    ("error", "raised"),
    [("connection", aiohttp.ClientConnectorError), ("timeout", aiohttp.ServerTimeoutError)],
)
async def test_fixture_fail_transport(forge_storage: Any, error: str, raised: type) -> None:
    forge_storage.kvs["k"] = 1
    forge_storage.fail_transport("set", error=error, times=2, after=1)
    assert (await rest("set", {"key": "k", "value": 2}))[0] == 204
    for value in (3, 4):
        with pytest.raises(raised):
            await rest("set", {"key": "k", "value": value})
    assert forge_storage.kvs["k"] == 2  # nothing written by a faulted call
    assert (await rest("set", {"key": "k", "value": 5}))[0] == 204
    assert [(c.operation, c.status) for c in forge_storage.calls] == [
        ("set", 204),
        ("set", 0),
        ("set", 0),
        ("set", 204),
    ]


async def test_fixture_fail_transport_with_a_retrying_caller(forge_storage: Any) -> None:
    """A caller retrying aiohttp's connection errors gets through; one call per attempt."""
    forge_storage.kvs["k"] = "v"
    forge_storage.fail_transport("get", times=2)

    async def get_with_retries() -> tuple[int, Any]:
        for _ in range(3):
            try:
                return await rest("get", {"key": "k"})
            except aiohttp.ClientConnectionError:
                continue
        raise AssertionError("no attempt got through")

    assert await get_with_retries() == (200, {"key": "k", "value": "v"})
    assert [c.status for c in forge_storage.calls] == [0, 0, 200]


async def test_fixture_leaves_other_urls_alone(forge_storage: Any, echo_server: str) -> None:
    async with (
        aiohttp.ClientSession() as client,
        client.post(f"{echo_server}/forge/storage/kvs/v1/get", data=b"x") as response,
    ):
        assert (await response.json())["real"] is True
    assert forge_storage.calls == []


async def test_fixture_fail_with_a_status_without_a_reason_phrase(forge_storage: Any) -> None:
    forge_storage.fail("get", code="GATEWAY_GONE", status=599)
    async with (
        aiohttp.ClientSession() as client,
        client.post(REST + "get", json={"key": "k"}, headers=AUTH) as response,
    ):
        assert (response.status, response.reason) == (599, "")
        assert (await response.json())["code"] == "GATEWAY_GONE"
