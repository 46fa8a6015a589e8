"""Custom entities through the ``ForgeStorage`` facade and the plugin (design §2.1, §2.2)."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from pytest_forge_storage import ForgeStorage, ForgeStorageError
from tests.conftest import AUTH, BASE

ATTRIBUTES = {"name": "string", "age": "integer", "salary": "float", "tags": "any"}

MANIFEST = """\
modules:
  jira:issuePanel:
    - key: team-panel
      resource: main
      resolver:
        endpoint: backend-endpoint
      title: Team
  endpoint:
    - key: backend-endpoint
      remote: backend
      route:
        path: /forge
      auth:
        appSystemToken:
          enabled: true
remotes:
  - key: backend
    baseUrl: https://backend.example.com
    operations:
      - storage
      - compute
    storage:
      inScopeEUD: false
resources:
  - key: main
    path: static/main/build
permissions:
  scopes:
    - storage:app
    - read:app-system-token
    - read:jira-work
  external:
    fetch:
      backend:
        - https://backend.example.com
app:
  id: ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555
  runtime:
    name: nodejs22.x
  storage:
    entities:
      - name: employee
        attributes:
          name:
            type: string
          age:
            type: integer
          gender:
            type: string
        indexes:
          - age
          - name: by-age-per-gender
            partition:
              - gender
            range:
              - age
      - name: team
        attributes:
          title:
            type: string
