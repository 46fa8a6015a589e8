"""Server mode: the fake behind a real HTTP port (``ForgeStorageServer``), with its control API.

It composes the facade (a :class:`~pytest_forge_storage.ForgeStorage`) with the HTTP
machinery of :mod:`pytest_forge_storage.transports` (h11 behind a selector loop, a bounded
worker pool), so it sits above both, beside the pytest plugin and the command line.
"""

from __future__ import annotations

from ._server import ForgeStorageServer

__all__ = ["ForgeStorageServer"]
