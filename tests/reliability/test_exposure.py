"""Secrets and exposure: where a secret value never shows, where the server listens, who gets in.

* A secret value never appears in a ``StorageCall``'s repr/str/summary, in assertion messages,
  in the failure report's "forge storage calls" section, in server or CLI logs, or in an error
  response — whether it went in through REST or GraphQL (variables, literals, aliases).
* The server binds 127.0.0.1 unless told otherwise; any interface other machines can reach needs
  ``allow_remote=True`` / ``--allow-remote`` and gets a warning.
* Every REST path and both GraphQL paths answer 401 ``UNAUTHORIZED`` without a valid bearer
  token, through every door, and nothing is written.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from pytest_forge_storage.protocol.openapi import OPERATIONS
from pytest_forge_storage.server import ForgeStorageServer
from tests.reliability._support import GRAPHQL, JSON, REST, Door

SECRET = "c0ffee-" + "5ecret-91f4"  # built, so that this file's own source never matches
MASK = "********"

SET = (
    "mutation set($input: SetAppStoredEntityMutationInput!) { appStorage { "
    "setAppStoredEntity(input: $input) { success errors { message extensions { errorType } } } } }"
)
GET = (
    "query get($key: ID!, $encrypted: Boolean!) { appStoredEntity(key: $key, "
    "encrypted: $encrypted) { key value } }"
)


def gql(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}).encode()


def _secret_traffic(door: Door) -> list[tuple[str, Any]]:
    """Put SECRET in and read it out every way there is; the answers, labelled."""
    rest: list[tuple[str, dict[str, Any]]] = [
        ("secret/set", {"key": "api", "value": SECRET}),
        ("secret/set", {"key": "obj", "value": {"token": SECRET, "list": [SECRET]}}),
        (
            "secret/set",
            {
                "key": "api",
                "value": SECRET,
                "options": {"returnValue": "LATEST", "returnMetadataFields": ["CREATED_AT"]},
            },
        ),
        ("secret/set", {"key": "api", "value": SECRET, "options": {"keyPolicy": "FAIL_IF_EXISTS"}}),
        ("secret/set", {"key": "big", "value": SECRET * 20_000}),  # MAX_SIZE
        ("secret/set", {"key": "bad/key", "value": SECRET}),  # INVALID_KEY
        ("secret/set", {"key": "api", "value": SECRET, "extra": 1}),  # BAD_REQUEST
        ("secret/get", {"key": "api", "options": {"metadataFields": ["UPDATED_AT"]}}),
        ("secret/get", {"key": "obj"}),
        # secrets are their own namespace (decision 3): no other operation reads them
        ("get", {"key": "api"}),
        ("query", {}),
        ("batch/get", [{"key": "api"}, {"key": "obj"}]),
        ("transaction", {"delete": [{"key": "api"}]}),
    ]
    answers: list[tuple[str, Any]] = [
        (f"rest {op} {body!s:.60}", door.rest(op, json.dumps(body).encode())) for op, body in rest
    ]
    graphql = [
        gql(SET, {"input": {"key": "g1", "value": SECRET, "encrypted": True}}),
        gql(
            'mutation { appStorage { setAppStoredEntity(input: {key: "g2", value: "'
            + SECRET
            + '", encrypted: true}) { success } } }'
        ),
        gql(
            'mutation($v: JSON!) { appStorage { setAppStoredEntity(input: {key: "g3", '
            "value: $v, encrypted: true}) { success } } }",
            {"v": {"nested": SECRET}},
        ),
        gql(GET, {"key": "g1", "encrypted": True}),
        gql('{ appStoredEntity(key: "g1", encrypted: true) { key v: value } }'),
        gql('{ appStoredEntity(key: "g1", encrypted: true) { key: value } }'),
        gql(
            '{ a: appStoredEntity(key: "g3", encrypted: true) { ...f } } '
            "fragment f on AppStoredEntity { key secret: value }"
        ),
        gql(GET, {"key": "g1", "encrypted": False}),  # the plain namespace: no value
        # request errors that echo the input
        gql(SET, {"input": {"key": "g4", "value": SECRET, "encrypted": True, "extra": 1}}),
        gql(SET, {"input": {"key": "g4", "value": SECRET, "encrypted": "yes"}}),
        gql(
            'mutation { appStorage { setAppStoredEntity(input: {key: "g5", value: "'
            + SECRET
            + '", encrypted: true, extra: 1}) { success } } }'
        ),
        gql(SET, {"input": {"key": "bad/key", "value": SECRET, "encrypted": True}}),
    ]
    answers += [(f"graphql {body[:80]!r}", door.graphql(body)) for body in graphql]
    return answers


def test_secret_values_never_print(door: Door) -> None:
    storage = door.storage
    answers = _secret_traffic(door)
    read_back = [label for label, answer in answers if SECRET.encode() in answer.body]
    assert read_back, "the secret was never read back: the test would prove nothing"
    for label, answer in answers:
        assert answer.status < 500, (label, answer)
        if SECRET.encode() in answer.body:  # only reading it back may answer with it
            assert answer.status == 200, (label, answer)
            assert b'"errors"' not in answer.body, (label, answer)
    assert dict(storage.kvs) == {}, "a secret leaked into the plain namespace"
    calls = storage.calls
    assert {call.operation for call in calls} >= {"secret/set", "secret/get"}
    for call in calls:
        for text in (repr(call), str(call), call.summary()):
            assert SECRET not in text, text
    assert MASK in repr(calls[0])
    for check in (
        lambda: storage.assert_called("delete", key="nope"),
        lambda: storage.assert_called("secret/get", times=99),
        lambda: storage.assert_not_called("secret/set"),
        lambda: storage.assert_not_called(key="api"),
    ):
        with pytest.raises(AssertionError) as failure:
            check()
        assert SECRET not in str(failure.value)
        assert "secret/set" in str(failure.value)
    assert SECRET not in repr(storage.secrets)
    assert SECRET not in repr(storage)
    assert storage.secrets["api"] == SECRET  # the test itself can read it


def test_secrets_never_show_in_a_failure_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_leak=f"""
        import json, requests

        SECRET = {SECRET!r}
        BASE = "https://api.atlassian.com"
        AUTH = {{"Authorization": "Bearer t"}}

        def test_fails_after_handling_secrets(forge_storage):
            requests.post(BASE + "/forge/storage/kvs/v1/secret/set", headers=AUTH,
                          json={{"key": "api", "value": SECRET}})
            requests.post(BASE + "/forge/storage/kvs/v1/secret/get", headers=AUTH,
                          json={{"key": "api"}})
            requests.post(BASE + "/graphql", headers=AUTH, json={{"query":
                '{{ appStoredEntity(key: "api", encrypted: true) {{ key v: value }} }}'}})
            requests.post(BASE + "/graphql", headers=AUTH, json={{"query": {SET!r},
                "variables": {{"input": {{"key": "g", "value": SECRET, "encrypted": True}}}}}})
            assert forge_storage.calls == []

        def test_fails_in_an_assertion_helper(forge_storage):
            requests.post(BASE + "/forge/storage/kvs/v1/secret/set", headers=AUTH,
                          json={{"key": "api", "value": SECRET}})
            forge_storage.assert_called("secret/get")
        """
    )
    result = pytester.runpytest("-p", "no:randomly", "-vv", "--tb=long")
    result.assert_outcomes(failed=2)
    output = result.stdout.str() + result.stderr.str()
    assert "forge storage calls" in output
    assert "rest secret/set key='api' -> 204" in output
    assert MASK in output
    assert SECRET not in output


def test_server_logs_never_show_a_secret(caplog: pytest.LogCaptureFixture) -> None:
    lines: list[str] = []
    caplog.set_level(logging.DEBUG, logger="pytest_forge_storage")
    with ForgeStorageServer() as default_log, ForgeStorageServer(log=lines.append) as own_log:
        for server in (default_log, own_log):
            door = Door("server", server.url, server.storage)
            _secret_traffic(door)
            door.send("POST", f"{REST}secret/set?value={SECRET}", b"{")
            door.send("GET", f"{REST}secret/get?key={SECRET}", b"")
            door.send("POST", f"{REST}secret/set", b'{"key":"k","value":"%s",}' % SECRET.encode())
    assert lines  # one line per request, with method, path and status
    assert caplog.records
    assert any("/forge/storage/kvs/v1/secret/set 204" in line for line in lines)
    assert SECRET not in "\n".join(lines)
    assert SECRET not in caplog.text


def test_cli_logs_never_show_a_secret(tmp_path: Any) -> None:
    dump = tmp_path / "dump.json"
    command = [sys.executable, "-m", "pytest_forge_storage", "serve", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--dump", str(dump)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "serving on http://127.0.0.1:" in banner, banner
        url = banner.split("serving on ")[1].strip()
        answers = _secret_traffic(Door("server", url, None))
        assert any(SECRET.encode() in answer.body for _, answer in answers)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "/forge/storage/kvs/v1/secret/set 204" in err
    assert SECRET not in banner + out + err
    assert SECRET in dump.read_text()  # --dump is the user's own export of the data


# -- where the server listens ---------------------------------------------------------------


def test_the_server_binds_loopback_by_default() -> None:
    from pytest_forge_storage.cli import build_parser

    with ForgeStorageServer() as server:
        assert server.host == "127.0.0.1"
        assert server.url.startswith("http://127.0.0.1:")
    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"


def test_the_fixture_server_binds_loopback(forge_storage_server: Any) -> None:
    assert forge_storage_server.url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("host", ["0.0.0.0", "", "::", "10.0.0.1", "192.168.1.10", "example.com"])
def test_other_interfaces_need_allow_remote(host: str) -> None:
    with pytest.raises(ValueError, match=r"allow_remote=True \(--allow-remote"):
        ForgeStorageServer(host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.0.0.2"])
def test_loopback_interfaces_need_no_flag(host: str, recwarn: pytest.WarningsRecorder) -> None:
    with ForgeStorageServer(host=host):
        pass
    assert not recwarn.list


def test_allow_remote_binds_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="reachable from other machines"):
        server = ForgeStorageServer(host="0.0.0.0", allow_remote=True)
    server.stop()  # never started: nothing was served


def _get(port: int, path: str) -> int:
    """The status of ``GET path`` sent to the server's port over loopback."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Authorization": "Bearer t1"})
        return connection.getresponse().status
    finally:
        connection.close()


