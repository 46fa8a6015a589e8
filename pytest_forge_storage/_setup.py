"""From pytest's configuration and a test's marker to a ready ``ForgeStorage``.

The plugin module holds the hooks; this module holds what they decide with: the marker's
keyword arguments (a frozen :class:`MarkerOptions`), the ini options read once per session
(:class:`Settings`, checked at start so that a mistake fails once, clearly), and
:func:`make_storage`, which applies both to a fresh fake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._realism import Realism
    from .storage import ForgeStorage

MARKER = "forge_storage"


@dataclass(frozen=True)
class MarkerOptions:
    """The ``@pytest.mark.forge_storage(...)`` keyword arguments (``None``: the ini's)."""

    manifest: str | Path | None = None
    data: Mapping[str, Any] | None = None
    auth: bool | None = None
    passthrough: bool | None = None
    realism: Mapping[str, Any] | str | None = None


def marker_options(*args: Any, **kwargs: Any) -> MarkerOptions:
    __tracebackhide__ = True
    allowed = [f.name for f in fields(MarkerOptions)]
    if args:
        raise TypeError(
            "@pytest.mark.forge_storage takes keyword arguments only: "
            + ", ".join(f"{name}=..." for name in allowed)
        )
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise TypeError(
            f"@pytest.mark.forge_storage got unexpected argument(s) {', '.join(unknown)}; "
            f"it accepts: {', '.join(allowed)}"
        )
    return MarkerOptions(**kwargs)


@dataclass(frozen=True)
class Settings:
    """The ini options, checked once when the session starts."""

    manifest: Path | None
    base_urls: tuple[str, ...]
    passthrough: bool
    auth: bool
    realism: str

    @classmethod
    def read(cls, config: pytest.Config) -> Settings:
        """The ini options; ``pytest.UsageError`` naming the option for a bad value."""
        manifest = config.getini("forge_storage_manifest")
        path = Path(config.rootpath, manifest) if manifest else None
        if path is not None:
            _check_manifest(path, f"ini option forge_storage_manifest = {manifest}")
        realism = config.getini("forge_storage_realism") or "off"
        try:
            from ._realism import parse_ini

            parse_ini(realism)
        except ValueError as exc:
            raise pytest.UsageError(f"ini option forge_storage_realism: {exc}") from None
        base_urls = tuple(config.getini("forge_storage_base_urls"))
        if base_urls:
            from .router._origins import parse_base_url

            for url in base_urls:
                try:
                    parse_base_url(url)
                except ValueError as exc:
                    raise pytest.UsageError(f"ini option forge_storage_base_urls: {exc}") from None
        return cls(
            manifest=path,
            base_urls=base_urls,
            passthrough=_flag(config, "forge_storage_passthrough"),
            auth=_flag(config, "forge_storage_auth"),
            realism=realism,
        )


def _flag(config: pytest.Config, name: str) -> bool:
    """A ``bool`` ini option; pytest's own error for a bad one names only the value (a
    ``ValueError``, or since pytest 9 a ``UsageError``)."""
    try:
        return bool(config.getini(name))
    except (ValueError, pytest.UsageError) as exc:
        raise pytest.UsageError(
            f"ini option {name}: {exc}; write true or false (also yes/no, on/off, 1/0)"
        ) from None


def _check_manifest(path: Path, where: str) -> None:
    from ._errors import ForgeStorageError
    from .engine import Engine

    if not path.is_file():
        raise pytest.UsageError(f"{where}: no file at {path}")
    try:
        Engine().load_manifest(path)
    except ForgeStorageError as exc:
        raise pytest.UsageError(f"{where}: {exc.message}") from None


def make_storage(settings: Settings, node: pytest.Item, options: MarkerOptions) -> ForgeStorage:
    """A fresh fake set up by the ini options, then the test's marker."""
    __tracebackhide__ = True
    from .storage import ForgeStorage

    storage = ForgeStorage(base_urls=settings.base_urls)
    if settings.manifest is not None:
        storage.load_manifest(settings.manifest)
    if options.manifest is not None:
        storage.load_manifest(_marker_manifest(node, options.manifest))
    storage.auth = settings.auth if options.auth is None else bool(options.auth)
    storage.passthrough = (
        settings.passthrough if options.passthrough is None else bool(options.passthrough)
    )
    storage.realism = _realism(settings.realism, options.realism)
    if options.data is not None:
        storage.load_data(options.data)
    return storage


def _realism(ini: str, marker: Mapping[str, Any] | str | None) -> Realism:
    __tracebackhide__ = True
    from ._realism import parse_ini, parse_realism

    base = parse_ini(ini)
    if marker is None:
        return base
    try:
        return parse_realism(marker, base=base)
    except ValueError as exc:  # name the marker; the realism module's frames say nothing more
        raise ValueError(f"@pytest.mark.forge_storage(realism={marker!r}): {exc}") from None


def _marker_manifest(node: pytest.Item, manifest: str | Path) -> Path:
    """The marker's manifest: absolute, or next to the test file, or under rootdir."""
    given = Path(manifest)
    tried = (
        [given]
        if given.is_absolute()
        else [
            Path(node.path).parent / given,
            Path(node.config.rootpath, given),
        ]
    )
    for path in tried:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"@pytest.mark.forge_storage(manifest={str(manifest)!r}): no such file; tried "
        + ", ".join(str(path) for path in tried)
    )
