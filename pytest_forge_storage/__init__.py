"""pytest-forge-storage: a faithful fake of Atlassian Forge hosted storage for pytest."""

from __future__ import annotations

__all__ = [
    "BlockedRequestError",
    "ForgeStorage",
    "ForgeStorageError",
    "ForgeStorageServer",
    "Installation",
    "Invocation",
    "Realism",
    "StorageCall",
    "Usage",
    "__version__",
    "mock_forge_storage",
]

from typing import TYPE_CHECKING, Any

from ._errors import BlockedRequestError, ForgeStorageError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ._realism import Realism
    from ._usage import Usage
    from .router import StorageCall
    from .server import ForgeStorageServer
    from .storage import ForgeStorage, Installation, Invocation, mock_forge_storage


def __getattr__(name: str) -> Any:
    # The engine and its dependencies load on first use, not when pytest loads the plugin.
    if name in ("ForgeStorage", "Installation", "Invocation", "mock_forge_storage"):
        from . import storage

        return getattr(storage, name)
    if name == "Realism":
        from ._realism import Realism

        return Realism
    if name == "Usage":
        from ._usage import Usage

        return Usage
    if name == "StorageCall":
        from .router import StorageCall

        return StorageCall
    if name == "ForgeStorageServer":
        from .server import ForgeStorageServer

        return ForgeStorageServer
    raise AttributeError(f"module 'pytest_forge_storage' has no attribute {name!r}")
