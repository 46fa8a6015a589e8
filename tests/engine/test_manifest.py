"""Entity declarations: define_entity and manifest.yml, with every rule of ref §6.1."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage.engine import Engine


@pytest.fixture
def engine() -> Engine:
    return Engine()


def write(tmp_path: Path, text: str, name: str = "manifest.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# -- define_entity ---------------------------------------------------------------------
def test_define_entity_shorthand_and_manifest_forms_are_equivalent(engine: Engine) -> None:
    engine.define_entity("short", {"age": "integer", "name": "string"}, ["age"])
    engine.define_entity("long", {"age": {"type": "integer"}, "name": {"type": "string"}}, ["age"])
    short, long = engine.entity_declaration("short"), engine.entity_declaration("long")
    assert dict(short.attributes) == dict(long.attributes) == {"age": "integer", "name": "string"}
    assert short.indexes == long.indexes
    assert engine.entity_names() == ["short", "long"]


def test_indexes_may_be_omitted_or_none(engine: Engine) -> None:
    engine.define_entity("plain", {"a": "string"}, None)  # type: ignore[arg-type]
    assert engine.entity_declaration("plain").indexes == ()
    assert engine.entity_declaration("plain").to_manifest() == {
        "name": "plain",
        "attributes": {"a": {"type": "string"}},
    }


def test_declaration_introspection_round_trips_to_manifest_form(engine: Engine) -> None:
    indexes: list[Any] = [
        "age",
        {"name": "by-age-per-gender", "range": ["age"], "partition": ["gender"]},
        {"name": "by-name", "range": ["name"]},
    ]
    engine.define_entity(
        "employee", {"age": "integer", "gender": "string", "name": "string"}, indexes
    )
    decl = engine.entity_declaration("employee")
    assert decl.to_manifest() == {
        "name": "employee",
        "attributes": {
            "age": {"type": "integer"},
            "gender": {"type": "string"},
            "name": {"type": "string"},
        },
        "indexes": indexes,
    }
    assert [index.name for index in decl.all_indexes()] == [
        "by-key",
        "age",
        "by-age-per-gender",
        "by-name",
    ]
    assert "employee" in repr(decl)


def test_entity_declaration_of_an_undeclared_entity(engine: Engine) -> None:
    with pytest.raises(ForgeStorageError) as info:
        engine.entity_declaration("nobody")
    assert info.value.code == "INVALID_ENTITY_TYPE"


VALID_NAMES = ["abc", "a:b-c_d.e", "x" * 60, "0ab", "a.b.c", "ab-", "a_b:"]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_entity_names(engine: Engine, name: str) -> None:
    engine.define_entity(name, {"a": "string"})
    assert name in engine.entity_names()


ATTRS = {"age": "integer", "name": "string", "gender": "string", "tags": "any"}

#: (name, attributes, indexes, fragment of the message)
INVALID_DECLARATIONS: list[tuple[Any, Any, Any, str]] = [
    ("ab", ATTRS, (), "3 to 60 characters"),
    ("x" * 61, ATTRS, (), "3 to 60 characters"),
    ("_abc", ATTRS, (), "must match"),
    (".abc", ATTRS, (), "must match"),
    ("-abc", ATTRS, (), "must match"),
    ("abc.", ATTRS, (), "must match"),
    ("a..b", ATTRS, (), "must match"),
    ("Employee", ATTRS, (), "must match"),
    ("emp loyee", ATTRS, (), "must match"),
    (42, ATTRS, (), "name must be a string"),
    ("employee", ["age"], (), "attributes must be a mapping"),
    ("employee", {"1age": "integer"}, (), "must match ^[a-zA-Z]"),
    ("employee", {"_age": "integer"}, (), "must match ^[a-zA-Z]"),
    ("employee", {"my-age": "integer"}, (), "must match ^[a-zA-Z]"),
    ("employee", {"a" * 31: "integer"}, (), "at most 30"),
    ("employee", {f"a{i}": "string" for i in range(51)}, (), "at most 50"),
    ("employee", {"age": "int"}, (), "type must be one of"),
    ("employee", {"age": {"type": "number"}}, (), "type must be one of"),
    ("employee", {"age": {"type": "integer", "min": 0}}, (), "{type: <type>}"),
    ("employee", {"age": {}}, (), "{type: <type>}"),
    ("employee", {"age": None}, (), "{type: <type>}"),
    ("employee", ATTRS, "age", "indexes must be a list"),
    ("employee", ATTRS, [f"age{i}" for i in range(8)], "at most 7"),
    ("employee", ATTRS, ["salary"], "not a declared attribute"),
    ("employee", ATTRS, ["tags"], "type any"),
    ("employee", ATTRS, [{"name": "by-key", "range": ["age"]}], "reserved index name"),
    ("employee", ATTRS, ["age", "age"], "declared twice"),
    ("employee", ATTRS, ["age", {"name": "age", "range": ["name"]}], "declared twice"),
    ("employee", ATTRS, [{"range": ["age"]}], "needs a name"),
    ("employee", ATTRS, [{"name": "ix", "range": ["age"]}], "3 to 50 characters"),
    ("employee", ATTRS, [{"name": "i" * 51, "range": ["age"]}], "3 to 50 characters"),
    ("employee", ATTRS, [{"name": ".idx", "range": ["age"]}], "3 to 50 characters"),
    ("employee", ATTRS, [{"name": "a..b", "range": ["age"]}], "3 to 50 characters"),
    ("employee", ATTRS, [{"name": "by age", "range": ["age"]}], "3 to 50 characters"),
    ("employee", ATTRS, [{"name": "by-age"}], "exactly one attribute"),
    ("employee", ATTRS, [{"name": "by-age", "range": []}], "exactly one attribute"),
    ("employee", ATTRS, [{"name": "by-age", "range": "age"}], "exactly one attribute"),
    ("employee", ATTRS, [{"name": "by-age", "range": ["age", "name"]}], "exactly one attribute"),
    ("employee", ATTRS, [{"name": "by-age", "range": ["tags"]}], "type any"),
    ("employee", ATTRS, [{"name": "by-age", "range": ["salary"]}], "not a declared"),
    (
        "employee",
        ATTRS,
        [{"name": "by-age", "range": ["age"], "partition": []}],
        "non-empty list",
    ),
    (
        "employee",
        ATTRS,
        [{"name": "by-age", "range": ["age"], "partition": "gender"}],
        "non-empty list",
    ),
    (
        "employee",
        ATTRS,
        [{"name": "by-age", "range": ["age"], "partition": ["tags"]}],
        "type any",
    ),
    (
        "employee",
        ATTRS,
        [{"name": "by-age", "range": ["age"], "partition": ["salary"]}],
        "not a declared",
    ),
    (
        "employee",
        ATTRS,
        [{"name": "by-age", "range": ["age"], "partition": ["gender", "gender"]}],
        "only once",
    ),
    (
        "employee",
        ATTRS,
        [{"name": "by-age", "range": ["age"], "partition": ["age"]}],
        "only once",
    ),
    ("employee", ATTRS, [{"name": "by-age", "range": ["age"], "sort": "ASC"}], "unknown"),
    ("employee", ATTRS, [42], "attribute name or {name, range, partition}"),
]


@pytest.mark.parametrize(("name", "attributes", "indexes", "fragment"), INVALID_DECLARATIONS)
def test_invalid_declarations(
    engine: Engine, name: Any, attributes: Any, indexes: Any, fragment: str
) -> None:
    with pytest.raises(ForgeStorageError) as info:
        engine.define_entity(name, attributes, indexes)
    assert (info.value.code, info.value.status) == ("BAD_REQUEST", 400)
    assert fragment in info.value.message
    assert engine.entity_names() == []


def test_limits_are_inclusive(engine: Engine) -> None:
    attributes = {f"a{i}": "string" for i in range(49)} | {"b" * 30: "integer"}
    engine.define_entity("wide", attributes, [f"a{i}" for i in range(7)])
    assert len(engine.entity_declaration("wide").attributes) == 50


def test_at_most_twenty_entities(engine: Engine) -> None:
    for i in range(20):
        engine.define_entity(f"entity{i:02d}", {"a": "string"})
    engine.define_entity("entity00", {"a": "string", "b": "string"})  # redefinition is fine
    with pytest.raises(ForgeStorageError, match="at most 20 entities"):
        engine.define_entity("entity20", {"a": "string"})


def test_redefinition_replaces_declaration_and_reindexes(engine: Engine) -> None:
    engine.define_entity("employee", {"age": "integer", "name": "string"})
    engine.entity_put("employee", "k1", {"age": 40, "name": "Zed"})
    engine.entity_put("employee", "k2", {"age": 30, "name": "Amy"})
    with pytest.raises(ForgeStorageError) as info:
        engine.entity_query({"entityName": "employee", "indexName": "age"})
    assert info.value.code == "INVALID_ENTITY_INDEX"

    engine.define_entity("employee", {"age": "integer", "name": "string"}, ["age", "name"])
    by_age = engine.entity_query({"entityName": "employee", "indexName": "age"})
    assert [item["key"] for item in by_age["data"]] == ["k2", "k1"]
    created = dict(engine.entity_items("employee"))["k1"].created_ms
    engine.define_entity("employee", {"age": "integer", "name": "string"}, ["name"])
    assert dict(engine.entity_items("employee"))["k1"].created_ms == created


def test_redefinition_that_existing_records_do_not_fit_is_refused(engine: Engine) -> None:
    engine.define_entity("employee", {"age": "string"}, ["age"])
    engine.entity_put("employee", "k1", {"age": "forty"})
    with pytest.raises(ForgeStorageError) as info:
        engine.define_entity("employee", {"age": "integer"}, ["age"])
    assert info.value.code == "BAD_REQUEST"
    assert "'k1'" in info.value.message
    assert "clear the entity first" in info.value.message
    assert engine.entity_declaration("employee").attributes["age"] == "string"
    engine.entity_clear("employee")
    engine.define_entity("employee", {"age": "integer"}, ["age"])


def test_reset_keeps_declarations(engine: Engine) -> None:
    engine.define_entity("employee", {"age": "integer"}, ["age"])
    engine.entity_put("employee", "k", {"age": 1})
    engine.reset()
    assert engine.entity_names() == ["employee"]
    assert list(engine.entity_items("employee")) == []
    assert engine.entity_query({"entityName": "employee", "indexName": "age"}) == {"data": []}


# -- manifest.yml ----------------------------------------------------------------------
FULL_MANIFEST = """\
    modules:
      jira:issuePanel:
        - key: hello-panel
          resource: main
          resolver:
            function: resolver
          render: native
          title: Hello
          icon: https://developer.atlassian.com/platform/forge/images/icons/issue-panel-icon.svg
      endpoint:
        - key: remote-endpoint
          remote: my-backend
          auth:
            appSystemToken:
              enabled: true
      function:
        - key: resolver
          handler: index.handler
    resources:
      - key: main
        path: src/frontend/index.jsx
    remotes:
      - key: my-backend
        baseUrl: https://backend.example.com
        operations:
          - storage
          - compute
        storage:
          inScopeEUD: true
        auth:
          appSystemToken:
            enabled: true
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
      id: ari:cloud:ecosystem::app/00000000-0000-0000-0000-000000000000
      runtime:
        name: nodejs22.x
      storage:
        classifications: [ugc, pii]
        entities:
          - name: employee
            attributes:
              surname: { type: string }
              age: { type: integer }
              gender: { type: string }
              salary: { type: float }
              active: { type: boolean }
              profile: { type: any }
            indexes:
              - surname
              - name: by-age-per-gender
                partition: [gender]
                range: [age]
              - name: by-salary
                range: [salary]
                partition: [active, gender]
          - name: project:task
            attributes:
              title:
                type: string