"""


@pytest.fixture
def storage(forge_storage: ForgeStorage) -> ForgeStorage:
    forge_storage.define_entity("employee", ATTRIBUTES, ["age", "name"])
    return forge_storage


def post(operation: str, body: Any) -> requests.Response:
    return requests.post(BASE + operation, json=body, headers=AUTH, timeout=5)


# -- storage.entity(name): a mapping view --------------------------------------------------
def test_the_view_is_a_mapping_in_key_order(storage: ForgeStorage) -> None:
    view = storage.entity("employee")
    view["b"] = {"age": 2}
    view["a"] = {"age": 1, "name": "Ann"}
    view["c"] = {}
    assert list(view) == ["a", "b", "c"]
    assert len(view) == 3
    assert view["a"] == {"age": 1, "name": "Ann"}
    assert "a" in view
    assert "z" not in view
    assert view.get("z") is None
    del view["b"]
    assert dict(view) == {"a": {"age": 1, "name": "Ann"}, "c": {}}
    with pytest.raises(KeyError):
        view["b"]
    with pytest.raises(KeyError):
        del view["b"]
    assert storage.calls == []  # seeding and inspection are not recorded


def test_invalid_keys_are_simply_absent_when_read(storage: ForgeStorage) -> None:
    view = storage.entity("employee")
    for key in ["", "k" * 501, "a/b", 5]:
        assert key not in view
        assert view.get(key) is None  # type: ignore[arg-type]


def test_the_view_serves_what_the_api_wrote_and_the_api_sees_seeds(
    storage: ForgeStorage,
) -> None:
    post("entity/set", {"entityName": "employee", "key": "api", "value": {"age": 5}})
    assert storage.entity("employee")["api"] == {"age": 5}
    storage.entity("employee")["seed"] = {"age": 6}
    r = post("entity/query", {"entityName": "employee", "indexName": "age"})
    assert [item["key"] for item in r.json()["data"]] == ["api", "seed"]


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("k", {"age": "1"}, "INVALID_ENTITY_VALUE"),
        ("k", {"age": True}, "INVALID_ENTITY_VALUE"),
        ("k", {"salary": "1.0"}, "INVALID_ENTITY_VALUE"),
        ("k", {"name": "  "}, "INVALID_ENTITY_VALUE"),
        ("k", {"nickname": "x"}, "INVALID_ENTITY_VALUE"),
        ("k", [1], "INVALID_ENTITY_VALUE"),
        ("k", {"tags": None}, "INVALID_ENTITY_VALUE"),
        ("", {}, "EMPTY_KEY"),
        ("k" * 501, {}, "KEY_TOO_LONG"),
        ("a/b", {}, "INVALID_KEY"),
    ],
)
def test_writes_are_validated_with_forge_codes(
    storage: ForgeStorage, key: str, value: Any, code: str
) -> None:
    view = storage.entity("employee")
    with pytest.raises(ForgeStorageError) as excinfo:
        view[key] = value
    assert (excinfo.value.code, excinfo.value.status) == (code, 400)
    assert excinfo.value.message
    assert len(view) == 0


@pytest.mark.parametrize(
    ("name", "code"),
    [("manager", "INVALID_ENTITY_TYPE"), ("ab", "ENTITY_TYPE_TOO_SHORT"),
     ("e" * 61, "ENTITY_TYPE_TOO_LARGE"), ("Bad..Name", "INVALID_ENTITY_TYPE")],
)  # fmt: skip
def test_an_undeclared_or_invalid_entity_raises(
    storage: ForgeStorage, name: str, code: str
) -> None:
    with pytest.raises(ForgeStorageError) as excinfo:
        storage.entity(name)
    assert excinfo.value.code == code
    with pytest.raises(ForgeStorageError) as excinfo:
        storage.set("k", {}, entity=name)
    assert excinfo.value.code == code


def test_reading_returns_copies_and_writing_stores_copies(storage: ForgeStorage) -> None:
    view = storage.entity("employee")
    value = {"age": 1, "tags": {"langs": ["py"]}}
    view["a"] = value
    value["tags"]["langs"].append("go")  # the caller's object is not the stored one
    got = view["a"]
    got["tags"]["langs"].append("rust")
    got["age"] = 99
    assert view["a"] == {"age": 1, "tags": {"langs": ["py"]}}
    r = post("entity/query", {"entityName": "employee", "indexName": "age",
                              "range": {"condition": "EQUAL_TO", "values": [1]}})  # fmt: skip
    assert [item["key"] for item in r.json()["data"]] == ["a"]


def test_iteration_is_a_snapshot(storage: ForgeStorage) -> None:
    view = storage.entity("employee")
    for key in "abc":
        view[key] = {}
    for key in view:
        del view[key]
    assert len(view) == 0


def test_repr_shows_the_records(storage: ForgeStorage) -> None:
    storage.entity("employee")["a"] = {"age": 1}
    assert repr(storage.entity("employee")) == "<ForgeStorage.entity('employee') {'a': {'age': 1}}>"


# -- storage.set(..., entity=, ttl=) -------------------------------------------------------
@pytest.mark.parametrize("ttl", [timedelta(minutes=2), 120, 120.0])
def test_set_seeds_a_record_with_a_ttl(storage: ForgeStorage, time_machine: Any, ttl: Any) -> None:
    time_machine.move_to(datetime(2026, 6, 1, tzinfo=timezone.utc), tick=False)
    storage.set("e1", {"age": 30}, entity="employee", ttl=ttl)
    meta = {"metadataFields": ["CREATED_AT", "EXPIRE_TIME"]}
    r = post("entity/get", {"entityName": "employee", "key": "e1", "options": meta})
    assert r.json() == {
        "key": "e1",
        "value": {"age": 30},
        "entityName": "employee",
        "createdAt": 1780272000000,
        "expireTime": "2026-06-01T00:02:00.000Z",
    }
    time_machine.shift(timedelta(seconds=119))
    assert "e1" in storage.entity("employee")
    time_machine.shift(timedelta(seconds=1))
    assert "e1" not in storage.entity("employee")
    assert len(storage.entity("employee")) == 0
    r = post("entity/query", {"entityName": "employee", "indexName": "age"})
    assert r.json() == {"data": []}


def test_set_without_ttl_and_validation(storage: ForgeStorage) -> None:
    storage.set("e1", {"age": 30}, entity="employee")
    assert storage.entity("employee")["e1"] == {"age": 30}
    with pytest.raises(ForgeStorageError) as excinfo:
        storage.set("e2", {"age": "x"}, entity="employee")
    assert excinfo.value.code == "INVALID_ENTITY_VALUE"
    with pytest.raises(ForgeStorageError) as excinfo:
        storage.set("e2", {"age": 1}, entity="employee", ttl=timedelta(days=366))
    assert excinfo.value.code == "BAD_REQUEST"
    with pytest.raises(ForgeStorageError):
        storage.set("e2", {"age": 1}, entity="employee", ttl=0)
    with pytest.raises(TypeError, match="timedelta or a number of seconds"):
        storage.set("e2", {"age": 1}, entity="employee", ttl="60")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="either a secret or an entity record"):
        storage.set("e2", {"age": 1}, entity="employee", secret=True)
    assert list(storage.entity("employee")) == ["e1"]


# -- snapshot / restore / dump / load ------------------------------------------------------
def _seed(storage: ForgeStorage, time_machine: Any) -> None:
    time_machine.move_to(datetime(2026, 6, 1, tzinfo=timezone.utc), tick=False)
    storage.kvs["plain"] = {"a": [1, 2]}
    storage.secrets["token"] = "s3cr3t"
    storage.set("temp", 1, ttl=timedelta(hours=1))
    storage.entity("employee")["e1"] = {"name": "Ann", "age": 30, "tags": ["x"]}
    time_machine.shift(timedelta(minutes=1))
    storage.entity("employee")["e1"] = {"name": "Ann", "age": 31, "tags": ["x"]}  # updatedAt moves
    storage.set("e2", {"age": 40}, entity="employee", ttl=timedelta(minutes=30))


def test_snapshot_has_the_data_shape_and_metadata(storage: ForgeStorage, time_machine: Any) -> None:
    _seed(storage, time_machine)
    assert storage.snapshot() == {
        "kvs": {"plain": {"a": [1, 2]}, "temp": 1},
        "secrets": {"token": "s3cr3t"},
        "entities": {
            "employee": {"e1": {"name": "Ann", "age": 31, "tags": ["x"]}, "e2": {"age": 40}}
        },
        "metadata": {
            "kvs": {
                "plain": {"createdAt": 1780272000000, "updatedAt": 1780272000000},
                "temp": {"createdAt": 1780272000000, "updatedAt": 1780272000000,
                         "expireTime": "2026-06-01T01:00:00.000Z"},
            },
            "secrets": {"token": {"createdAt": 1780272000000, "updatedAt": 1780272000000}},
            "entities": {
                "employee": {
                    "e1": {"createdAt": 1780272000000, "updatedAt": 1780272060000},
                    "e2": {"createdAt": 1780272060000, "updatedAt": 1780272060000,
                           "expireTime": "2026-06-01T00:31:00.000Z"},
                }
            },
        },
    }  # fmt: skip


def test_restore_is_exact_including_ttl(storage: ForgeStorage, time_machine: Any) -> None:
    _seed(storage, time_machine)
    saved = storage.snapshot()
    time_machine.shift(timedelta(minutes=10))
    storage.entity("employee")["e1"] = {"age": 1}
    storage.entity("employee")["e3"] = {"age": 3}
    del storage.entity("employee")["e2"]
    storage.kvs.clear()
    storage.restore(saved)
    assert storage.snapshot() == saved
    # the indexes are rebuilt from the restored records
    r = post("entity/query", {"entityName": "employee", "indexName": "age"})
    assert [item["key"] for item in r.json()["data"]] == ["e1", "e2"]
    # and the TTL runs out at the original time, not 30 minutes after the restore
    time_machine.move_to(datetime(2026, 6, 1, 0, 31, tzinfo=timezone.utc), tick=False)
    assert list(storage.entity("employee")) == ["e1"]
    meta = {"metadataFields": ["CREATED_AT", "UPDATED_AT"]}
    r = post("entity/get", {"entityName": "employee", "key": "e1", "options": meta})
    assert (r.json()["createdAt"], r.json()["updatedAt"]) == (1780272000000, 1780272060000)


def test_restore_is_all_or_nothing(storage: ForgeStorage) -> None:
    storage.entity("employee")["keep"] = {"age": 1}
    before = storage.snapshot()
    bad = {"entities": {"employee": {"a": {"age": 1}, "b": {"age": "two"}}}}
    with pytest.raises(ForgeStorageError) as excinfo:
        storage.restore(bad)
    assert excinfo.value.code == "INVALID_ENTITY_VALUE"
    assert storage.snapshot() == before
    with pytest.raises(ForgeStorageError) as excinfo:
        storage.restore({"entities": {"manager": {"a": {}}}})
    assert excinfo.value.code == "INVALID_ENTITY_TYPE"
    assert storage.snapshot() == before
    with pytest.raises(ValueError, match="Unknown data section 'entity'"):
        storage.restore({"entity": {}})


def test_load_data_adds_all_or_nothing(storage: ForgeStorage) -> None:
    storage.entity("employee")["keep"] = {"age": 1}
    storage.load_data({"kvs": {"k": 1}, "entities": {"employee": {"new": {"age": 2}}}})
    assert sorted(storage.entity("employee")) == ["keep", "new"]
    before = storage.snapshot()
    bad = {"kvs": {"k2": 2}, "entities": {"employee": {"a": {"age": 3}, "b": {"age": "x"}}}}
    with pytest.raises(ForgeStorageError):
        storage.load_data(bad)
    assert storage.snapshot() == before


def test_restore_accepts_plain_data_without_metadata(
    storage: ForgeStorage, time_machine: Any
) -> None:
    time_machine.move_to(datetime(2026, 6, 1, tzinfo=timezone.utc), tick=False)
    storage.restore({"entities": {"employee": {"e1": {"age": 1}}}, "kvs": {"k": 2}})
    assert storage.snapshot()["metadata"]["entities"] == {
        "employee": {"e1": {"createdAt": 1780272000000, "updatedAt": 1780272000000}}
    }


def test_dump_and_load_round_trip(storage: ForgeStorage, time_machine: Any, tmp_path: Path) -> None:
    _seed(storage, time_machine)
    saved = storage.snapshot()
    path = tmp_path / "store.json"
    storage.dump(path)
    assert json.loads(path.read_text(encoding="utf-8")) == saved
    storage.reset()
    assert storage.snapshot()["entities"] == {}
    storage.load(path)
    assert storage.snapshot() == saved
    fresh = ForgeStorage()
    fresh.define_entity("employee", ATTRIBUTES, ["age", "name"])
    fresh.load(path)
    assert fresh.snapshot() == saved
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ForgeStorageError, match="not JSON"):
        storage.load(path)
    assert storage.snapshot() == saved


def test_reset_keeps_declarations(storage: ForgeStorage) -> None:
    storage.entity("employee")["a"] = {"age": 1}
    storage.reset()
    assert len(storage.entity("employee")) == 0
    storage.entity("employee")["a"] = {"age": 2}


# -- recorded calls and faults with entity_name -------------------------------------------
def test_calls_to_and_assert_called_filter_by_entity_name(storage: ForgeStorage) -> None:
    storage.define_entity("team", {"title": "string"})
    post("entity/set", {"entityName": "employee", "key": "a", "value": {"age": 1}})
    post("entity/set", {"entityName": "team", "key": "a", "value": {"title": "T"}})
    post("entity/get", {"entityName": "employee", "key": "a"})
    post("entity/query", {"entityName": "employee", "indexName": "age"})
    assert [c.operation for c in storage.calls_to(entity_name="employee")] == [
        "entity/set",
        "entity/get",
        "entity/query",
    ]
    (call,) = storage.calls_to("entity/set", entity_name="team")
    assert (call.key, call.entity_name, call.status) == ("a", "team", 204)
    query_call = storage.calls_to("entity/query")[0]
    assert (query_call.key, query_call.entity_name) == (None, "employee")
    storage.assert_called("entity/set", entity_name="employee", times=1)
    storage.assert_called("entity/set", key="a", entity_name="team")
    with pytest.raises(AssertionError) as excinfo:
        storage.assert_called("entity/delete", entity_name="employee")
    message = str(excinfo.value)
    assert "to 'entity/delete' on entity 'employee'" in message
    assert "rest entity/set entity='team' key='a' -> 204" in message
    with pytest.raises(AssertionError, match="Expected 2 storage call"):
        storage.assert_called("entity/set", entity_name="team", times=2)


def test_fail_with_entity_name(storage: ForgeStorage) -> None:
    storage.define_entity("team", {"title": "string"})
    storage.fail("entity/set", entity_name="team", code="INTERNAL_SERVER_ERROR")
    r = post("entity/set", {"entityName": "employee", "key": "a", "value": {"age": 1}})
    assert r.status_code == 204
    r = post("entity/set", {"entityName": "team", "key": "a", "value": {"title": "T"}})
    assert (r.status_code, r.json()["code"]) == (500, "INTERNAL_SERVER_ERROR")
    assert len(storage.entity("team")) == 0
    (call,) = storage.calls_to("entity/set", entity_name="team")
    assert (call.status, call.error_code) == (500, "INTERNAL_SERVER_ERROR")


# -- the plugin: marker data and manifests (pytester) ---------------------------------------
HEADER = """
import pytest, requests
URL = "https://api.atlassian.com/forge/storage/kvs/v1/"
AUTH = {"Authorization": "Bearer t"}
def post(op, body):
    return requests.post(URL + op, json=body, headers=AUTH, timeout=5)
