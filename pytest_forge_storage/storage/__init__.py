"""The facade a test holds: ``ForgeStorage``, its mapping views, and ``mock_forge_storage()``."""

from __future__ import annotations

from ._mock import mock_forge_storage
from ._storage import ForgeStorage

__all__ = ["ForgeStorage", "mock_forge_storage"]
