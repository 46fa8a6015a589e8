"""The fake beside a user's aioresponses: first look at Forge, whatever the order (design §2.5).

In every start order (and stop order), Forge storage requests are the fake's, never in the
user's ``requests``, even when the user has a route for that very URL; everything else,
Forge-origin requests the fake declines included, behaves exactly as the user's aioresponses
says: its routes, its refusal of unmatched URLs, ``passthrough`` and ``passthrough_unmatched``.

The user's routes answer with an exception of their own where that proves who answered:
aioresponses 0.7.9 cannot build a response on aiohttp 3.14 (pnuckowski/aioresponses#289), and
tests that need one skip there. The last tests run as users meet it, through pytester.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
from collections.abc import AsyncIterator, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import aioresponses.core
import pytest
from aioresponses import aioresponses as Aioresponses

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
)

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("loopback_only")]
loopback_only = pytest.fixture(_network.loopback_only)
echo_server = pytest.fixture(scope="module")(_aiohttp_support.echo_server)

JIRA = f"{FORGE}/ex/jira/cloud-id/rest/api/3/myself"  # a Forge origin, but not storage
USER_URL = "https://user-mocked.example/thing"
UNMOCKED_URL = "https://unmocked.example/thing"
ORIGINAL_REQUEST = vars(aiohttp.ClientSession)["_request"]
ORIGINAL_START, ORIGINAL_STOP = Aioresponses.start, Aioresponses.stop

#: Whether this aioresponses can build a response on this aiohttp (#289: not 0.7.9 on 3.14).
BUILDS_RESPONSES = "stream_writer" not in inspect.signature(aiohttp.ClientResponse).parameters or (
    "stream_writer" in inspect.getsource(aioresponses.core.RequestMatch._build_response)
)
needs_responses = pytest.mark.skipif(
    not BUILDS_RESPONSES,
    reason="this aioresponses cannot build responses on this aiohttp (aioresponses#289)",
)


class Theirs(Exception):
    """Raised by the user's aioresponses routes: proof that the user's mock answered."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def ours(echo_server: str, recorder: Recorder) -> Iterator[AiohttpInterceptor]:
    interceptor = AiohttpInterceptor(claims_for(echo_server), recorder)
    yield interceptor  # not started: each test chooses when
    interceptor.stop()


@contextlib.contextmanager
def both(ours: AiohttpInterceptor, theirs: Aioresponses, first: str) -> Iterator[Aioresponses]:
    """Both mocks running, ``first`` started first and stopped last."""
    outer, inner = (ours, theirs) if first == "ours" else (theirs, ours)
    outer.start()
    try:
        inner.start()
        try:
            yield theirs
        finally:
            inner.stop()
    finally:
        outer.stop()
    assert vars(aiohttp.ClientSession)["_request"] is ORIGINAL_REQUEST
    assert (Aioresponses.start, Aioresponses.stop) == (ORIGINAL_START, ORIGINAL_STOP)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def served_by(session: aiohttp.ClientSession, url: str = STORAGE) -> str:
    async with session.post(url, json={"key": "k"}, headers=AUTH) as response:
        name: str = (await response.json())["served_by"]
        return name


ORDERS = pytest.mark.parametrize("first", ["ours", "theirs"])


# --- in every start order ------------------------------------------------------------------------


@ORDERS
async def test_storage_is_ours_even_with_their_route_for_it(
    session: aiohttp.ClientSession, ours: AiohttpInterceptor, first: str
) -> None:
    with both(ours, Aioresponses(), first) as theirs:
        theirs.post(STORAGE, exception=Theirs("their route for the storage URL"), repeat=True)
        assert await served_by(session) == "fake"
        assert await served_by(session) == "fake"
        assert theirs.requests == {}


@ORDERS
async def test_their_routes_answer_everything_else(
    session: aiohttp.ClientSession, ours: AiohttpInterceptor, recorder: Recorder, first: str
) -> None:
    with both(ours, Aioresponses(), first) as theirs:
        theirs.get(USER_URL, exception=Theirs("user"))
        theirs.get(JIRA, exception=Theirs("jira"))
        with pytest.raises(Theirs, match="user"):
            await session.get(USER_URL)
        with pytest.raises(Theirs, match="jira"):
            await session.get(JIRA)  # a Forge origin, declined by the fake: theirs to answer
        assert sorted(str(url) for _, url in theirs.requests) == [JIRA, USER_URL]
    assert [r.url for r in recorder.seen] == [JIRA]  # the fake was asked once