"""


def test_marker_manifest_and_entity_data(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yml", manifest=MANIFEST)
    pytester.makepyfile(
        HEADER
        + """
DATA = {
    "kvs": {"k": 1},
    "entities": {
        "employee": {"e1": {"name": "Ann", "age": 30, "gender": "f"},
                     "e2": {"name": "Bob", "age": 25, "gender": "m"}},
        "team": {"t1": {"title": "Red"}},
    },
}

@pytest.mark.forge_storage(manifest="manifest.yml", data=DATA)
def test_seeded(forge_storage):
    r = post("entity/get", {"entityName": "employee", "key": "e1"})
    assert r.json() == {"key": "e1", "value": {"name": "Ann", "age": 30, "gender": "f"},
                        "entityName": "employee"}
    r = post("entity/query", {"entityName": "employee", "indexName": "by-age-per-gender",
                              "partition": ["m"]})
    assert [i["key"] for i in r.json()["data"]] == ["e2"]
    assert dict(forge_storage.entity("team")) == {"t1": {"title": "Red"}}
    assert forge_storage.calls_to(entity_name="team") == []

@pytest.mark.forge_storage(manifest="manifest.yml")
def test_starts_empty_with_the_declarations(forge_storage):
    assert len(forge_storage.entity("employee")) == 0
    r = post("entity/query", {"entityName": "team", "indexName": "by-key"})
    assert r.json() == {"data": []}

