"""Numeric limits of Forge hosted storage, each citing its source in the reference."""

from __future__ import annotations

import re

# Keys: 1..500 characters, Forge's regex in a Python-correct form (ref §5). ``\s`` is spelled
# out as JavaScript's (ECMA-262 WhiteSpace and LineTerminator): Python's ``\s`` also matches
# U+001C..U+001F and U+0085, and lacks U+FEFF.
KEY_MAX_LENGTH = 500
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
KEY_PATTERN = re.compile(rf"^(?![{_JS_SPACE}]+\Z)[a-zA-Z0-9:._{_JS_SPACE}\-#]+\Z")

# Values: UTF-8 bytes of compact JSON (decision 8).
VALUE_MAX_BYTES = 240 * 1024
SECRET_MAX_BYTES = 128 * 1024
# Depth counts nested objects and arrays: 31 levels are stored, 32 are MAX_DEPTH (decision 8).
VALUE_MAX_DEPTH = 31

# TTL: positive integer in SECONDS/MINUTES/HOURS/DAYS, at most one year (ref §8, decision 5).
TTL_UNITS = {"SECONDS": 1, "MINUTES": 60, "HOURS": 3600, "DAYS": 86400}
TTL_MAX_SECONDS = 365 * 86400

# Queries (ref §5, decision 7).
QUERY_DEFAULT_LIMIT = 10
QUERY_MAX_LIMIT = 100
GRAPHQL_MAX_FIRST = 20
CONDITIONS_MAX = 100

# Custom entities (ref §5, §6.1).
ENTITY_NAME_MIN = 3
ENTITY_NAME_MAX = 60
ENTITY_NAME_PATTERN = re.compile(r"^(?![_.\-])(?!.*\.{2})[a-z0-9:\-_.]*(?<![.])\Z")
ENTITY_ATTRIBUTES_MAX = 50
ENTITY_ATTRIBUTE_NAME_MAX = 30
ENTITY_ATTRIBUTE_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*\Z")
ENTITY_INDEXES_MAX = 7
INDEX_NAME_MIN = 3
INDEX_NAME_MAX = 50
INDEX_NAME_PATTERN = re.compile(r"^(?!\.)(?!.*\.{2})[a-zA-Z0-9:\-_.]*(?<!\.)\Z")
RESERVED_INDEX = "by-key"
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
# Forge's maximum magnitude is 9.9999999999999999999999999999999999999E+125 (38 digits), which
# rounds to exactly 1e126 as a double: every double *below* 1e126 is within Forge's range.
FLOAT_LIMIT = 1e126  # exclusive
FLOAT_MIN_MAGNITUDE = 1e-130

# Batch and transactions (ref §5, decisions 10 and 11).
BATCH_MAX_ITEMS = 25
TRANSACTION_MAX_OPERATIONS = 25
PAYLOAD_MAX_BYTES = 4 * 1024 * 1024

# Custom entities, continued (ref §5 "Entities per app", "Indexes": range values combined
# at most 900 bytes, partition values at most 1700 bytes).
ENTITIES_MAX = 20
INDEX_RANGE_MAX_BYTES = 900
INDEX_PARTITION_MAX_BYTES = 1700
ENTITY_ATTRIBUTE_TYPES = ("string", "integer", "float", "boolean", "any")
