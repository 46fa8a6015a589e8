"""An example Forge remote: per-site settings, API tokens, an audit log, feature-flag
rollouts (a custom entity) and user preferences (the legacy GraphQL storage API), for every
installation of its app (Forge Invocation Tokens verified, a system token per installation)."""

from __future__ import annotations

from .app import create_app
from .audit import AUDIT_TTL, AuditLog
from .bulk_import import BULK_RETRY, ImportResult, import_one_by_one, import_settings
from .export import export_audit, export_many
from .forge_storage_client import (
    ForgeStorageClient,
    InvalidEntityValue,
    KeyConflict,
    KeyNotFound,
    RetryPolicy,
    StorageError,
    StorageUnavailable,
)
from .graphql_storage import GraphQLStorageClient
from .invocations import (
    FORGE_JWKS_URL,
    FitVerifier,
    InstallationTokens,
    InvalidInvocation,
    Invocation,
)
from .preferences import PreferencesStore
from .rollouts import ROLLOUT_ENTITY, RolloutStore

__all__ = [
    "AUDIT_TTL",
    "BULK_RETRY",
    "FORGE_JWKS_URL",
    "ROLLOUT_ENTITY",
    "AuditLog",
    "FitVerifier",
    "ForgeStorageClient",
    "GraphQLStorageClient",
    "ImportResult",
    "InstallationTokens",
    "InvalidEntityValue",
    "InvalidInvocation",
    "Invocation",
    "KeyConflict",
    "KeyNotFound",
    "PreferencesStore",
    "RetryPolicy",
    "RolloutStore",
    "StorageError",
    "StorageUnavailable",
    "create_app",
    "export_audit",
    "export_many",
    "import_one_by_one",
    "import_settings",
]