@pytest.mark.forge_storage(data={"entities": {"employee": {"e1": {"age": 1}}}})
def test_entities_need_a_declaration():
    pass
"""
    )
    result = pytester.runpytest("-p", "no:asyncio")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*INVALID_ENTITY_TYPE*employee*"])


def test_marker_data_with_an_invalid_record_fails_setup(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yml", manifest=MANIFEST)
    pytester.makepyfile(
        HEADER
        + """
@pytest.mark.forge_storage(manifest="manifest.yml",
                           data={"entities": {"employee": {"e1": {"age": "thirty"}}}})
def test_it():
    pass
"""
    )
    result = pytester.runpytest("-p", "no:asyncio")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*INVALID_ENTITY_VALUE*age*"])


def test_marker_manifest_resolves_next_to_the_test_file(pytester: pytest.Pytester) -> None:
    sub = pytester.mkdir("backend_tests")
    (sub / "forge").mkdir()
    (sub / "forge" / "manifest.yml").write_text(MANIFEST, encoding="utf-8")
    (sub / "test_backend.py").write_text(
        HEADER
        + textwrap.dedent(
            """
            @pytest.mark.forge_storage(manifest="forge/manifest.yml")
            def test_it():
                r = post("entity/set", {"entityName": "team", "key": "t", "value": {"title": "x"}})
                assert r.status_code == 204
            """
        ),
        encoding="utf-8",
    )
    pytester.runpytest("-p", "no:asyncio").assert_outcomes(passed=1)


@pytest.mark.parametrize("ini", ["pyproject", "pytest.ini"])
def test_ini_manifest_loads_a_real_forge_manifest(pytester: pytest.Pytester, ini: str) -> None:
    (pytester.path / "forge").mkdir()
    (pytester.path / "forge" / "manifest.yml").write_text(MANIFEST, encoding="utf-8")
    if ini == "pyproject":
        pytester.makepyprojecttoml(
            """
            [tool.pytest.ini_options]
            forge_storage_manifest = "forge/manifest.yml"
            """
        )
    else:
        pytester.makeini(
            """
            [pytest]
            forge_storage_manifest = forge/manifest.yml
            """
        )
    pytester.makepyfile(
        HEADER
        + """
