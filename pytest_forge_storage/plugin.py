"""The pytest plugin: the ``forge_storage`` fixture and marker, options, report sections.

Hooks and wiring only (:mod:`._setup` decides what the options mean); everything else loads
when a test first uses the fake.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._setup import MARKER, MarkerOptions, Settings, make_storage, marker_options

if TYPE_CHECKING:
    from .server import ForgeStorageServer
    from .storage import ForgeStorage

_storage_key = pytest.StashKey["ForgeStorage"]()
_call_failed_key = pytest.StashKey[bool]()
#: Calls shown in a failure's report section without -v.
_REPORT_LAST = 20
_settings_key = pytest.StashKey[Settings]()
_USAGE_ATTRIBUTE = "forge_storage_usage"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "forge_storage_manifest",
        "Forge manifest.yml whose app.storage.entities the forge_storage fake loads "
        "(relative to rootdir).",
        type="string",
        default="",
    )
    parser.addini(
        "forge_storage_base_urls",
        "Extra base URLs (one per line) whose Forge storage paths the forge_storage fake "
        "intercepts, in addition to https://api.atlassian.com.",
        type="linelist",
        default=[],
    )
    parser.addini(
        "forge_storage_passthrough",
        "Let requests to Forge origins that the fake does not serve (and no mock of yours "
        "answers) reach the network; storage is still served (default: false).",
        type="bool",
        default=False,
    )
    parser.addini(
        "forge_storage_auth",
        "Require Authorization: Bearer <token> on Forge storage calls (default: true).",
        type="bool",
        default=True,
    )
    parser.addini(
        "forge_storage_realism",
        "Forge's limits, lag and lingering expiry in the fake: off, limits or full (default: off).",
        type="string",
        default="off",
    )
    group = parser.getgroup("forge_storage", "Forge storage fake")
    group.addoption(
        "--forge-storage-usage",
        action="store_true",
        help="print each test's Forge storage usage (reads, writes, units, cost) at the end",
    )
    group.addoption(
        "--forge-storage-usage-json",
        metavar="PATH",
        help="write every test's Forge storage usage to PATH as JSON",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "forge_storage(manifest=None, data=None, auth=True, passthrough=False, realism=None): "
        "serve Forge storage calls from the in-memory fake in this test; load entities from "
        "manifest, seed data; auth, passthrough and realism override the ini options.",
    )
    config.stash[_settings_key] = Settings.read(config)
    table = bool(config.getoption("forge_storage_usage"))
    json_path = config.getoption("forge_storage_usage_json")
    if table or json_path:
        from ._usage_plugin import UsageReport

        path = Path(json_path) if json_path else None
        config.pluginmanager.register(
            UsageReport(config, table=table, json_path=path), "forge_storage_usage"
        )


def _marker(node: pytest.Item) -> MarkerOptions:
    marker = node.get_closest_marker(MARKER)
    return MarkerOptions() if marker is None else marker_options(*marker.args, **marker.kwargs)


@pytest.fixture
def forge_storage(request: pytest.FixtureRequest) -> Generator[ForgeStorage, None, None]:
    """A fresh in-memory Forge storage, serving every requests/httpx/aiohttp call to it."""
    __tracebackhide__ = True
    storage = make_storage(request.config.stash[_settings_key], request.node, _marker(request.node))
    request.node.stash[_storage_key] = storage
    storage.start()
    try:
        yield storage
    finally:
        storage.stop()
    _fail_on_unfired_faults(storage, request)


def _fail_on_unfired_faults(storage: ForgeStorage, request: pytest.FixtureRequest) -> None:
    """Fail the test at teardown, naming them, if planned faults never fired (design §2.9)."""
    __tracebackhide__ = True
    unfired = storage._router.faults.unfired()
    if unfired and not request.node.stash.get(_call_failed_key, False):
        lines = "\n".join(f"  {fault.describe()}" for fault in unfired)
        pytest.fail(
            f"{len(unfired)} planned Forge storage fault(s) never fired (a misspelt key= or "
            f"operation is the usual cause; pass required=False to allow it):\n{lines}",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _forge_storage_marker(request: pytest.FixtureRequest) -> None:
    """The marker alone (on a test, class or module) switches the fake on."""
    if request.node.get_closest_marker(MARKER) is not None:
        request.getfixturevalue("forge_storage")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[Any, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    storage = item.stash.get(_storage_key, None)
    if storage is None:
        return
    if report.when == "call":
        item.stash[_call_failed_key] = report.failed
    if report.failed:
        from .router import describe_calls

        verbose = item.config.getoption("verbose", 0) > 0  # get_verbosity() is pytest 8+
        text = describe_calls(storage.calls, last=None if verbose else _REPORT_LAST)
        report.sections.append(("forge storage calls", text))
        item.user_properties.append(("forge_storage.calls", describe_calls(storage.calls)))
    if report.when == "teardown":
        usage = storage._router.meter.as_dict()
        if usage:
            from ._usage_report import junit_properties

            # an extra attribute of the report is what xdist carries to the controller
            setattr(report, _USAGE_ATTRIBUTE, usage)
            report.user_properties.extend(junit_properties(usage))


@pytest.fixture
def forge_storage_server(
    request: pytest.FixtureRequest,
) -> Generator[ForgeStorageServer, None, None]:
    """The fake served over real HTTP on 127.0.0.1 and a free port: ``.url``, ``.storage``.

    For subprocesses and non-Python clients. If the test also uses ``forge_storage`` (the
    fixture or the marker), the server serves that same storage, marker options included;
    otherwise a fresh one with the ini options. Stops at teardown.
    """
    from .server import ForgeStorageServer

    __tracebackhide__ = True
    storage = None
    if "forge_storage" in request.fixturenames or request.node.get_closest_marker(MARKER):
        storage = request.getfixturevalue("forge_storage")  # which checks its faults itself
    own = storage is None
    if storage is None:
        settings = request.config.stash[_settings_key]
        storage = make_storage(settings, request.node, MarkerOptions())
        request.node.stash[_storage_key] = storage
    server = ForgeStorageServer(storage)
    server.start()
    try:
        yield server
    finally:
        server.stop()
    if own:
        _fail_on_unfired_faults(storage, request)
