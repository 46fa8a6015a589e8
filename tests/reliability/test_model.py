"""Model-checked engine: random operation sequences against an obviously-correct model.

A hypothesis ``RuleBasedStateMachine`` drives KVS, secrets, a custom entity, batch,
transactions and the clock, and compares every observable result — status and code for
an error, the whole body otherwise — with :class:`Model`: plain dicts, ``sorted()`` at
query time, no indexes, no cursors of its own (a walk remembers the last entry it saw).
Any difference is a bug in one of the two.

:class:`EngineMachine` calls :class:`~pytest_forge_storage.engine.Engine` directly (fast,
many examples); :class:`RestMachine` sends the same bodies as HTTP requests through
``ForgeStorage().handle(...)`` so that protocol bugs show too.

Forge partitions storage per installation, and so does the model: one :class:`Model` per
installation of :data:`INSTALLATIONS`. A rule switches the installation the next requests
are for (the engine's partition; over REST that installation's token, or for the default
installation its own token or one the fake did not issue), with the same keys everywhere,
so a request served from the wrong partition shows as a wrong answer or a wrong state. A
walk opened in one installation may go on in another: a cursor is a position, never a
view of the other.

CI runs a bounded, derandomised number of examples. For a longer hunt with fresh seeds::

    FORGE_MODEL_EXAMPLES=5000 FORGE_MODEL_STEPS=80 pytest tests/reliability/test_model.py

(``FORGE_MODEL_EXAMPLES`` also scales the REST variant: 30% as many examples.)
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest
import time_machine
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from pytest_forge_storage import ForgeStorage, ForgeStorageError
from pytest_forge_storage._http import HttpRequest, HttpResponse
from pytest_forge_storage.engine import Engine
from pytest_forge_storage.engine._snapshot import snapshot

# -- the world -------------------------------------------------------------------------
ENTITY = "item"
ATTRIBUTES = {"name": "string", "score": "integer", "active": "boolean"}
PARTITIONED = "by-active-name"
INDEXES: list[Any] = ["score", {"name": PARTITIONED, "range": ["name"], "partition": ["active"]}]
#: index name → (range attribute or None for the key, partition attributes)
INDEX_SHAPES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "by-key": (None, ()),
    "score": ("score", ()),
    PARTITIONED: ("name", ("active",)),
}

KEYS = ["a", "a1", "ab", "ab:1", "b", "b 2", "c#1"]
PREFIXES = ["", "a", "ab", "b", "c", "z"]
#: (key, code for KVS and secrets, code for entity records)
BAD_KEYS = [
    ("", "KEY_TOO_SHORT", "EMPTY_KEY"),
    ("a/b", "INVALID_KEY", "INVALID_KEY"),
    ("   ", "INVALID_KEY", "INVALID_KEY"),
    ("k" * 501, "KEY_TOO_LONG", "KEY_TOO_LONG"),
]
NAMES = ["a", "ab", "b", "ba", "c a"]
SCORES = st.integers(-2, 3)
FIELDS = ["CREATED_AT", "UPDATED_AT", "EXPIRE_TIME"]
TTLS = [
    {"value": 1, "unit": "SECONDS"},
    {"value": 2, "unit": "SECONDS"},
    {"value": 1, "unit": "MINUTES"},
    {"value": 1, "unit": "HOURS"},
]
#: Clock steps in milliseconds: multiples of 500 keep ``time.time()`` exact in binary.
ADVANCES = [0, 500, 1000, 1500, 2000, 59_000, 60_000, 61_000, 3_600_000]
#: The installations the machine switches between (their own partitions and tokens).
INSTALLATIONS = ("default", "site-a", "site-b")
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
START_MS = int(START.timestamp()) * 1000
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


# -- results ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Ok:
    status: int
    body: Any = None


@dataclass(frozen=True)
class Err:
    status: int
    code: str
    #: Other codes that are as right: the request breaks several rules at once, and which
    #: one a door reports first is not Forge's contract (the schema may see one first).
    also: tuple[str, ...] = ()


def matches(got: Result, expected: Result) -> bool:
    if isinstance(got, Err) and isinstance(expected, Err) and expected.also:
        return got.code in (expected.code, *expected.also) and got.status == STATUS[got.code]
    return got == expected


def fault(*codes: str | None) -> Err | None:
    """The error for the rules a request breaks (``None`` entries: rules it keeps)."""
    found = [code for code in codes if code is not None]
    if not found:
        return None
    return Err(STATUS[found[0]], found[0], tuple(found[1:]))


Result = Ok | Err
STATUS = {
    "BAD_REQUEST": 400,
    "KEY_TOO_SHORT": 400,
    "KEY_TOO_LONG": 400,
    "INVALID_KEY": 400,
    "EMPTY_KEY": 400,
    "INVALID_ENTITY_VALUE": 400,
    "INVALID_ENTITY_TYPE": 400,
    "INVALID_KEY_POLICY_RETURN_VALUE_COMBINATION": 400,
    "INVALID_TRANSACTION_REQUEST": 400,
    "CONDITIONAL_CHECK_FAILED": 400,
    "KEY_NOT_FOUND": 404,
    "KEY_CONFLICT": 409,
}


class Failure(Exception):
    """An expected error in the model."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def normalise(body: Any) -> Any:
    """Batch ``failedKeys`` errors reduced to their code (messages are free text)."""
    if isinstance(body, dict) and "failedKeys" in body:
        failed = []
        for entry in body["failedKeys"]:
            error = entry["error"]
            assert set(error) == {"code", "message"}, entry
            assert error["message"], entry
            failed.append({**entry, "error": error["code"]})
        return {**body, "failedKeys": failed}
    return body