def test_fixture(forge_storage):
    forge_storage.entity("employee")["e1"] = {"age": 30, "gender": "f"}
    r = post("entity/query", {"entityName": "employee", "indexName": "by-age-per-gender",
                              "partition": ["f"], "range": {"condition": "BETWEEN",
                                                            "values": [30, 30]}})
    assert [i["key"] for i in r.json()["data"]] == ["e1"]

@pytest.mark.forge_storage(data={"entities": {"team": {"t1": {"title": "Red"}}}})
def test_marker_data_uses_the_ini_declarations():
    r = post("entity/get", {"entityName": "team", "key": "t1"})
    assert r.json()["value"] == {"title": "Red"}

def test_undeclared_entity(forge_storage):
    r = post("entity/get", {"entityName": "manager", "key": "m"})
    assert (r.status_code, r.json()["code"]) == (400, "INVALID_ENTITY_TYPE")
"""
    )
    pytester.runpytest("-p", "no:asyncio").assert_outcomes(passed=3)


def test_a_bad_ini_manifest_names_the_file_and_entity(pytester: pytest.Pytester) -> None:
    bad = MANIFEST.replace("type: integer", "type: int")
    (pytester.path / "manifest.yml").write_text(bad, encoding="utf-8")
    pytester.makeini(
        """
        [pytest]
        forge_storage_manifest = manifest.yml
        """
    )
    pytester.makepyfile("def test_it(forge_storage):\n    pass\n\ndef test_other():\n    pass\n")
    result = pytester.runpytest("-p", "no:asyncio")
    # Once, at start, as a usage error naming the option, the file and the entity (issue 16).
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*forge_storage_manifest = manifest.yml*manifest.yml*employee*"])


def test_a_missing_ini_manifest_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        forge_storage_manifest = nowhere/manifest.yml
        """
    )
    pytester.makepyfile("def test_it():\n    pass\n")
    result = pytester.runpytest("-p", "no:asyncio")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*forge_storage_manifest = nowhere/manifest.yml: no file at *"])
