"""Forge error codes: default HTTP status and message for each.

One table, in the spirit of Forge's own error pages. Sources are the sections of
``shared/reference/forge-storage-api.md`` (cited as ``ref §N``). Message texts are Forge's
where known (ref §4.2, §12.1) and plain descriptions otherwise: Forge publishes no
complete list of server messages (ref §18).
"""

from __future__ import annotations

from typing import NamedTuple


class CodeInfo(NamedTuple):
    status: int
    message: str


CODES: dict[str, CodeInfo] = {
    # Keys (ref §4.2, §5)
    "KEY_TOO_SHORT": CodeInfo(400, "Key was 0 characters, but should be at least 1 characters"),
    "KEY_TOO_LONG": CodeInfo(400, "The provided key exceeded the maximum 500 characters."),
    "INVALID_KEY": CodeInfo(
        400, 'Key should match the pattern "/^(?!\\s+$)[a-zA-Z0-9:._\\s-#]+$/"'
    ),
    "EMPTY_KEY": CodeInfo(400, "Key cannot be empty."),
    "KEY_NOT_FOUND": CodeInfo(404, "Provided key does not exist"),
    "KEY_CONFLICT": CodeInfo(
        409, "The provided key already exists and the key policy is set to FAIL_IF_EXISTS"
    ),
    "INVALID_KEY_POLICY_RETURN_VALUE_COMBINATION": CodeInfo(
        400, "returnValue and returnMetadataFields can only be used with keyPolicy OVERRIDE"
    ),
    # Values (ref §4.2, §5, decision 8)
    "MAX_SIZE": CodeInfo(400, "The provided value exceeded the maximum size limit."),
    "MAX_DEPTH": CodeInfo(400, "The provided value exceeded the maximum object depth (32) limit."),
    # KVS query (ref §4.2, §7)
    "LIST_QUERY_LIMIT_EXCEEDED": CodeInfo(400, "Limit for list query should be below 100."),
    "QUERY_WHERE_INVALID": CodeInfo(400, "Only a single where clause is supported."),
    "QUERY_WHERE_FIELD_INVALID": CodeInfo(400, "Only the key field can be used in a where clause."),
    "INVALID_FILTER_CONDITION": CodeInfo(400, "Only the BEGINS_WITH condition is supported."),
    "INVALID_FILTER_VALUES": CodeInfo(400, "The condition was given the wrong number of values."),
    # Custom entities (ref §4.2, §6)
    "ENTITY_TYPE_TOO_SHORT": CodeInfo(
        400, "The provided entity name needs to be at least 3 characters."
    ),
    "ENTITY_TYPE_TOO_LARGE": CodeInfo(
        400, "The provided entity name exceeded the maximum 60 characters."
    ),
    "INVALID_ENTITY_TYPE": CodeInfo(400, "The provided entity name is invalid."),
    "INVALID_ENTITY_VALUE": CodeInfo(
        400, "The provided value does not match the entity's declared attributes."
    ),
    "INVALID_ENTITY_ATTRIBUTE": CodeInfo(400, "The attribute name is a reserved value."),
    "INVALID_ENTITY_INDEX": CodeInfo(400, "The index provided is invalid."),
    "COMPLEX_QUERY_PAGE_LIMIT_NOT_IN_RANGE": CodeInfo(
        400, "Limit for complex query should be between 1 and 100."
    ),
    "INVALID_FILTER_OPERATORS_COMBINATION": CodeInfo(
        400, "Filters cannot combine the and and or operators at the same level."
    ),
    "EMPTY_FILTER_OPERATOR": CodeInfo(400, "Filter operator cannot be empty."),
    "INSUFFICIENT_FILTER_VALUES": CodeInfo(400, "The condition needs more values."),
    "UNPROCESSABLE_ENTITY": CodeInfo(
        422, "Attributes of type any cannot be used in range, partition or filter conditions."
    ),
    # Transactions (ref §10, decision 11)
    "INVALID_TRANSACTION_REQUEST": CodeInfo(400, "The transaction request is invalid."),
    "CONDITIONAL_CHECK_FAILED": CodeInfo(
        400, "Request failed due to conditional check specified or optimistic locking."
    ),
    # GraphQL (ref §12.1, seed 003)
    "CONTEXT_INVALID": CodeInfo(400, "The context is not accessible in this request"),
    # Generic (ref §4.1, §4.2, decision 1)
    "BAD_REQUEST": CodeInfo(400, "Provided request body is invalid"),
    "UNAUTHORIZED": CodeInfo(
        401,
        "Unauthorized: the request provided an invalid or expired token, "
        "or was missing an Authorization header",
    ),
    "FORBIDDEN": CodeInfo(
        403,
        "Forbidden: the request used an invalid route. Either the route doesn't exist, "
        "or it points to a resource that can't be accessed by non-Atlassian services.",
    ),
    "METHOD_NOT_ALLOWED": CodeInfo(405, "Only POST is supported."),
    "RATE_LIMIT_EXCEEDED": CodeInfo(
        429, "Any request that exceeds a quota or limit will return a 429 status."
    ),
    "TOO_MANY_REQUESTS": CodeInfo(429, "The transaction exceeded the rate limit."),
    "INTERNAL_SERVER_ERROR": CodeInfo(500, "An internal server error has occurred"),
}

DEFAULT_STATUS = 400


def status_for(code: str) -> int:
    """The HTTP status Forge answers with for ``code`` (400 for codes we do not know)."""
    info = CODES.get(code)
    return info.status if info else DEFAULT_STATUS


def message_for(code: str) -> str:
    info = CODES.get(code)
    return info.message if info else code.replace("_", " ").capitalize() + "."