# -- the model -------------------------------------------------------------------------
@dataclass
class Rec:
    value: Any
    created: int
    updated: int
    expire: int | None


def iso(ms: int) -> str:
    moment = UNIX_EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def ttl_ms(options: Any) -> int | None:
    if not options or options.get("ttl") is None:
        return None
    units = {"SECONDS": 1, "MINUTES": 60, "HOURS": 3600, "DAYS": 86400}
    return options["ttl"]["value"] * units[options["ttl"]["unit"]] * 1000


def holds(cond: dict[str, Any], record: dict[str, Any] | None) -> bool:
    """One filter or transaction condition on a stored entity value (None: no record)."""
    prop, op, values = cond["property"], cond["condition"], cond.get("values", [])
    present = record is not None and prop in record
    if op == "NOT_EXISTS":
        return not present
    if not present:
        return False
    assert record is not None
    return compare(op, record[prop], values)


def compare(op: str, found: Any, values: list[Any]) -> bool:
    first = values[0] if values else None
    return {
        "EXISTS": lambda: True,
        "EQUAL_TO": lambda: found == first,
        "NOT_EQUAL_TO": lambda: found != first,
        "GREATER_THAN": lambda: found > first,
        "GREATER_THAN_EQUAL_TO": lambda: found >= first,
        "LESS_THAN": lambda: found < first,
        "LESS_THAN_EQUAL_TO": lambda: found <= first,
        "BETWEEN": lambda: values[0] <= found <= values[1],
        "BEGINS_WITH": lambda: found.startswith(first),
        "CONTAINS": lambda: first in found,
        "NOT_CONTAINS": lambda: first not in found,
    }[op]()


def passes(filters: dict[str, Any] | None, record: dict[str, Any]) -> bool:
    if filters is None:
        return True
    if "and" in filters:
        return all(holds(cond, record) for cond in filters["and"])
    return any(holds(cond, record) for cond in filters["or"])


