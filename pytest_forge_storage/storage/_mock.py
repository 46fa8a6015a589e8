"""``mock_forge_storage()``: the fake outside pytest, as a context manager or decorator."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ._storage import ForgeStorage


@contextlib.contextmanager
def mock_forge_storage(
    manifest: str | os.PathLike[str] | None = None,
    *,
    data: Mapping[str, Any] | None = None,
    auth: bool = True,
    base_urls: Iterable[str] = (),
) -> Iterator[ForgeStorage]:
    """Serve Forge storage calls from a fresh in-memory store while the block runs.

    ``with mock_forge_storage() as storage:`` or ``@mock_forge_storage()`` on a function.
    """
    storage = ForgeStorage(manifest=manifest, base_urls=base_urls)
    storage.auth = auth
    if data is not None:
        storage.load_data(data)
    storage.start()
    try:
        yield storage
    finally:
        storage.stop()
