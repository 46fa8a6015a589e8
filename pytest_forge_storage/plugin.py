"""The pytest plugin: the ``forge_storage`` fixture and marker, ini options, report section.

Hooks and wiring only; everything else loads when a test first uses the fake.
"""

from __future__ import annotations

import inspect
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .storage import ForgeStorage
    from .transports.server import ForgeStorageServer

MARKER = "forge_storage"
_storage_key = pytest.StashKey["ForgeStorage"]()


@dataclass(frozen=True)
class MarkerOptions:
    """The ``@pytest.mark.forge_storage(...)`` keyword arguments."""

    manifest: str | Path | None = None
    data: Mapping[str, Any] | None = None
    auth: bool = True


def _marker_options(*args: Any, **kwargs: Any) -> MarkerOptions:
    __tracebackhide__ = True
    if args:
        raise TypeError(
            "@pytest.mark.forge_storage takes keyword arguments only: "
            "manifest=..., data=..., auth=..."
        )
    try:
        return MarkerOptions(**kwargs)
    except TypeError:
        allowed = ", ".join(inspect.signature(MarkerOptions).parameters)
        unknown = ", ".join(sorted(set(kwargs) - set(inspect.signature(MarkerOptions).parameters)))
        raise TypeError(
            f"@pytest.mark.forge_storage got unexpected argument(s) {unknown}; "
            f"it accepts: {allowed}"
        ) from None


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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "forge_storage(manifest=None, data=None, auth=True): serve Forge storage calls "
        "from the in-memory fake in this test; load entities from manifest, seed data.",
    )


@pytest.fixture
def forge_storage(request: pytest.FixtureRequest) -> Generator[ForgeStorage, None, None]:
    """A fresh in-memory Forge storage, serving every requests/httpx call to it."""
    __tracebackhide__ = True
    from .storage import ForgeStorage

    options = MarkerOptions()
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        options = _marker_options(*marker.args, **marker.kwargs)
    config = request.config
    base_urls = config.getini("forge_storage_base_urls")
    storage = ForgeStorage(base_urls=base_urls)
    ini_manifest = config.getini("forge_storage_manifest")
    if ini_manifest:
        storage.load_manifest(Path(config.rootpath, ini_manifest))
    if options.manifest is not None:
        manifest = Path(options.manifest)
        if not manifest.is_absolute():
            manifest = Path(request.node.path).parent / manifest
            if not manifest.exists():
                manifest = Path(config.rootpath, options.manifest)
        storage.load_manifest(manifest)
    storage.auth = options.auth
    if options.data is not None:
        storage.load_data(options.data)
    request.node.stash[_storage_key] = storage
    storage.start()
    try:
        yield storage
    finally:
        storage.stop()


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
    if storage is not None and report.failed:
        from .router import describe_calls

        report.sections.append(("forge storage calls", describe_calls(storage.calls)))


@pytest.fixture
def forge_storage_server(
    request: pytest.FixtureRequest,
) -> Generator[ForgeStorageServer, None, None]:
    """The fake served over real HTTP on 127.0.0.1 and a free port: ``.url``, ``.storage``.

    For subprocesses and non-Python clients. If the test also uses ``forge_storage`` (the
    fixture or the marker), the server serves that same storage, marker options included;
    otherwise a fresh one with the ``forge_storage_manifest`` entities. Stops at teardown.
    """
    from .transports.server import ForgeStorageServer

    storage = None
    if "forge_storage" in request.fixturenames or request.node.get_closest_marker(MARKER):
        storage = request.getfixturevalue("forge_storage")
    server = ForgeStorageServer(storage)
    if storage is None:
        ini_manifest = request.config.getini("forge_storage_manifest")
        if ini_manifest:
            server.storage.load_manifest(Path(request.config.rootpath, ini_manifest))
        request.node.stash[_storage_key] = server.storage
    server.start()
    try:
        yield server
    finally:
        server.stop()