class Model:
    """Forge storage as plain dicts. Expired records are simply skipped when read."""

    def __init__(self) -> None:
        self.now = START_MS
        self.spaces: dict[str, dict[str, Rec]] = {"kvs": {}, "secret": {}, ENTITY: {}}

    # -- helpers -------------------------------------------------------------------------
    def live(self, space: str, key: str) -> Rec | None:
        rec = self.spaces[space].get(key)
        if rec is None or (rec.expire is not None and self.now >= rec.expire):
            return None
        return rec

    def live_items(self, space: str) -> list[tuple[str, Rec]]:
        return [(k, r) for k in sorted(self.spaces[space]) if (r := self.live(space, k))]

    def snapshot(self) -> dict[str, Any]:
        """What ``ForgeStorage.snapshot()`` shows: live values, then their metadata."""
        state: dict[str, Any] = {}
        meta: dict[str, Any] = {}
        for section, space in (("kvs", "kvs"), ("secrets", "secret")):
            items = self.live_items(space)
            state[section] = {k: rec.value for k, rec in items}
            meta[section] = {k: self.times(rec) for k, rec in items}
        records = self.live_items(ENTITY)
        state["entities"] = {ENTITY: {k: rec.value for k, rec in records}} if records else {}
        meta["entities"] = {ENTITY: {k: self.times(r) for k, r in records}} if records else {}
        state["metadata"] = meta
        return state

    @staticmethod
    def times(rec: Rec) -> dict[str, Any]:
        out: dict[str, Any] = {"createdAt": rec.created, "updatedAt": rec.updated}
        if rec.expire is not None:
            out["expireTime"] = iso(rec.expire)
        return out

    @staticmethod
    def render(key: str, rec: Rec, fields: Any = (), entity: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"key": key, "value": copy.deepcopy(rec.value)}
        if entity is not None:
            out["entityName"] = entity
        for field in fields or ():
            if field == "CREATED_AT":
                out["createdAt"] = rec.created
            elif field == "UPDATED_AT":
                out["updatedAt"] = rec.updated
            elif field == "EXPIRE_TIME" and rec.expire is not None:
                out["expireTime"] = iso(rec.expire)
        return out

    @staticmethod
    def key_error(key: str, entity: bool) -> str | None:
        for bad, kvs_code, entity_code in BAD_KEYS:
            if key == bad:
                return entity_code if entity else kvs_code
        return None

    @staticmethod
    def value_error(space: str, value: Any) -> str | None:
        if space != ENTITY:
            return "BAD_REQUEST" if value is None else None
        if not isinstance(value, dict):
            return "INVALID_ENTITY_VALUE"
        for attr, item in value.items():
            kind = ATTRIBUTES.get(attr)
            ok = (
                (kind == "string" and isinstance(item, str) and item.strip() != "")
                or (kind == "integer" and type(item) is int)
                or (kind == "boolean" and isinstance(item, bool))
            )
            if not ok:
                return "INVALID_ENTITY_VALUE"
        return None

    def check_key(self, key: str, entity: bool) -> None:
        code = self.key_error(key, entity)
        if code is not None:
            raise Failure(code)

    def check_value(self, space: str, value: Any) -> None:
        code = self.value_error(space, value)
        if code is not None:
            raise Failure(code)

    def write(
        self, space: str, key: str, value: Any, expire_ms: int | None
    ) -> tuple[Rec | None, Rec]:
        previous = self.live(space, key)
        created = previous.created if previous is not None else self.now
        rec = Rec(copy.deepcopy(value), created, self.now, None)
        if expire_ms is not None:
            rec.expire = self.now + expire_ms
        self.spaces[space][key] = rec
        return previous, rec

    # -- single operations ---------------------------------------------------------------
    def get(self, space: str, key: str, options: Any, entity: str = ENTITY) -> Result:
        try:
            self.check_key(key, space == ENTITY)
            if space == ENTITY and entity != ENTITY:
                raise Failure("INVALID_ENTITY_TYPE")
        except Failure as exc:
            return Err(STATUS[exc.code], exc.code)
        rec = self.live(space, key)
        if rec is None:
            return Err(404, "KEY_NOT_FOUND")
        fields = (options or {}).get("metadataFields")
        return Ok(200, self.render(key, rec, fields, ENTITY if space == ENTITY else None))

    def set(self, space: str, key: str, value: Any, options: Any) -> Result:
        opts = options or {}
        policy, returned = opts.get("keyPolicy"), opts.get("returnValue")
        fields = opts.get("returnMetadataFields")
        combination = (policy == "FAIL_IF_EXISTS" and returned is not None) or (
            fields and not returned
        )
        error = fault(
            self.key_error(key, space == ENTITY),
            "INVALID_KEY_POLICY_RETURN_VALUE_COMBINATION" if combination else None,
            self.value_error(space, value),
            # REST's schema sees a non-object entity value first: 400 BAD_REQUEST there.
            "BAD_REQUEST" if space == ENTITY and not isinstance(value, dict) else None,
        )
        if error is not None:
            return error
        if policy == "FAIL_IF_EXISTS" and self.live(space, key) is not None:
            return Err(409, "KEY_CONFLICT")
        previous, rec = self.write(space, key, value, ttl_ms(opts))
        entity = ENTITY if space == ENTITY else None
        if returned == "LATEST":
            return Ok(200, self.render(key, rec, fields, entity))
        if returned == "PREVIOUS" and previous is not None:
            return Ok(200, self.render(key, previous, fields, entity))
        return Ok(204)

    def delete(self, space: str, key: str) -> Result:
        try:
            self.check_key(key, space == ENTITY)
        except Failure as exc:
            return Err(STATUS[exc.code], exc.code)
        if self.live(space, key) is None:
            return Err(404, "KEY_NOT_FOUND")
        del self.spaces[space][key]
        return Ok(204)

    def query(
        self, prefix: str, limit: int, after: str | None, fields: Any
    ) -> tuple[Result, str | None]:
        """A KVS page and the key the next page starts after (None: no next page)."""
        keys = [k for k, _ in self.live_items("kvs") if k.startswith(prefix)]
        if after is not None:
            keys = [k for k in keys if k > after]
        page, more = keys[:limit], len(keys) > limit
        data = [self.render(k, self.spaces["kvs"][k], fields) for k in page]
        body: dict[str, Any] = {"data": data}
        resume = page[-1] if more else None
        if resume is not None:
            body["cursor"] = "<cursor>"
        return Ok(200, body), resume

    def entity_query(
        self, query: dict[str, Any], after: tuple[Any, Any] | None
    ) -> tuple[Result, tuple[Any, Any] | None]:
        """An entity page (cut, then filtered) and the entry the next page starts after."""
        range_attr, partition = INDEX_SHAPES[query["indexName"]]
        condition = query.get("range")
        entries = []
        for key, rec in self.live_items(ENTITY):
            value = rec.value
            if range_attr is None:
                position = key
            elif range_attr in value and all(attr in value for attr in partition):
                position = value[range_attr]
            else:
                continue
            if [value[attr] for attr in partition] != query.get("partition", []):
                continue
            if condition and not compare(condition["condition"], position, condition["values"]):
                continue
            entries.append((position, key))
        descending = query.get("sort") == "DESC"
        entries.sort(reverse=descending)
        if after is not None:
            entries = [e for e in entries if (e < after if descending else e > after)]
        limit = query.get("limit", 10)
        page, more = entries[:limit], len(entries) > limit
        fields = query.get("options", {}).get("metadataFields")
        records = self.spaces[ENTITY]
        data = [
            self.render(key, records[key], fields)
            for _, key in page
            if passes(query.get("filters"), records[key].value)
        ]
        body: dict[str, Any] = {"data": data}
        resume = page[-1] if more else None
        if resume is not None:
            body["cursor"] = "<cursor>"
        return Ok(200, body), resume

    # -- batch ---------------------------------------------------------------------------
    @staticmethod
    def _space(item: dict[str, Any]) -> str:
        return ENTITY if "entityName" in item else "kvs"

    def batch(self, operation: str, items: list[dict[str, Any]]) -> Result:
        idents = [(item["key"], item.get("entityName")) for item in items]
        if len(set(idents)) != len(idents):
            return Err(400, "BAD_REQUEST")
        successful, failed = [], []
        for item in items:
            space, key = self._space(item), item["key"]
            ref = {"key": key, **({"entityName": ENTITY} if space == ENTITY else {})}
            try:
                self.check_key(key, space == ENTITY)
                if operation == "set":
                    self.check_value(space, item["value"])
                    self.write(space, key, item["value"], ttl_ms(item.get("options")))
                    successful.append(ref)
                    continue
                rec = self.live(space, key)
                if rec is None:
                    raise Failure("KEY_NOT_FOUND")
                if operation == "get":
                    fields = item.get("options", {}).get("metadataFields")
                    entity = ENTITY if space == ENTITY else None
                    successful.append(self.render(key, rec, fields, entity))
                else:
                    del self.spaces[space][key]
                    successful.append(ref)
            except Failure as exc:
                failed.append({**ref, "error": exc.code})
        return Ok(200, {"successfulKeys": successful, "failedKeys": failed})

    # -- transaction ---------------------------------------------------------------------
    def transaction(self, body: dict[str, Any]) -> Result:
        ops = [
            (group, item) for group in ("set", "delete", "check") for item in body.get(group, [])
        ]
        idents = [(item["key"], item.get("entityName")) for _, item in ops]
        if not ops or len(set(idents)) != len(idents):
            return Err(400, "INVALID_TRANSACTION_REQUEST")
        error = fault(
            *(self.key_error(item["key"], "entityName" in item) for _, item in ops),
            *(self.value_error(self._space(item), item["value"]) for g, item in ops if g == "set"),
        )
        if error is not None:
            return error
        try:
            for _, item in ops:
                if "conditions" in item:
                    record = self.live(ENTITY, item["key"])
                    if not passes(item["conditions"], record.value if record else None):
                        raise Failure("CONDITIONAL_CHECK_FAILED")
        except Failure as exc:
            return Err(STATUS[exc.code], exc.code)
        for group, item in ops:
            space, key = self._space(item), item["key"]
            if group == "set":
                self.write(space, key, item["value"], ttl_ms(item.get("options")))
            elif group == "delete" and self.live(space, key) is not None:
                del self.spaces[space][key]
        return Ok(204)


