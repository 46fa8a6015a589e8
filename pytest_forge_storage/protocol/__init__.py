"""The wire protocols: REST (``rest``) and GraphQL (``graphql``), each behind one ``handle``.

Both take the request and a :class:`Gate` (the router's side of the request) and import
nothing above this floor; ``openapi`` holds the bundled spec and request validation.
"""

from __future__ import annotations

from ._gate import Api, Gate

__all__ = ["Api", "Gate"]
