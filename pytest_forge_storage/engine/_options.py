"""Options shared by KVS, secrets and entities, and what they make a write return.

Ref §3.2, §9, decisions 5-7: ``SetOptions`` (TTL, keyPolicy, returnValue), ``get_fields``
(metadataFields), ``returned`` (the 200 body of a set), query limits and the KVS ``where``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_forge_storage import _limits
from pytest_forge_storage._clock import now_ms
from pytest_forge_storage._errors import ForgeStorageError

from ._items import Item
from ._validation import (
    KEY_POLICIES,
    RETURN_VALUES,
    metadata_fields,
    one_of,
    ttl_seconds,
    validate_key,
)


@dataclass(frozen=True)
class SetOptions:
    ttl: int | None = None
    fail_if_exists: bool = False
    return_value: str | None = None
    return_metadata: tuple[str, ...] = ()

    @classmethod
    def parse(cls, options: Any, *, extended: bool = True) -> SetOptions:
        """Parse ``ExtendedSetOptions`` (``extended``) or the TTL-only ``SetOptions``."""
        if options is None:
            return _NO_OPTIONS
        if not isinstance(options, dict):
            raise ForgeStorageError("BAD_REQUEST", "options must be an object")
        allowed = (
            {"ttl", "keyPolicy", "returnValue", "returnMetadataFields"} if extended else {"ttl"}
        )
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise ForgeStorageError("BAD_REQUEST", f"options.{unknown[0]} is not allowed here")
        ttl = ttl_seconds(options["ttl"]) if options.get("ttl") is not None else None
        if ttl is not None:
            check_horizon(ttl)
        policy = options.get("keyPolicy")
        if policy is not None:
            one_of("options.keyPolicy", policy, KEY_POLICIES)
        returned = options.get("returnValue")
        if returned is not None:
            one_of("options.returnValue", returned, RETURN_VALUES)
        fields = metadata_fields(options.get("returnMetadataFields"))
        if policy == "FAIL_IF_EXISTS" and returned is not None:
            raise ForgeStorageError(
                "INVALID_KEY_POLICY_RETURN_VALUE_COMBINATION",
                "returnValue can only be used with keyPolicy OVERRIDE",
            )
        if fields and returned is None:
            raise ForgeStorageError(
                "INVALID_KEY_POLICY_RETURN_VALUE_COMBINATION",
                "returnMetadataFields can only be used together with returnValue",
            )
        return cls(ttl, policy == "FAIL_IF_EXISTS", returned, fields)


_NO_OPTIONS = SetOptions()


def get_fields(options: Any) -> tuple[str, ...]:
    """``metadataFields`` of ``GetOptions`` / query options."""
    if options is None:
        return ()
    if not isinstance(options, dict):
        raise ForgeStorageError("BAD_REQUEST", "options must be an object")
    unknown = sorted(set(options) - {"metadataFields"})
    if unknown:
        raise ForgeStorageError("BAD_REQUEST", f"options.{unknown[0]} is not allowed here")
    return metadata_fields(options.get("metadataFields"))


def returned(
    key: str, opts: SetOptions, previous: Item | None, item: Item, entity_name: str | None = None
) -> dict[str, Any] | None:
    """The body of a set with ``returnValue`` (decision 6), or ``None`` for 204."""
    if opts.return_value == "LATEST":
        return item.render(key, opts.return_metadata, entity_name)
    if opts.return_value == "PREVIOUS" and previous is not None:
        return previous.render(key, opts.return_metadata, entity_name)
    return None


def query_limit(limit: Any, code: str) -> int:
    if limit is None:
        return _limits.QUERY_DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise ForgeStorageError("BAD_REQUEST", "limit must be an integer")
    if not 1 <= limit <= _limits.QUERY_MAX_LIMIT:
        raise ForgeStorageError(
            code, f"Limit must be between 1 and {_limits.QUERY_MAX_LIMIT}, got {limit}"
        )
    return limit


def kvs_prefix(where: Any) -> str:
    """The key prefix of a KVS ``where`` list; ``""`` when there is none (ref §7)."""
    if where is None:
        return ""
    if not isinstance(where, list):
        raise ForgeStorageError("BAD_REQUEST", "where must be an array")
    if not where:
        return ""
    if len(where) > 1:
        raise ForgeStorageError("QUERY_WHERE_INVALID")
    clause = where[0]
    if not isinstance(clause, dict):
        raise ForgeStorageError("BAD_REQUEST", "where[0] must be an object")
    if clause.get("property") != "key":
        raise ForgeStorageError(
            "QUERY_WHERE_FIELD_INVALID",
            f"Only the key field can be used in a where clause, got {clause.get('property')!r}",
        )
    if clause.get("condition") != "BEGINS_WITH":
        raise ForgeStorageError(
            "INVALID_FILTER_CONDITION",
            f"Only the BEGINS_WITH condition is supported, got {clause.get('condition')!r}",
        )
    values = clause.get("values")
    if not isinstance(values, list) or len(values) != 1:
        raise ForgeStorageError("INVALID_FILTER_VALUES", "BEGINS_WITH takes exactly one value")
    return validate_key(values[0])


#: 9999-12-31T23:59:59.999Z: the last instant an ISO-8601 ``expireTime`` can name.
LAST_EXPIRY_MS = 253_402_300_799_999


def check_horizon(ttl: float) -> None:
    """400 ``BAD_REQUEST`` for a TTL whose expiry would pass 9999-12-31 (only a clock moved
    near year 9999 gets there): its ``expireTime`` could not be written."""
    if now_ms() + ttl * 1000 > LAST_EXPIRY_MS:
        raise ForgeStorageError(
            "BAD_REQUEST",
            "ttl would make the item expire after 9999-12-31T23:59:59.999Z, which an "
            "expireTime cannot express; use a shorter ttl (or a clock before year 9999)",
        )


def seed_ttl_ms(ttl: Any) -> int | None:
    """A seeding TTL in seconds (fractions allowed) as milliseconds: positive, at most a year."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0:
        raise ForgeStorageError(
            "BAD_REQUEST", f"ttl must be a positive number of seconds, got {ttl!r}"
        )
    if ttl > _limits.TTL_MAX_SECONDS:
        raise ForgeStorageError(
            "BAD_REQUEST",
            f"ttl must be at most 1 year ({_limits.TTL_MAX_SECONDS} seconds), got {ttl}",
        )
    check_horizon(ttl)
    return max(1, round(ttl * 1000))