@ORDERS
async def test_they_refuse_what_they_do_not_match(
    session: aiohttp.ClientSession, ours: AiohttpInterceptor, first: str
) -> None:
    with both(ours, Aioresponses(), first):
        with pytest.raises(aiohttp.ClientConnectionError, match="Connection refused: GET"):
            await session.get(UNMOCKED_URL)
        with pytest.raises(aiohttp.ClientConnectionError, match=f"Connection refused: POST {JIRA}"):
            await session.post(JIRA)


@ORDERS
async def test_their_passthrough_prefixes(
    session: aiohttp.ClientSession,
    ours: AiohttpInterceptor,
    recorder: Recorder,
    echo_server: str,
    first: str,
) -> None:
    with both(ours, Aioresponses(passthrough=[echo_server]), first):
        for path in ("/elsewhere", "/claimed/declined"):
            async with session.post(f"{echo_server}{path}", data=b"abc") as response:
                assert real_echo(await response.json())[0] == b"abc"
        assert await served_by(session) == "fake"
    assert [r.url for r in recorder.seen] == [f"{echo_server}/claimed/declined", STORAGE]


@ORDERS
async def test_their_passthrough_unmatched(
    session: aiohttp.ClientSession,
    ours: AiohttpInterceptor,
    recorder: Recorder,
    echo_server: str,
    first: str,
) -> None:
    with both(ours, Aioresponses(passthrough_unmatched=True), first) as theirs:
        for path in ("/elsewhere", "/claimed/declined"):
            async with session.post(f"{echo_server}{path}", json={"n": 1}) as response:
                body, headers = real_echo(await response.json())
            assert (body, headers["content-type"]) == (b'{"n": 1}', "application/json")
        assert await served_by(session) == "fake"
        assert len(theirs.requests) == 2
    assert [r.url for r in recorder.seen] == [f"{echo_server}/claimed/declined", STORAGE]


async def _chunks() -> AsyncIterator[bytes]:
    yield b"streamed "
    yield b"body"


def _form_with_a_file() -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(b"\x00\xff upload"), filename="a.bin")
    return form


@ORDERS
@pytest.mark.parametrize("form", ["file", "async-iterable", "multipart"])
async def test_declined_bodies_reach_their_passthrough_whole(
    session: aiohttp.ClientSession,
    ours: AiohttpInterceptor,
    recorder: Recorder,
    echo_server: str,
    tmp_path: Path,
    first: str,
    form: str,
) -> None:
    """The handler read the body; what it read still reaches the user's mock and beyond."""
    upload = tmp_path / "upload.bin"
    upload.write_bytes(b"file body")
    with contextlib.ExitStack() as stack:
        data: Any = {
            "file": lambda: stack.enter_context(upload.open("rb")),
            "async-iterable": _chunks,
            "multipart": _form_with_a_file,
        }[form]()
        with both(ours, Aioresponses(passthrough_unmatched=True), first):
            async with session.post(f"{echo_server}/claimed/upload", data=data) as response:
                sent, _ = real_echo(await response.json())
        (request,) = recorder.seen
        assert sent == request.body != b""
        if form == "file":
            assert sent == b"file body"


@ORDERS
async def test_a_declined_file_body_reaches_their_route_unclosed(
    session: aiohttp.ClientSession, ours: AiohttpInterceptor, tmp_path: Path, first: str
) -> None:
    upload = tmp_path / "upload.bin"
    upload.write_bytes(b"file body")
    with upload.open("rb") as file, both(ours, Aioresponses(), first) as theirs:
        theirs.post(JIRA, exception=Theirs("jira"))
        with pytest.raises(Theirs):
            await session.post(JIRA, data=file)
        await asyncio.sleep(0.05)  # aiohttp closes file bodies in an executor
        assert not file.closed
        ((_, call),) = theirs.requests.items()
        assert isinstance(call[0].kwargs["data"], aiohttp.payload.Payload)  # replayable


@needs_responses
@ORDERS
async def test_their_payload_routes(
    session: aiohttp.ClientSession, ours: AiohttpInterceptor, first: str
) -> None:
    with both(ours, Aioresponses(), first) as theirs:
        theirs.get(USER_URL, payload={"theirs": 1})
        theirs.post(JIRA, payload={"jira": 1}, status=201)
        async with session.get(USER_URL) as response:
            assert await response.json() == {"theirs": 1}
        async with session.post(JIRA, json={"x": 1}) as response:
            assert (response.status, await response.json()) == (201, {"jira": 1})
        assert await served_by(session) == "fake"