"""


def test_realistic_full_manifest_loads(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, FULL_MANIFEST)
    assert engine.load_manifest(path) == ["employee", "project:task"]
    assert engine.load_manifest(str(path)) == ["employee", "project:task"]  # idempotent
    decl = engine.entity_declaration("employee")
    assert dict(decl.attributes) == {
        "surname": "string",
        "age": "integer",
        "gender": "string",
        "salary": "float",
        "active": "boolean",
        "profile": "any",
    }
    assert [(i.name, i.range, i.partition) for i in decl.indexes] == [
        ("surname", "surname", ()),
        ("by-age-per-gender", "age", ("gender",)),
        ("by-salary", "salary", ("active", "gender")),
    ]
    assert dict(engine.entity_declaration("project:task").attributes) == {"title": "string"}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "modules: {}\n",
        "app:\n  id: x\n",
        "app:\n  storage:\n    classifications: [ugc]\n",
        "- just\n- a list\n",
        "app: nope\n",
    ],
)
def test_manifest_without_entities_loads_nothing(engine: Engine, tmp_path: Path, text: str) -> None:
    assert engine.load_manifest(write(tmp_path, text)) == []
    assert engine.entity_names() == []


def entities_yaml(body: str) -> str:
    return "app:\n  storage:\n    entities:\n" + textwrap.indent(textwrap.dedent(body), "      ")


#: (entities YAML, fragments every message must contain)
INVALID_MANIFESTS: list[tuple[str, list[str]]] = [
    ("[]\n", ["app.storage.entities must be a non-empty list"]),
    ("null\n", ["app.storage.entities must be a non-empty list"]),
    ("{name: employee}\n", ["app.storage.entities must be a non-empty list"]),
    ("- employee\n", ["entities[0]", "must be a mapping"]),
    (
        "- name: employee\n",
        ["entities[0]", "'employee'", "attributes is required"],
    ),
    ("- attributes: {a: {type: string}}\n", ["entities[0]", "name is required"]),
    (
        "- name: employee\n  attributes: {age: integer}\n",
        ["'employee'", "attribute 'age' must be declared as {type: <type>}"],
    ),
    (
        "- name: employee\n  attributes: {age: {type: integer}}\n  index: [age]\n",
        ["'employee'", "unknown property 'index'"],
    ),
    (
        "- name: employee\n  attributes: {age: {type: integer}}\n  indexes:\n",
        ["'employee'", "indexes must be a list"],
    ),
    (
        "- name: employee\n  attributes: {age: {type: integer}}\n  indexes: []\n",
        ["'employee'", "at least 1 item"],
    ),
    (
        "- name: employee\n  attributes: {age: {type: integer}}\n"
        "- name: employee\n  attributes: {age: {type: integer}}\n",
        ["entities[1]", "'employee'", "declared twice"],
    ),
    (
        "- name: ok-one\n  attributes: {a: {type: string}}\n"
        "- name: Bad\n  attributes: {a: {type: string}}\n",
        ["entities[1]", "'Bad'", "must match"],
    ),
    (
        "- name: employee\n  attributes: {age: {type: integer}}\n"
        "  indexes:\n    - name: by-key\n      range: [age]\n",
        ["'employee'", "reserved index name 'by-key'"],
    ),
    (
        "".join(
            f"- name: entity{i:02d}\n  attributes: {{a: {{type: string}}}}\n" for i in range(21)
        ),
        ["at most 20"],
    ),
]


@pytest.mark.parametrize(("entities", "fragments"), INVALID_MANIFESTS)
def test_invalid_manifests_name_file_entity_and_rule(
    engine: Engine, tmp_path: Path, entities: str, fragments: list[str]
) -> None:
    path = write(tmp_path, entities_yaml(entities))
    with pytest.raises(ForgeStorageError) as info:
        engine.load_manifest(path)
    assert info.value.code == "BAD_REQUEST"
    assert str(path) in info.value.message
    for fragment in fragments:
        assert fragment in info.value.message
    assert engine.entity_names() == []  # all or nothing


def test_manifest_yaml_syntax_error(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "app:\n  storage: [\n")
    with pytest.raises(ForgeStorageError, match="not valid YAML") as info:
        engine.load_manifest(path)
    assert str(path) in info.value.message


def test_missing_manifest_file(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        engine.load_manifest(tmp_path / "nope.yml")


def test_manifest_redefinition_that_records_do_not_fit_names_file(
    engine: Engine, tmp_path: Path
) -> None:
    engine.define_entity("employee", {"age": "string"})
    engine.entity_put("employee", "k1", {"age": "forty"})
    path = write(
        tmp_path,
        entities_yaml(
            "- name: other\n  attributes: {a: {type: string}}\n"
            "- name: employee\n  attributes: {age: {type: integer}}\n"
        ),
    )
    with pytest.raises(ForgeStorageError) as info:
        engine.load_manifest(path)
    assert str(path) in info.value.message
    assert "'k1'" in info.value.message
    assert engine.entity_names() == ["employee"]  # "other" was not declared either
