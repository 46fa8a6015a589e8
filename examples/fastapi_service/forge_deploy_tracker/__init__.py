"""Example Forge remote on FastAPI, storing in Forge hosted storage through httpx."""

from __future__ import annotations

from .app import create_app
from .storage import (
    Backoff,
    ConditionFailed,
    ForgeStorage,
    KeyNotFound,
    Page,
    RateLimited,
    StorageError,
)

__all__ = [
    "Backoff",
    "ConditionFailed",
    "ForgeStorage",
    "KeyNotFound",
    "Page",
    "RateLimited",
    "StorageError",
    "create_app",
]
