"""The names of Forge storage: its operations and the paths they live under (ref §2, §3).

One definition each, used by every layer: the REST route table, the OpenAPI spec check,
fault and call filters, the router and server mode.
"""

from __future__ import annotations

#: Where Forge storage lives; extra base URLs come from ``forge_storage_base_urls``.
DEFAULT_BASE_URL = "https://api.atlassian.com"

#: The 15 REST operations: the path after ``/forge/storage/kvs/v1/`` (ref §2), which is also
#: the name recorded calls, faults and assertions use.
OPERATIONS: tuple[str, ...] = (
    "get", "set", "delete", "query",
    "secret/get", "secret/set", "secret/delete",
    "entity/get", "entity/set", "entity/delete", "entity/query",
    "batch/set", "batch/get", "batch/delete", "transaction",
)  # fmt: skip
BATCH_OPERATIONS = frozenset({"batch/get", "batch/set", "batch/delete"})
SECRET_OPERATIONS = frozenset({"secret/get", "secret/set", "secret/delete"})
#: Operations whose body is a top-level array.
ARRAY_BODIES = BATCH_OPERATIONS
#: Operations whose recorded call names no single key.
KEYLESS = frozenset({"query", "entity/query", "transaction", *BATCH_OPERATIONS})

#: The REST storage prefix on api.atlassian.com; anything under it that is not an operation
#: is Forge's 403 (decision 1).
REST_PREFIX = "/forge/storage/kvs/"
REST_V1 = "/forge/storage/kvs/v1/"
#: What ``@forge/kvs`` sends inside the Forge runtime (decision 13): served in server mode.
SDK_V1 = "/api/v1/"
#: The GraphQL gateway and the path of the legacy ``@forge/storage`` client (ref §2).
GRAPHQL_PATHS = ("/graphql", "/forge/entities/graphql")


def check_operation(operation: str | None) -> None:
    """``ValueError`` naming the valid operations, for a misspelt one in a filter or fault."""
    if operation is not None and operation not in OPERATIONS:
        raise ValueError(
            f"Unknown storage operation {operation!r}; use one of: {', '.join(OPERATIONS)} "
            "(or None for every operation)"
        )
