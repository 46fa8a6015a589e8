"""Option objects shared by KVS, secrets and entities (ref §3.2, §9, decision 6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_forge_storage._errors import ForgeStorageError

from ._validation import KEY_POLICIES, RETURN_VALUES, metadata_fields, one_of, ttl_seconds


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