# -- doors -----------------------------------------------------------------------------
class EngineDoor:
    """Calls the engine's methods with the REST body's fields."""

    def __init__(self) -> None:
        self.engine = Engine()
        self.engine.define_entity(ENTITY, ATTRIBUTES, INDEXES)
        self.installation = "default"

    def use(self, installation: str, issued: bool) -> None:
        """Send the next requests to ``installation``'s partition (``issued``: REST only)."""
        self.installation = installation

    def call(self, operation: str, body: Any) -> Result:
        try:
            status, out = self._run(operation, copy.deepcopy(body))
        except ForgeStorageError as exc:
            if not exc.message:
                raise AssertionError(f"{operation}: {exc.code} without a message") from exc
            return Err(exc.status, exc.code)
        return Ok(status, normalise(out))

    def _run(self, operation: str, body: Any) -> tuple[int, Any]:
        engine = self.engine.partition(self.installation)
        secret = operation.startswith("secret/")
        op = operation.removeprefix("secret/")
        if operation in ("get", "secret/get"):
            return 200, engine.get(body["key"], secret=secret, options=body.get("options"))
        if operation in ("set", "secret/set"):
            out = engine.set(body["key"], body["value"], secret=secret, options=body.get("options"))
            return (200, out) if out is not None else (204, None)
        if op == "delete":
            engine.delete(body["key"], secret=secret)
            return 204, None
        if operation == "query":
            return 200, engine.query(
                where=body.get("where"),
                limit=body.get("limit"),
                after=body.get("after"),
                options=body.get("options"),
            )
        if operation == "entity/get":
            return 200, engine.entity_get(
                body["entityName"], body["key"], options=body.get("options")
            )
        if operation == "entity/set":
            out = engine.entity_set(
                body["entityName"], body["key"], body["value"], options=body.get("options")
            )
            return (200, out) if out is not None else (204, None)
        if operation == "entity/delete":
            engine.entity_delete(body["entityName"], body["key"])
            return 204, None
        if operation == "entity/query":
            return 200, engine.entity_query(body)
        if operation == "batch/set":
            return 200, engine.batch_set(body)
        if operation == "batch/get":
            return 200, engine.batch_get(body)
        if operation == "batch/delete":
            return 200, engine.batch_delete(body)
        assert operation == "transaction", operation
        engine.transaction(body)
        return 204, None

    def state(self) -> dict[str, Any]:
        """Every installation's snapshot, by installation."""
        return {key: snapshot(self.engine.partition(key)) for key in INSTALLATIONS}

    def roundtrip(self) -> None:
        self.engine.restore(self.engine.snapshot())


class RestDoor:
    """Sends each body as an HTTP request to ``ForgeStorage().handle``."""

    URL = "https://api.atlassian.com/forge/storage/kvs/v1/"
    HEADERS: ClassVar[dict[str, str]] = {
        "authorization": "Bearer model",
        "content-type": "application/json",
    }

    def __init__(self) -> None:
        self.storage = ForgeStorage()
        self.storage.define_entity(ENTITY, ATTRIBUTES, INDEXES)
        for key in INSTALLATIONS:
            self.storage.installation(key)
        self.installation = "default"
        self.issued = False

    def use(self, installation: str, issued: bool) -> None:
        """Send the next requests with ``installation``'s token; for the default installation
        without ``issued``, a token the fake did not issue (as 0.1 suites send)."""
        self.installation = installation
        self.issued = issued or installation != "default"

    def call(self, operation: str, body: Any) -> Result:
        raw = json.dumps(body).encode()
        headers = self.HEADERS
        if self.issued:
            token = self.storage.installation(self.installation).token  # fresh once expired
            headers = {**headers, "authorization": f"Bearer {token}"}
        response = self.storage.handle(HttpRequest("POST", self.URL + operation, headers, raw))
        assert isinstance(response, HttpResponse), response
        decoded = json.loads(response.body) if response.body else None
        if response.status >= 400:
            assert isinstance(decoded, dict), decoded
            assert set(decoded) == {"code", "message"}, decoded
            assert decoded["message"], decoded
            return Err(response.status, decoded["code"])
        if response.status == 204:
            assert response.body == b"", response.body
        return Ok(response.status, normalise(decoded))

    def state(self) -> dict[str, Any]:
        """Every installation's part of ``snapshot()``, checked against its mapping views."""
        snapshot = self.storage.snapshot()
        parts = snapshot.pop("installations")
        states = {"default": snapshot}
        for key in INSTALLATIONS[1:]:
            details = {"product": "jira", "environment": "production"}
            states[key] = {k: v for k, v in parts[key].items() if k not in (*details, "cloudId")}
            assert {k: parts[key][k] for k in details} == details, parts[key]
        for key, state in states.items():
            scope = self.storage.installation(key)
            views = {"kvs": dict(scope.kvs), "secrets": dict(scope.secrets)}
            views["entities"] = {ENTITY: dict(scope.entity(ENTITY))}
            if not views["entities"][ENTITY]:
                views["entities"] = {}
            assert views == {k: state[k] for k in views}, f"{key}: the views disagree"
        return states

    def roundtrip(self) -> None:
        self.storage.restore(self.storage.snapshot())


