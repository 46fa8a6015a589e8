"""An example Forge remote: per-site settings, API tokens and an audit log in Forge storage."""

from __future__ import annotations

from .app import create_app
from .audit import AUDIT_TTL, AuditLog
from .export import export_audit, export_many
from .forge_storage_client import (
    ForgeStorageClient,
    KeyConflict,
    KeyNotFound,
    RetryPolicy,
    StorageError,
    StorageUnavailable,
)

__all__ = [
    "AUDIT_TTL",
    "AuditLog",
    "ForgeStorageClient",
    "KeyConflict",
    "KeyNotFound",
    "RetryPolicy",
    "StorageError",
    "StorageUnavailable",
    "create_app",
    "export_audit",
    "export_many",
]