def test_the_control_api_is_off_beyond_loopback_unless_asked_for() -> None:
    """Anyone who reaches a remote interface could reset, seed and read the store (design
    §2.8: the control API is on by default on loopback)."""
    with pytest.warns(UserWarning, match="its control API is off"):
        server = ForgeStorageServer(host="0.0.0.0", allow_remote=True)
    server.storage.kvs["k"] = SECRET
    with server:
        port = int(server.url.rsplit(":", 1)[1])
        assert _get(port, "/_forge-storage/snapshot") == 404
        assert _get(port, "/_forge-storage/calls") == 404
    assert server.storage.kvs["k"] == SECRET


def test_the_control_api_beyond_loopback_when_asked_for_warns_what_it_exposes() -> None:
    with pytest.warns(UserWarning, match="control API is on: anyone who reaches the port"):
        server = ForgeStorageServer(host="0.0.0.0", allow_remote=True, control=True)
    with server:
        assert _get(int(server.url.rsplit(":", 1)[1]), "/_forge-storage/snapshot") == 200


@pytest.mark.parametrize(
    ("flags", "control"), [([], None), (["--control"], True), (["--no-control"], False)]
)
def test_the_cli_leaves_the_control_api_to_the_host_unless_told(
    flags: list[str], control: bool | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytest_forge_storage.server as server_module
    from pytest_forge_storage.cli import main

    seen: dict[str, Any] = {}

    def refuse(**kwargs: Any) -> None:
        seen.update(kwargs)
        raise ValueError("not started in this test")

    monkeypatch.setattr(server_module, "ForgeStorageServer", refuse)

    assert main(["serve", "--host", "0.0.0.0", "--allow-remote", "--port", "0", *flags]) == 2
    assert seen["control"] is control


def test_the_cli_takes_control_or_no_control_not_both(capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_forge_storage.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--control", "--no-control"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_the_cli_refuses_other_interfaces_without_allow_remote(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pytest_forge_storage.cli import main

    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err


# -- auth on every path -------------------------------------------------------------------------

#: Authorization headers that are not a usable bearer token (ref §13, decision 1).
BAD_AUTH: list[dict[str, str]] = [
    {},
    {"Authorization": ""},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer    "},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Token t1"},
    {"Authorization": "t1"},
    {"Authorization": "Bearer other-token"},  # not in allowed_tokens
]
BODIES: dict[str, Any] = {
    "get": {"key": "k"},
    "set": {"key": "k", "value": 1},
    "delete": {"key": "k"},
    "query": {},
    "secret/get": {"key": "k"},
    "secret/set": {"key": "k", "value": 1},
    "secret/delete": {"key": "k"},
    "entity/get": {"entityName": "employee", "key": "k"},
    "entity/set": {"entityName": "employee", "key": "k", "value": {"age": 1}},
    "entity/delete": {"entityName": "employee", "key": "k"},
    "entity/query": {"entityName": "employee", "indexName": "by-age"},
    "batch/set": [{"key": "k", "value": 1}],
    "batch/get": [{"key": "k"}],
    "batch/delete": [{"key": "k"}],
    "transaction": {"set": [{"key": "k", "value": 1}]},
}


def test_every_operation_has_a_body_here() -> None:
    assert set(BODIES) == set(OPERATIONS)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_rest_path_needs_a_valid_bearer_token(door: Door, operation: str) -> None:
    door.storage.allowed_tokens = {"t1"}
    body = json.dumps(BODIES[operation]).encode()
    paths = [REST + operation]
    if not door.in_process:
        paths.append("/api/v1/" + operation)  # the SDK's in-runtime alias (decision 13)
    for path in paths:
        for headers in BAD_AUTH:
            answer = door.send("POST", path, body, {**JSON, **headers})
            assert answer.error() == (401, "UNAUTHORIZED"), (path, headers, answer)
    assert dict(door.storage.kvs) == dict(door.storage.secrets) == {}
    assert {(c.status, c.error_code) for c in door.storage.calls} == {(401, "UNAUTHORIZED")}
    for token in ("Bearer t1", "bearer t1"):  # the scheme is case-insensitive (RFC 9110)
        answer = door.send("POST", paths[0], body, {**JSON, "Authorization": token})
        assert answer.status in (200, 204, 404), answer


@pytest.mark.parametrize("path", [GRAPHQL, "/forge/entities/graphql"])
@pytest.mark.parametrize(
    "query",
    [
        GET,
        SET,
        '{ appStoredCustomEntity(entityName: "employee", key: "k") { key value } }',
        "query q { appStoredEntities(where: []) { edges { node { key } } } }",
    ],
    ids=["get", "set", "entity-get", "list"],
)
def test_graphql_needs_a_valid_bearer_token(door: Door, path: str, query: str) -> None:
    door.storage.allowed_tokens = {"t1"}
    variables = {
        "key": "k",
        "encrypted": False,
        "input": {"key": "k", "value": 1, "encrypted": False},
    }
    variables = {name: value for name, value in variables.items() if f"${name}" in query}
    body = gql(query, variables)
    for headers in BAD_AUTH:
        answer = door.send("POST", path, body, {**JSON, **headers})
        assert answer.status == 401, (headers, answer)
        [error] = answer.graphql_errors()
        assert error["extensions"] == {"errorType": "UNAUTHORIZED", "statusCode": 401}
    assert dict(door.storage.kvs) == {}
    answer = door.send("POST", path, body, {**JSON, "Authorization": "Bearer t1"})
    assert answer.status == 200, answer


# -- round 2: malformed bodies, every JSON type, echoes (issue 13) ------------------------------


FORGE_REST = "https://api.atlassian.com/forge/storage/kvs/v1/"
FORGE_GRAPHQL = "https://api.atlassian.com/graphql"
BEARER = {"Authorization": "Bearer t", "Content-Type": "application/json"}


def _shown(storage: Any) -> str:
    """Everything the fake prints about its calls: reprs, summaries, assertion messages."""
    from pytest_forge_storage.router import describe_calls

    parts = [repr(call) for call in storage.calls] + [str(call) for call in storage.calls]
    parts.append(describe_calls(storage.calls))
    for operation in ("get", "secret/set"):
        with pytest.raises(AssertionError) as caught:
            storage.assert_called(operation, times=99)
        parts.append(str(caught.value))
    return "\n".join(parts)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"key": "k", "value": "%s",}', id="trailing comma"),
        pytest.param('{"key": "k", "value": "%s"}'.encode("latin-1"), id="latin-1"),
        pytest.param(b'{"key": "k", "valeu": "%s"}', id="misspelled member"),
        pytest.param(b'{"key": "k", "value": {"nested": ["%s"]}, "extra": 1}', id="extra member"),
        pytest.param(b'"%s"', id="bare string"),
        pytest.param(b'["%s"]', id="array"),
        pytest.param(b'{"key": "k", "value": "%s"', id="truncated"),
    ],
)
def test_malformed_secret_sets_never_print_the_secret(forge_storage: Any, body: bytes) -> None:
    import requests

    secret = "s\u00e9cr\u00e9t-" + "0451-latin"
    latin = body.decode("latin-1").isascii() and body == b'{"key": "k", "value": "%s"}'
    sent = body.replace(b"%s", secret.encode("latin-1" if latin else "utf-8"))
    r = requests.post(FORGE_REST + "secret/set", data=sent, headers=BEARER, timeout=5)
    assert r.status_code == 400
    shown = _shown(forge_storage)
    assert secret not in shown
    assert "0451-latin" not in shown