# -- strategies ------------------------------------------------------------------------
def keys(bad: bool = True) -> st.SearchStrategy[str]:
    """Mostly good keys (a small pool, so that writes collide); 1 in 20 breaks a rule."""
    if not bad:
        return st.sampled_from(KEYS)
    pool = [k for k, _, _ in BAD_KEYS]
    return st.integers(0, 79).map(lambda n: pool[n - 76] if n >= 76 else KEYS[n % len(KEYS)])


stored_values = st.one_of(
    st.integers(-3, 3),
    st.text(alphabet="ab ", max_size=3),
    st.booleans(),
    st.lists(st.integers(0, 2), max_size=2),
    st.fixed_dictionaries({"n": st.integers(0, 3)}),
)
#: 1 in 16 is ``null``: 400 BAD_REQUEST.
kvs_values = st.integers(0, 15).flatmap(lambda n: st.none() if n == 15 else stored_values)
good_records = st.fixed_dictionaries(
    {},
    optional={"name": st.sampled_from(NAMES), "score": SCORES, "active": st.booleans()},
)
bad_records = st.sampled_from(
    [
        {"score": "1"},
        {"score": True},
        {"name": " "},
        {"name": 3},
        {"other": 1},
        {"active": 0},
        5,
        [1],
    ]
)
records = st.integers(0, 9).flatmap(lambda n: bad_records if n == 9 else good_records)
metadata = st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)
get_options = st.one_of(
    st.none(), st.just({}), st.builds(lambda f: {"metadataFields": f}, metadata)
)


@st.composite
def set_options(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.integers(0, 3)) == 0:
        return None
    options: dict[str, Any] = {}
    if draw(st.booleans()):
        options["ttl"] = draw(st.sampled_from(TTLS))
    policy = draw(st.sampled_from([None, None, "OVERRIDE", "FAIL_IF_EXISTS"]))
    if policy is not None:
        options["keyPolicy"] = policy
    returned = draw(st.sampled_from([None, None, "PREVIOUS", "LATEST"]))
    if returned is not None:
        options["returnValue"] = returned
    if draw(st.integers(0, 3)) == 0:
        options["returnMetadataFields"] = draw(metadata)
    return options


ttl_options = st.one_of(st.none(), st.builds(lambda t: {"ttl": t}, st.sampled_from(TTLS)))


RANGE_OPS = [
    "BEGINS_WITH",
    "BETWEEN",
    "EQUAL_TO",
    "GREATER_THAN",
    "GREATER_THAN_EQUAL_TO",
    "LESS_THAN",
    "LESS_THAN_EQUAL_TO",
]


