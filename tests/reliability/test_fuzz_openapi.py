"""Spec fuzzing: schemathesis sends generated requests for every operation of the bundled spec.

Every one of the 15 operations of ``pytest_forge_storage/spec/openapi.json`` is fuzzed through
two doors: the HTTP server (``ForgeStorageServer``) and in-process, through ``requests`` and the
``forge_storage`` fixture. Schemathesis runs its examples and fuzzing phases (and, on the
server, its coverage phase) in positive and negative mode: valid bodies, bodies with wrong
types, missing and extra fields, values at and beyond every bound, odd Unicode, other HTTP
methods; its auth checks repeat requests without the token and with another one. Every answer
must satisfy:

* no 5xx (``not_a_server_error``);
* a status the spec documents for the operation (``status_code_conformance``);
* a body matching the documented schema and content type (``response_schema_conformance``,
  ``content_type_conformance``);
* invalid bodies rejected (``negative_data_rejection``; for batches, see ``_BATCH_OPERATIONS``);
* auth enforced (``ignored_auth``: only the fuzz token is accepted);
* every error body exactly ``{"code", "message"}`` (checked here).

The run is reproducible: a fixed seed, ``deterministic`` generation and no example database.
``FORGE_FUZZ_EXAMPLES`` (default 25) sets the fuzzing phase's examples per operation and
``FORGE_FUZZ_SEED`` the seed; see docs/reliability.md. The terminal summary reports how many
examples were sent.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from pytest_forge_storage import ForgeStorageError  # noqa: E402
from pytest_forge_storage.protocol.openapi import SPEC_PATH, documented_statuses  # noqa: E402
from pytest_forge_storage.server import ForgeStorageServer  # noqa: E402

EXAMPLES = int(os.environ.get("FORGE_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("FORGE_FUZZ_SEED", "20240611"))
TOKEN = "fuzz-token"
#: The spec's server is https://api.atlassian.com/forge/storage/kvs; paths are /v1/<op>.
BASE_PATH = "/forge/storage/kvs"
SPEC_SERVER = "https://api.atlassian.com" + BASE_PATH
ENTITY = "fuzz-entity"
#: Per-item key and entity-name violations in a batch are answered 200 with the item in
#: ``failedKeys`` (decision 10), not with a 400 for the whole batch.
_BATCH_OPERATIONS = ("batch/set", "batch/get", "batch/delete")
schemathesis.checks.load_all_checks()
_NEGATIVE_DATA_REJECTION = schemathesis.checks.CHECKS.get_one("negative_data_rejection")


def _config(base_url: str | None = None, *, coverage: bool = True) -> Any:
    extra = {"base-url": base_url} if base_url else {}
    return schemathesis.Config.from_dict(
        {
            **extra,
            "seed": SEED,
            # the spec's security scheme: the auth checks know what to take away
            "auth": {"openapi": {"bearer": {"bearer": TOKEN}}},
            "suppress-health-check": ["all"],
            "generation": {
                "mode": "all",
                "max-examples": EXAMPLES,
                "deterministic": True,
                "database": "none",
                # negative bodies, not negative credentials: ignored_auth checks those
                "with-security-parameters": False,
            },
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": coverage},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            # Schema-valid bodies can still be Forge errors (a missing key, an undeclared
            # entity, a TTL over a year): the spec cannot say which, so 4xx is no failure.
            "checks": {"positive_data_acceptance": {"enabled": False}},
            "operations": [
                # Drawing a transaction body costs ~50x a get body: a third of the examples
                {
                    "include-path": "/v1/transaction",
                    "generation": {"max-examples": max(1, EXAMPLES // 3)},
                },
            ],
        }
    )


server_schema = schemathesis.openapi.from_path(SPEC_PATH, config=_config())
#: In-process: the coverage phase is the same through every door, and the other HTTP methods it
#: sends (TRACE, QUERY) are not intercepted by ``responses``: they would leave the process.
in_process_schema = schemathesis.openapi.from_path(
    SPEC_PATH, config=_config(SPEC_SERVER, coverage=False)
)


def _prepared(storage: Any) -> Any:
    storage.allowed_tokens = {TOKEN}
    storage.define_entity(ENTITY, {"name": "string", "age": "integer"}, ["age"])
    for i in range(12):
        storage.kvs[f"seed-{i:02d}"] = {"n": i}
    return storage


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[ForgeStorageServer]:
    with ForgeStorageServer(log=lambda _line: None) as server:
        _prepared(server.storage)
        yield server


@server_schema.parametrize()
def test_fuzz_through_the_server(case: Any, fuzz_server: Any, fuzz_tally: Any) -> None:
    _prime(fuzz_server.storage, case)
    response = case.call(base_url=fuzz_server.url + BASE_PATH)
    _check(case, response, fuzz_tally, "server")


@in_process_schema.parametrize()
def test_fuzz_in_process(case: Any, forge_storage: Any, fuzz_tally: Any) -> None:
    if not forge_storage.allowed_tokens:  # the same store for every example of an operation
        _prepared(forge_storage)
    _prime(forge_storage, case)
    response = case.call()  # to the spec's server URL, which the fixture intercepts
    _check(case, response, fuzz_tally, "in-process")


def _operation(case: Any) -> str:
    return str(case.operation.path).removeprefix("/v1/")


def _prime(storage: Any, case: Any) -> None:
    """Store half of what positive get/delete bodies name, so that 200s are fuzzed too."""
    body = case.body
    if case.method.upper() != "POST" or not isinstance(body, (dict, list)):
        return
    operation = _operation(case)
    if not (case.meta and case.meta.generation.mode.value == "positive"):
        return
    if zlib.crc32(json.dumps(body, sort_keys=True, default=str).encode()) % 2:
        return
    items = body if isinstance(body, list) else [body]
    for item in items:
        key = item.get("key") if isinstance(item, dict) else None
        if not isinstance(key, str):
            continue
        try:
            if operation.startswith("entity/") and isinstance(body, dict):
                if operation in ("entity/get", "entity/delete"):
                    body["entityName"] = ENTITY
                    storage.entity(ENTITY)[key] = {"name": "fuzz", "age": 1}
            elif operation.startswith("secret/"):
                storage.secrets[key] = {"fuzz": key}
            elif not operation.startswith("transaction"):
                storage.kvs[key] = {"fuzz": key}
        except ForgeStorageError:  # a key the store refuses: nothing to prime
            continue


def _accepted_negative(case: Any) -> bool:
    """Negative cases the fake accepts on purpose, so ``negative_data_rejection`` is skipped.

    * A JSON body labelled with another (or a malformed) ``Content-Type``: the fake judges the
      body, not the label (docs/reliability.md, "Content types").
    * A batch whose only violations are items' keys or entity names: those items fail in
      ``failedKeys`` with their own codes and the batch answers 200 (decision 10); checked
      in :func:`_check` instead.
    """
    return not _labelled_json(case) or _operation(case) in _BATCH_OPERATIONS


def _labelled_json(case: Any) -> bool:
    content_type = (case.headers or {}).get("Content-Type")
    return content_type is None or content_type.startswith("application/json")


def _check(case: Any, response: Any, tally: Any, door: str) -> None:
    excluded = [_NEGATIVE_DATA_REJECTION] if _accepted_negative(case) else []
    case.validate_response(response, excluded_checks=excluded)
    operation = _operation(case)
    meta = case.meta
    phase = meta.phase.name.value if meta else "explicit"
    mode = meta.generation.mode.value if meta else "positive"
    tally.add(door, operation, phase, mode, response.status_code)
    if case.method.upper() != "POST":
        assert response.status_code in (401, 405), response.text
        return
    status = response.status_code
    assert status < 500, response.text
    assert status in documented_statuses(operation), (status, response.text)
    if status >= 400:
        body = json.loads(response.content)
        assert isinstance(body, dict), response.text
        assert set(body) == {"code", "message"}, response.text
        assert isinstance(body["code"], str), response.text
        assert isinstance(body["message"], str), response.text
        assert body["code"], response.text
        assert body["message"], response.text
        assert body["code"] != "INTERNAL_SERVER_ERROR", response.text
    elif operation in _BATCH_OPERATIONS and mode == "negative" and _labelled_json(case):
        # a batch the schema rejects only for an item's key or entity name: that item fails
        assert json.loads(response.content)["failedKeys"], response.text