@ORDERS
async def test_transport_faults_are_ours_not_their_refusal(
    session: aiohttp.ClientSession, ours: AiohttpInterceptor, recorder: Recorder, first: str
) -> None:
    recorder.faults.append(TransportFault("connection"))
    with both(ours, Aioresponses(), first) as theirs:
        with pytest.raises(aiohttp.ClientConnectorError, match="Cannot connect to host"):
            await session.post(STORAGE, headers=AUTH)
        assert theirs.requests == {}


# --- stop orders, nesting, the decorator ---------------------------------------------------------


@pytest.mark.parametrize("first", ["ours", "theirs"])
@pytest.mark.parametrize("stopped_first", ["ours", "theirs"])
async def test_stop_orders(
    session: aiohttp.ClientSession, ours: AiohttpInterceptor, first: str, stopped_first: str
) -> None:
    theirs = Aioresponses()
    mocks = {"ours": ours, "theirs": theirs}
    mocks[first].start()
    mocks["theirs" if first == "ours" else "ours"].start()
    theirs.get(USER_URL, exception=Theirs("user"), repeat=True)
    mocks[stopped_first].stop()
    if stopped_first == "theirs":  # ours still serves storage; the rest is aiohttp's again
        assert await served_by(session) == "fake"
        with pytest.raises(aiohttp.ClientConnectorError, match="Cannot connect to host user"):
            await session.get(USER_URL)
    else:  # theirs keeps working, and storage is theirs to refuse, as without the fake
        with pytest.raises(Theirs):
            await session.get(USER_URL)
        with pytest.raises(aiohttp.ClientConnectionError, match="Connection refused"):
            await session.post(STORAGE)
    mocks["ours" if stopped_first == "theirs" else "theirs"].stop()
    assert vars(aiohttp.ClientSession)["_request"] is ORIGINAL_REQUEST
    assert (Aioresponses.start, Aioresponses.stop) == (ORIGINAL_START, ORIGINAL_STOP)


async def test_ours_stopped_under_theirs_leaves_a_pass_through_then_nothing(
    session: aiohttp.ClientSession,
    ours: AiohttpInterceptor,
    recorder: Recorder,
    echo_server: str,
) -> None:
    ours.start()
    theirs = Aioresponses(passthrough_unmatched=True)
    theirs.start()
    ours.stop()  # theirs remembers our layer: it stays, passing everything through
    async with session.post(f"{echo_server}/claimed/x", data=b"abc") as response:
        assert real_echo(await response.json())[0] == b"abc"
    assert recorder.seen == []
    theirs.stop()  # restores our idle layer, which our hook then removes
    assert vars(aiohttp.ClientSession)["_request"] is ORIGINAL_REQUEST
    assert (Aioresponses.start, Aioresponses.stop) == (ORIGINAL_START, ORIGINAL_STOP)


async def test_ours_between_two_of_theirs(
    session: aiohttp.ClientSession, ours: AiohttpInterceptor
) -> None:
    with Aioresponses() as outer:
        outer.get(USER_URL, exception=Theirs("outer"), repeat=True)
        ours.start()
        with Aioresponses() as inner:
            inner.get(USER_URL, exception=Theirs("inner"))
            with pytest.raises(Theirs, match="inner"):
                await session.get(USER_URL)
            assert await served_by(session) == "fake"
        with pytest.raises(Theirs, match="outer"):
            await session.get(USER_URL)
        assert await served_by(session) == "fake"
        ours.stop()
        assert (outer.requests, inner.requests) != ({}, {})
        assert all(str(url) == USER_URL for _, url in [*outer.requests, *inner.requests])
    assert vars(aiohttp.ClientSession)["_request"] is ORIGINAL_REQUEST


async def test_their_decorator_inside_and_outside(
    session: aiohttp.ClientSession, ours: AiohttpInterceptor
) -> None:
    @Aioresponses()
    async def decorated(theirs: Aioresponses) -> None:
        theirs.get(USER_URL, exception=Theirs("decorated"))
        with pytest.raises(Theirs):
            await session.get(USER_URL)
        if not ours.active:
            ours.start()
        assert await served_by(session) == "fake"
        assert list(theirs.requests) == [("GET", aioresponses.core.URL(USER_URL))]

    ours.start()
    await decorated()  # started after ours
    ours.stop()
    await decorated()  # started before ours (which starts inside)
    ours.stop()