@pytest.mark.parametrize("value", [9_831_274_655, -4.25e17, [7_771_234, {"n": 5_550_123}]])
def test_graphql_errors_never_echo_non_string_secrets(forge_storage: Any, value: Any) -> None:
    import requests

    # A number where the schema wants a Boolean: graphql-core's message echoes the input.
    query = (
        "mutation m($input: SetAppStoredEntityMutationInput!) { appStorage { "
        "setAppStoredEntity(input: $input) { success } } }"
    )
    variables = {"input": {"key": "k", "value": value, "encrypted": value}}
    r = requests.post(
        FORGE_GRAPHQL,
        json={"query": query, "variables": variables},
        headers=BEARER,
        timeout=5,
    )
    assert r.status_code == 400
    text = r.text + _shown(forge_storage)
    for number in ("9831274655", "-4.25e+17", "7771234", "5550123"):
        assert number not in text


def test_graphql_literal_secrets_are_masked_in_syntax_errors(forge_storage: Any) -> None:
    import requests

    query = (
        'mutation { appStorage { setAppStoredEntity(input: {key: "k", value: 88123456, '
        "encrypted: true) { success } } }"  # the object is not closed
    )
    r = requests.post(FORGE_GRAPHQL, json={"query": query}, headers=BEARER, timeout=5)
    assert r.status_code == 400
    assert "88123456" not in r.text


def test_one_megabyte_names_are_not_echoed_in_full(forge_storage: Any) -> None:
    import requests

    name = "appStoredEntity" + "x" * 1_000_000
    r = requests.post(
        FORGE_GRAPHQL,
        json={"query": f"{{ {name} {{ value }} }}"},
        headers=BEARER,
        timeout=5,
    )
    assert r.status_code == 400
    message = r.json()["errors"][0]["message"]
    assert len(message) <= 1_000
    assert "characters elided" in message
