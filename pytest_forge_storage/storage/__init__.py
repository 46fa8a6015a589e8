"""The facade a test holds: ``ForgeStorage``, its mapping views, and ``mock_forge_storage()``."""

from __future__ import annotations

from ._fit import Invocation
from ._installation import Installation
from ._mock import mock_forge_storage
from ._storage import ForgeStorage

__all__ = ["ForgeStorage", "Installation", "Invocation", "mock_forge_storage"]