# --- what remains impossible ----------------------------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="a ClientSession._request patch other than aioresponses, started after ours, is "
    "called before ours: nothing tells us it started",
)
async def test_a_later_mock_patch_of_request_sees_forge_first(
    session: aiohttp.ClientSession, ours: AiohttpInterceptor
) -> None:
    ours.start()
    with mock.patch.object(
        aiohttp.ClientSession, "_request", autospec=True, side_effect=Theirs("patched")
    ):
        assert await served_by(session) == "fake"


@pytest.mark.xfail(
    strict=True,
    reason="a declined Forge request with a user mock underneath has run through aiohttp's "
    "_request once: trace configs saw it start and fail before the mock answers",
)
async def test_a_declined_request_under_their_mock_fires_no_trace_signals(
    ours: AiohttpInterceptor,
) -> None:
    signals: list[str] = []

    async def on_start(*_: object) -> None:
        signals.append("start")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    with both(ours, Aioresponses(), "ours") as theirs:
        theirs.get(JIRA, exception=Theirs("jira"))
        async with aiohttp.ClientSession(trace_configs=[trace]) as client:
            with pytest.raises(Theirs):
                await client.get(JIRA)
    assert signals == []  # as under aioresponses alone, which bypasses aiohttp's _request


# --- as users meet it: pytester ------------------------------------------------------------------

CONFTEST = """
import pytest
from aioresponses import aioresponses

@pytest.fixture
def aiomock():
    with aioresponses() as m:
        yield m
"""

TESTS = """
import unittest
import aiohttp, pytest
from aioresponses import aioresponses
from pytest_forge_storage import mock_forge_storage

URL = "https://api.atlassian.com/forge/storage/kvs/v1/"
AUTH = {"Authorization": "Bearer t"}
USER = "https://user.example/api"

class Theirs(Exception):
    pass

async def get(key):
    async with aiohttp.ClientSession() as s:
        async with s.post(URL + "get", json={"key": key}, headers=AUTH) as r:
            return r.status, await r.json()

async def check(m, storage=None):
    m.get(USER, exception=Theirs())
    with pytest.raises(Theirs):
        async with aiohttp.ClientSession() as s:
            await s.get(USER)
    assert await get("k") == (200, {"key": "k", "value": 1})
    assert [str(url) for _, url in m.requests] == [USER]
    if storage is not None:
        storage.assert_called("get", key="k", times=1)

@pytest.mark.asyncio
async def test_mock_fixture_first(aiomock, forge_storage):
    forge_storage.kvs["k"] = 1
    await check(aiomock, forge_storage)

@pytest.mark.asyncio
async def test_mock_fixture_second(forge_storage, aiomock):
    forge_storage.kvs["k"] = 1
    await check(aiomock, forge_storage)

@pytest.mark.asyncio
async def test_mock_opened_inside(forge_storage):
    forge_storage.kvs["k"] = 1
    with aioresponses() as m:
        await check(m, forge_storage)

@pytest.mark.asyncio
@aioresponses(param="m")
async def test_decorated_with_fixture(forge_storage, m=None):
    forge_storage.kvs["k"] = 1
    await check(m, forge_storage)

@pytest.mark.asyncio
@aioresponses(param="m")
async def test_decorated_around_the_fake(m=None):
    with mock_forge_storage(data={"kvs": {"k": 1}}) as storage:
        await check(m, storage)

@pytest.mark.forge_storage(data={"kvs": {"k": 1}})
class TestUnittestStyle(unittest.IsolatedAsyncioTestCase):
    @aioresponses()
    async def test_decorated_method(self, m):
        await check(m)

@pytest.mark.asyncio
async def test_marker_only_with_mock_fixture(aiomock):
    with pytest.raises(aiohttp.ClientConnectionError, match="Connection refused"):
        await get("k")  # no fake here: storage is the mock's to refuse
"""

INI = """
[pytest]
asyncio_mode = strict
filterwarnings =
    error
"""
#: pytest-asyncio 0.24 added (and 1.x warns unless given) this option; 0.23 rejects it, and
#: leaks an event loop's socket when an IsolatedAsyncioTestCase follows one of its tests
#: (without this plugin or aiohttp too).
NEW_ASYNCIO = "asyncio_default_fixture_loop_scope = function\n"
OLD_ASYNCIO = "    ignore::pytest.PytestUnraisableExceptionWarning\n"


def test_coexistence_as_users_meet_it(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_users=TESTS)
    asyncio_version = tuple(int(n) for n in metadata.version("pytest-asyncio").split(".")[:2])
    pytester.makeini(INI + (NEW_ASYNCIO if asyncio_version >= (0, 24) else OLD_ASYNCIO))
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)
