"""User preferences: a legacy module that keeps Forge storage through GraphQL.

One plain KVS value per user, at ``prefs:<accountId>``, read with ``appStoredEntity``,
written with ``appStorage { setAppStoredEntity }`` and listed with ``appStoredEntities``.
REST and GraphQL are two doors to the same store, so the rest of the service could read
these values with ``POST v1/get`` too.

``GET /me/preferences`` also asks Atlassian's GraphQL API who the user is
(``query { me { user { accountId } } }``) with the user's own token: the same URL, but
not a storage query.
"""

from __future__ import annotations

from typing import Any

from .graphql_storage import GraphQLStorageClient

DEFAULTS: dict[str, Any] = {"theme": "light", "digest": "daily", "language": "en"}
PREFIX = "prefs:"
ME_QUERY = "query { me { user { accountId } } }"


def preferences_key(account_id: str) -> str:
    return f"{PREFIX}{account_id}"


def current_account_id(graphql: GraphQLStorageClient) -> str:
    """The account ID of the user whose token ``graphql`` holds."""
    return str(graphql.execute(ME_QUERY)["me"]["user"]["accountId"])


class PreferencesStore:
    def __init__(self, storage: GraphQLStorageClient) -> None:
        self._storage = storage

    def get(self, account_id: str) -> tuple[dict[str, Any], bool]:
        """The user's preferences over the defaults, and whether any are stored."""
        stored = self._storage.get(preferences_key(account_id))
        return {**DEFAULTS, **(stored or {})}, stored is not None

    def update(self, account_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge ``changes`` into what is stored; a ``None`` change restores the default."""
        stored = self._storage.get(preferences_key(account_id)) or {}
        merged = {name: value for name, value in {**stored, **changes}.items() if value is not None}
        self._storage.set(preferences_key(account_id), merged)
        return {**DEFAULTS, **merged}

    def reset(self, account_id: str) -> None:
        self._storage.delete(preferences_key(account_id))

    def everyone(self, *, page_size: int = 20) -> dict[str, dict[str, Any]]:
        """Every user's stored preferences, by account ID, following ``after`` cursors."""
        return {
            item["key"][len(PREFIX) :]: {**DEFAULTS, **item["value"]}
            for item in self._storage.iter_prefix(PREFIX, page_size=page_size)
        }