@st.composite
def ranges(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A range condition on a string (the key, ``name``) or integer (``score``) range."""
    if kind == "integer":
        operator = draw(st.sampled_from(RANGE_OPS[1:]))
        value: st.SearchStrategy[Any] = SCORES
    else:
        operator = draw(st.sampled_from(RANGE_OPS))
        value = st.sampled_from(["", "a", "ab", "ab:", "b", "b 2", "ba", "c", "c a", "z"])
    count = 2 if operator == "BETWEEN" else 1
    return {"condition": operator, "values": [draw(value) for _ in range(count)]}


def _cond(prop: str, condition: str, values: list[Any]) -> dict[str, Any]:
    return {"property": prop, "condition": condition, "values": values}


filter_conditions = st.one_of(
    st.builds(lambda b: _cond("active", "EQUAL_TO", [b]), st.booleans()),
    st.builds(lambda n: _cond("score", "GREATER_THAN", [n]), SCORES),
    st.builds(lambda n: _cond("score", "NOT_EQUAL_TO", [n]), SCORES),
    st.builds(lambda n: _cond("score", "LESS_THAN_EQUAL_TO", [n]), SCORES),
    st.builds(lambda a, b: _cond("score", "BETWEEN", [a, b]), SCORES, SCORES),
    st.builds(lambda s: _cond("name", "BEGINS_WITH", [s]), st.sampled_from(["a", "b", "c"])),
    st.builds(lambda s: _cond("name", "CONTAINS", [s]), st.sampled_from(["a", " ", "b"])),
    st.builds(lambda s: _cond("name", "NOT_CONTAINS", [s]), st.sampled_from(["a", "b"])),
    st.builds(lambda p: _cond(p, "EXISTS", [True]), st.sampled_from(["score", "name"])),
    st.builds(lambda p: _cond(p, "NOT_EXISTS", [True]), st.sampled_from(["score", "active"])),
)
filters = st.one_of(
    st.none(),
    st.builds(
        lambda op, conds: {op: conds},
        st.sampled_from(["and", "or"]),
        st.lists(filter_conditions, min_size=1, max_size=3),
    ),
)


@st.composite
def entity_queries(draw: st.DrawFn) -> dict[str, Any]:
    index = draw(st.sampled_from(list(INDEX_SHAPES)))
    query: dict[str, Any] = {"entityName": ENTITY, "indexName": index}
    if index == PARTITIONED:
        query["partition"] = [draw(st.booleans())]
    if draw(st.booleans()):
        query["range"] = draw(ranges("integer" if index == "score" else "string"))
    found = draw(filters)
    if found is not None:
        query["filters"] = found
    sort = draw(st.sampled_from([None, "ASC", "DESC"]))
    if sort is not None:
        query["sort"] = sort
    if draw(st.booleans()):
        query["options"] = {"metadataFields": draw(metadata)}
    return query


def kvs_where(prefix: str) -> list[dict[str, Any]] | None:
    if prefix == "":
        return None
    return [{"property": "key", "condition": "BEGINS_WITH", "values": [prefix]}]


@st.composite
def batch_items(draw: st.DrawFn, operation: str) -> list[dict[str, Any]]:
    items = []
    for _ in range(draw(st.integers(1, 4))):
        item: dict[str, Any] = {"key": draw(keys())}
        entity = draw(st.booleans())
        if entity:
            item["entityName"] = ENTITY
        if operation == "set":
            item["value"] = draw(records if entity else stored_values)
            ttl = draw(ttl_options)
            if ttl is not None:
                item["options"] = ttl
        elif operation == "get":
            options = draw(get_options)
            if options:
                item["options"] = options
        items.append(item)
    return items


tx_conditions = st.builds(
    lambda op, conds: {op: conds},
    st.sampled_from(["and", "and", "or"]),
    st.lists(
        st.one_of(
            st.builds(lambda n: _cond("score", "EQUAL_TO", [n]), SCORES),
            st.builds(lambda s: _cond("name", "EQUAL_TO", [s]), st.sampled_from(NAMES)),
            st.builds(lambda b: _cond("active", "EQUAL_TO", [b]), st.booleans()),
            st.builds(lambda p: _cond(p, "NOT_EXISTS", [True]), st.sampled_from(["score", "name"])),
        ),
        min_size=1,
        max_size=2,
    ),
)


@st.composite
def transactions(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, list[dict[str, Any]]] = {}
    for group in ("set", "delete", "check"):
        items = []
        for _ in range(draw(st.integers(0, 2))):
            item: dict[str, Any] = {"key": draw(keys())}
            entity = group == "check" or draw(st.booleans())
            if entity:
                item["entityName"] = ENTITY
            if group == "set":
                item["value"] = draw(records if entity else stored_values)
                ttl = draw(ttl_options)
                if ttl is not None:
                    item["options"] = ttl
            if entity and (group == "check" or draw(st.booleans())):
                item["conditions"] = draw(tx_conditions)
            items.append(item)
        if items:
            body[group] = items
    return body


# -- the machine -----------------------------------------------------------------------
class EngineMachine(RuleBasedStateMachine):
    """Every rule sends one request (or a walk of pages) to the door and to the model."""

    door_class: type[EngineDoor] | type[RestDoor] = EngineDoor

    def __init__(self) -> None:
        super().__init__()
        self.models = {key: Model() for key in INSTALLATIONS}
        #: The installation the next requests are for.
        self.installation = "default"
        self.door = self.door_class()
        self.clock = time_machine.travel(START, tick=False)
        self.traveller = self.clock.start()
        #: An open KVS walk: (prefix, cursor sent by the door, last key the model saw).
        self.kvs_walk: tuple[str, str, str] | None = None
        #: An open entity walk: (query, cursor, last (range value, key) the model saw).
        self.entity_walk: tuple[dict[str, Any], str, tuple[Any, Any]] | None = None

    def teardown(self) -> None:
        self.clock.stop()

    @property
    def model(self) -> Model:
        """The model of the installation the next requests are for."""
        return self.models[self.installation]

    @rule(installation=st.sampled_from(INSTALLATIONS), issued=st.booleans())
    def switch(self, installation: str, issued: bool) -> None:
        """The next requests are for ``installation`` (its partition, its token)."""
        self.installation = installation
        self.door.use(installation, issued)

    @initialize(
        values=st.dictionaries(keys(bad=False), stored_values),
        secrets=st.dictionaries(keys(bad=False), stored_values, max_size=3),
        records=st.dictionaries(keys(bad=False), good_records, min_size=2),
        ttl=st.sampled_from([None, *TTLS]),
    )
    def seed(self, values: Any, secrets: Any, records: Any, ttl: Any) -> None:
        """Start from a populated store, so that queries and conditions have work to do."""
        options = None if ttl is None else {"ttl": ttl}
        for key, value in values.items():
            self.write(False, key, value, options)
        for key, value in secrets.items():
            self.write(True, key, value, None)
        for key, record in records.items():
            self.entity_set(key, record, options if len(key) % 2 else None)

    @initialize(values=st.dictionaries(keys(bad=False), stored_values, min_size=1))
    def seed_another_installation(self, values: Any) -> None:
        """The same keys, other values, in another installation."""
        self.switch("site-a", True)
        for key, value in values.items():
            self.write(False, key, {"site-a": value}, None)
        self.switch("default", False)

    def check(self, operation: str, body: Any, expected: Result) -> Result:
        got = self.door.call(operation, body)
        assert matches(got, expected), (
            f"{operation} {body!r}:\n  door:  {got!r}\n  model: {expected!r}"
        )
        return got

    # -- KVS and secrets -----------------------------------------------------------------
    def write(self, secret: bool, key: str, value: Any, options: Any) -> None:
        body: dict[str, Any] = {"key": key, "value": value}
        if options is not None:
            body["options"] = options
        expected = self.model.set("secret" if secret else "kvs", key, value, options)
        self.check("secret/set" if secret else "set", body, expected)

    def read(self, secret: bool, key: str, options: Any) -> None:
        body: dict[str, Any] = {"key": key}
        if options is not None:
            body["options"] = options
        expected = self.model.get("secret" if secret else "kvs", key, options)
        self.check("secret/get" if secret else "get", body, expected)

    def remove(self, secret: bool, key: str) -> None:
        expected = self.model.delete("secret" if secret else "kvs", key)
        self.check("secret/delete" if secret else "delete", {"key": key}, expected)

    @rule(key=keys(), value=kvs_values, options=set_options())
    def kvs_set(self, key: str, value: Any, options: Any) -> None:
        self.write(False, key, value, options)

    @rule(key=keys(), options=get_options)
    def kvs_get(self, key: str, options: Any) -> None:
        self.read(False, key, options)

    @rule(key=keys())
    def kvs_delete(self, key: str) -> None:
        self.remove(False, key)

    @rule(key=keys(), value=kvs_values, options=set_options())
    def secret_set(self, key: str, value: Any, options: Any) -> None:
        self.write(True, key, value, options)

    @rule(key=keys(), options=get_options)
    def secret_get(self, key: str, options: Any) -> None:
        self.read(True, key, options)

    @rule(key=keys())
    def secret_delete(self, key: str) -> None:
        self.remove(True, key)

    @rule(
        prefix=st.sampled_from(PREFIXES),
        limits=st.lists(st.integers(1, 4), min_size=1, max_size=4),
        fields=st.one_of(st.none(), metadata),
    )
    def query_walk(self, prefix: str, limits: list[int], fields: Any) -> None:
        """A whole walk through a prefix, page by page with varying limits."""
        cursor: str | None = None
        after: str | None = None
        walked: list[str] = []
        for page_number in range(len(KEYS) + 2):
            limit = limits[page_number % len(limits)]
            body = self._query_body(prefix, limit, cursor, fields)
            expected, after = self.model.query(prefix, limit, after, fields)
            got = self._check_page("query", body, expected)
            walked += [item["key"] for item in got.body["data"]]
            cursor = got.body.get("cursor")
            if cursor is None:
                break
        else:
            raise AssertionError(f"the walk of {prefix!r} did not end")
        live = [k for k, _ in self.model.live_items("kvs") if k.startswith(prefix)]
        assert walked == live

    @rule(fresh=st.booleans(), prefix=st.sampled_from(PREFIXES), limit=st.integers(1, 3))
    def query_page(self, fresh: bool, prefix: str, limit: int) -> None:
        """One page; continues the open walk (with writes since the last page) if any."""
        cursor = after = None
        if self.kvs_walk is not None and not fresh:
            prefix, cursor, after = self.kvs_walk
        body = self._query_body(prefix, limit, cursor, None)
        expected, resume = self.model.query(prefix, limit, after, None)
        got = self._check_page("query", body, expected)
        self.kvs_walk = None if resume is None else (prefix, got.body["cursor"], resume)

    @staticmethod
    def _query_body(prefix: str, limit: int, cursor: str | None, fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"limit": limit}
        where = kvs_where(prefix)
        if where is not None:
            body["where"] = where
        if cursor is not None:
            body["after"] = cursor
        if fields is not None:
            body["options"] = {"metadataFields": fields}
        return body

    def _check_page(self, operation: str, body: Any, expected: Result) -> Ok:
        got = self.door.call(operation, body)
        assert isinstance(got, Ok), f"{operation} {body!r}: {got!r}"
        assert isinstance(expected, Ok)
        shown = dict(got.body)
        if "cursor" in shown:
            assert isinstance(shown["cursor"], str), shown
            assert shown["cursor"], shown
            shown["cursor"] = "<cursor>"
        assert (got.status, shown) == (expected.status, expected.body), (
            f"{operation} {body!r}:\n  door:  {got!r}\n  model: {expected!r}"
        )
        return got

    # -- entity records ------------------------------------------------------------------
    @rule(key=keys(), value=records, options=set_options())
    def entity_set(self, key: str, value: Any, options: Any) -> None:
        body: dict[str, Any] = {"entityName": ENTITY, "key": key, "value": value}
        if options is not None:
            body["options"] = options
        self.check("entity/set", body, self.model.set(ENTITY, key, value, options))

    @rule(key=keys(), options=get_options, entity=st.sampled_from([ENTITY] * 5 + ["nope"]))
    def entity_get(self, key: str, options: Any, entity: str) -> None:
        body: dict[str, Any] = {"entityName": entity, "key": key}
        if options is not None:
            body["options"] = options
        self.check("entity/get", body, self.model.get(ENTITY, key, options, entity))

    @rule(key=keys())
    def entity_delete(self, key: str) -> None:
        body = {"entityName": ENTITY, "key": key}
        self.check("entity/delete", body, self.model.delete(ENTITY, key))

    @rule(query=entity_queries(), limits=st.lists(st.integers(1, 4), min_size=1, max_size=4))
    def entity_walk_whole(self, query: dict[str, Any], limits: list[int]) -> None:
        """A whole walk of an index range; every in-range record is met once, in order."""
        cursor: str | None = None
        after: tuple[Any, Any] | None = None
        pages = 0
        for pages in range(len(KEYS) + 2):
            body = {**query, "limit": limits[pages % len(limits)]}
            if cursor is not None:
                body["cursor"] = cursor
            expected, after = self.model.entity_query(body, after)
            got = self._check_page("entity/query", body, expected)
            cursor = got.body.get("cursor")
            if cursor is None:
                break
        else:
            raise AssertionError(f"the walk of {query!r} did not end")

    @rule(fresh=st.booleans(), query=entity_queries(), limit=st.integers(1, 3))
    def entity_page(self, fresh: bool, query: dict[str, Any], limit: int) -> None:
        """One page; continues the open walk (same query, writes in between) if any."""
        cursor = None
        after: tuple[Any, Any] | None = None
        body = {**query, "limit": limit}
        if self.entity_walk is not None and not fresh:
            body, cursor, after = self.entity_walk
            body = {**body, "cursor": cursor}
        expected, resume = self.model.entity_query(body, after)
        got = self._check_page("entity/query", body, expected)
        body.pop("cursor", None)
        self.entity_walk = None if resume is None else (body, got.body["cursor"], resume)

    # -- batch and transactions ----------------------------------------------------------
    @rule(items=batch_items("set"))
    def batch_set(self, items: list[dict[str, Any]]) -> None:
        self.check("batch/set", items, self.model.batch("set", items))

    @rule(items=batch_items("get"))
    def batch_get(self, items: list[dict[str, Any]]) -> None:
        self.check("batch/get", items, self.model.batch("get", items))

    @rule(items=batch_items("delete"))
    def batch_delete(self, items: list[dict[str, Any]]) -> None:
        self.check("batch/delete", items, self.model.batch("delete", items))

    @rule(body=transactions())
    def transaction(self, body: dict[str, Any]) -> None:
        self.check("transaction", body, self.model.transaction(body))

    # -- time ----------------------------------------------------------------------------
    @rule(ms=st.sampled_from(ADVANCES))
    def advance(self, ms: int) -> None:
        self.clock_shift(ms)

    def clock_shift(self, ms: int) -> None:
        for model in self.models.values():
            model.now += ms
        self.traveller.shift(ms / 1000)

    # -- whole state ---------------------------------------------------------------------
    @invariant()
    def same_state(self) -> None:
        """Everything stored in every installation, metadata included, as ``snapshot()``
        shows it."""
        got = self.door.state()
        expected = {key: model.snapshot() for key, model in self.models.items()}
        assert got == expected, f"stored state:\n  door:  {got!r}\n  model: {expected!r}"

    @rule()
    def snapshot_roundtrip(self) -> None:
        """``restore(snapshot())`` changes nothing, metadata and expiry included."""
        self.door.roundtrip()


class RestMachine(EngineMachine):
    door_class = RestDoor


def _settings(examples: int, steps: int) -> settings:
    hunting = "FORGE_MODEL_EXAMPLES" in os.environ
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        derandomize=not hunting,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


#: CI: 200 examples of up to 50 steps through the engine, 60 of up to 40 through REST.
EXAMPLES = int(os.environ.get("FORGE_MODEL_EXAMPLES", "200"))
STEPS = int(os.environ.get("FORGE_MODEL_STEPS", "50"))

TestEngineModel = EngineMachine.TestCase
TestEngineModel.settings = _settings(EXAMPLES, STEPS)
TestRestModel = RestMachine.TestCase
TestRestModel.settings = _settings(max(EXAMPLES * 3 // 10, 10), max(STEPS * 4 // 5, 10))


def test_model_rejects_what_it_should() -> None:
    """The model's own sanity: a few hand-written cases with known answers."""
    model = Model()
    assert model.set("kvs", "a", 1, {"keyPolicy": "FAIL_IF_EXISTS"}) == Ok(204)
    assert model.set("kvs", "a", 2, {"keyPolicy": "FAIL_IF_EXISTS"}) == Err(409, "KEY_CONFLICT")
    assert model.set("kvs", "a", 3, {"returnValue": "PREVIOUS"}).body["value"] == 1  # type: ignore[union-attr]
    assert model.get("secret", "a", None) == Err(404, "KEY_NOT_FOUND")
    assert model.set(ENTITY, "", {}, None) == Err(400, "EMPTY_KEY")
    model.set("kvs", "t", 1, {"ttl": {"value": 1, "unit": "SECONDS"}})
    model.now += 1000
    assert model.get("kvs", "t", None) == Err(404, "KEY_NOT_FOUND")


@pytest.mark.parametrize("machine", [EngineMachine, RestMachine])
def test_a_scripted_run_matches(machine: type[EngineMachine]) -> None:
    """One fixed sequence through each door, so a broken door fails with a short story."""
    state = machine()
    try:
        state.entity_set("a", {"name": "ab", "score": 1, "active": True}, None)
        state.entity_set("b", {"name": "b", "score": 1, "active": True}, {"ttl": TTLS[0]})
        state.kvs_set("ab", {"n": 1}, {"returnValue": "LATEST", "returnMetadataFields": FIELDS})
        state.query_walk("a", [1], FIELDS)
        query = {"entityName": ENTITY, "indexName": PARTITIONED, "partition": [True]}
        state.entity_walk_whole(
            {**query, "filters": {"and": [_cond("score", "EQUAL_TO", [1])]}}, [1]
        )
        state.transaction(
            {
                "check": [
                    {
                        "key": "a",
                        "entityName": ENTITY,
                        "conditions": {"and": [_cond("score", "EQUAL_TO", [2])]},
                    }
                ]
            }
        )
        state.advance(1000)
        state.entity_walk_whole(query, [1, 2])
        state.batch_get([{"key": "b", "entityName": ENTITY}, {"key": "ab"}])
        state.same_state()
        state.switch("site-b", True)  # the same keys, another partition
        state.kvs_get("ab", None)
        state.entity_walk_whole(query, [1])
        state.kvs_set("ab", {"n": 2}, None)
        state.switch("default", True)
        state.kvs_get("ab", None)
        state.same_state()
    finally:
        state.teardown()
