"""Developer experience, round 2 (design §2.9), as users meet it through pytester.

Assertions on the request (subset matching, near misses, secrets masked), planned faults that
never fired, public names in tracebacks, the calls section in JUnit XML, under ``--tb=short``
and ``-v``, and the ini switches ``forge_storage_auth`` and ``forge_storage_passthrough``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

HEADER = """
import pytest, requests
URL = "https://api.atlassian.com/forge/storage/kvs/v1/"
AUTH = {"Authorization": "Bearer t"}
def post(op, body, headers=AUTH):
    return requests.post(URL + op, json=body, headers=headers, timeout=5)
"""


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(HEADER + source)
    return pytester.runpytest("-p", "no:randomly", "-p", "no:asyncio", *args)


def test_assert_called_with_a_request_subset(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
TTL = {"ttl": {"value": 5, "unit": "MINUTES"}}

def test_value_and_ttl(forge_storage):
    post("set", {"key": "k", "value": {"theme": "dark", "n": 1}, "options": TTL})
    forge_storage.assert_called("set", key="k", request={"value": {"theme": "dark"}})
    forge_storage.assert_called("set", request={"options": TTL}, times=1)
    forge_storage.assert_not_called("set", request={"value": {"theme": "light"}})
    assert len(forge_storage.calls_to("set", request={"options": {"ttl": {"value": 5}}})) == 1

def test_lists_and_scalars_are_equal_or_not(forge_storage):
    post("set", {"key": "k", "value": [1, 2, 3]})
    forge_storage.assert_not_called("set", request={"value": [1, 2]})
    forge_storage.assert_not_called("set", request={"value": [True, 2, 3]})
    forge_storage.assert_called("set", request={"value": [1, 2.0, 3]})

def test_a_near_miss_says_where(forge_storage):
    ttl = {"ttl": {"value": 10, "unit": "MINUTES"}}
    post("set", {"key": "k", "value": {"theme": "dark"}, "options": ttl})
    forge_storage.assert_called("set", request={"options": {"ttl": {"value": 5}}})
""",
    )
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    assert (
        "Expected a storage call to 'set' with a request containing "
        "{'options': {'ttl': {'value': 5}}}, but none was made." in out
    )
    message = [line[1:].strip() for line in out.splitlines() if line.startswith("E ")]
    closest = message.index("Closest calls:")
    assert message[closest + 1] == (
        "1. rest set key='k' -> 204: request['options']['ttl']['value'] is 10, expected 5"
    )
    assert message[closest + 2] == "Recorded calls:"


def test_near_misses_of_secret_calls_never_show_the_value(pytester: pytest.Pytester) -> None:
    secret = "hunter" + "2-topsecret"
    result = run(
        pytester,
        f"""
def test_it(forge_storage):
    post("secret/set", {{"key": "api", "value": "{secret}"}})
    forge_storage.assert_called("secret/set", request={{"value": "{secret}-old"}})
""",
    )
    result.assert_outcomes(failed=1)
    # pytest shows the test's own source, which holds the secret the test wrote; what the
    # fake prints (the assertion message, the calls section) never does.
    printed = [line for line in result.stdout.str().splitlines() if line.startswith(("E ", "  "))]
    printed = [line for line in printed if "forge_storage.assert_called" not in line]
    printed = [line for line in printed if "post(" not in line]
    assert not [line for line in printed if secret in line]
    assert "request['value'] differs (values of a secret call are masked" in result.stdout.str()


def test_request_filter_misuse_says_what_to_write(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_it(forge_storage):
    with pytest.raises(TypeError, match="request takes a dict"):
        forge_storage.assert_called("set", request=[1])
""",
    )
    result.assert_outcomes(passed=1)


def test_a_fault_that_never_fired_fails_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_typo(forge_storage):
    forge_storage.fail("get", key="setings", code="INTERNAL_SERVER_ERROR")
    forge_storage.fail_transport("set")
    post("get", {"key": "settings"})

def test_opted_out(forge_storage):
    forge_storage.fail("get", key="setings", required=False)

def test_fired(forge_storage):
    forge_storage.fail("get")
    assert post("get", {"key": "k"}).status_code == 429

def test_already_failing_is_not_reported_twice(forge_storage):
    forge_storage.fail("get", key="never")
    assert False, "the real failure"
""",
    )
    result.assert_outcomes(passed=3, failed=1, errors=1)
    out = result.stdout.str()
    assert "2 planned Forge storage fault(s) never fired" in out
    assert "required=False" in out
    assert "fail('get', key='setings', code='INTERNAL_SERVER_ERROR', times=1): matched 0" in out
    assert (
        "fail_transport('set', error='connection', times=1): matched 0 call(s), fired none" in out
    )
    # the failing test's own unfired fault is not piled on top of its real failure
    assert "key='never'" not in out


def test_the_server_fixture_alone_fails_on_faults_that_never_fired(
    pytester: pytest.Pytester,
) -> None:
    """Faults planned over the control API or in Python, with ``forge_storage_server`` and
    no ``forge_storage``: the same teardown check, and ``"required": false`` opts out."""
    result = run(
        pytester,
        """
def plan(server, fault):
    answer = requests.post(server.url + "/_forge-storage/faults", json=fault, timeout=5)
    assert answer.status_code == 200, answer.text

def get(server, key):
    return requests.post(server.url + "/forge/storage/kvs/v1/get", json={"key": key},
                         headers=AUTH, timeout=5)

def test_typo_over_http(forge_storage_server):
    plan(forge_storage_server, {"operation": "get", "key": "setings"})
    get(forge_storage_server, "settings")

def test_typo_in_python(forge_storage_server):
    forge_storage_server.storage.fail_transport("set")

def test_opted_out_over_http(forge_storage_server):
    plan(forge_storage_server, {"operation": "get", "key": "setings", "required": False})
    plan(forge_storage_server, {"transport": True, "operation": "set", "required": False})

def test_fired_over_http(forge_storage_server):
    plan(forge_storage_server, {"operation": "get"})
    assert get(forge_storage_server, "k").status_code == 429
""",
    )
    result.assert_outcomes(passed=4, errors=2)
    out = result.stdout.str()
    assert "ERROR at teardown of test_typo_over_http" in out
    assert "ERROR at teardown of test_typo_in_python" in out
    assert "1 planned Forge storage fault(s) never fired" in out
    assert "fail('get', key='setings', code='RATE_LIMIT_EXCEEDED', times=1): matched 0" in out
    assert "fail_transport('set', error='connection', times=1): matched 0" in out


def test_the_control_api_refuses_a_required_that_is_not_a_boolean(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
def test_it(forge_storage_server):
    answer = requests.post(forge_storage_server.url + "/_forge-storage/faults",
                           json={"operation": "get", "required": "no"}, timeout=5)
    assert answer.status_code == 400
    assert answer.json()["message"] == (
        "faults: 'required' must be true or false (false: the test may end with it unused), "
        "not 'no'"
    )
""",
    )
    result.assert_outcomes(passed=1)


def test_a_refused_graphql_request_shows_in_the_failure_report(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_it(forge_storage):
    answer = requests.post("https://api.atlassian.com/graphql", headers=AUTH, timeout=5,
                           json={"query": 'query { appStoredEntity(key: "k" { value } }'})
    assert answer.status_code == 200
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*forge storage calls*", "  1. graphql (no field ran) -> 400 GRAPHQL_PARSE_FAILED"]
    )


def test_tracebacks_name_the_public_error(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_it(forge_storage):
    forge_storage.kvs[""] = 1
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*pytest_forge_storage.ForgeStorageError: KEY_TOO_SHORT (400)*"])
    assert "_errors.ForgeStorageError" not in result.stdout.str()


def test_the_calls_reach_junit_xml(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_it(forge_storage):
    post("get", {"key": "a"})
    post("get", {"key": "b"})
    assert False
""",
        "--junitxml=out.xml",
    )
    result.assert_outcomes(failed=1)
    tree = ET.parse(pytester.path / "out.xml")
    props = {p.get("name"): p.get("value") for p in tree.iter("property")}
    assert props["forge_storage.calls"].splitlines() == [
        "  1. rest get key='a' -> 404 KEY_NOT_FOUND",
        "  2. rest get key='b' -> 404 KEY_NOT_FOUND",
    ]
    assert props["forge_storage.requests"] == "2"


@pytest.mark.parametrize("tb", ["short", "long", "native"])
def test_the_calls_section_shows_under_every_traceback_style(
    pytester: pytest.Pytester, tb: str
) -> None:
    result = run(
        pytester,
        'def test_it(forge_storage):\n    post("get", {"key": "a"})\n    assert False\n',
        f"--tb={tb}",
    )
    result.stdout.fnmatch_lines(
        ["*forge storage calls*", "*1. rest get key='a' -> 404 KEY_NOT_FOUND"]
    )


def test_long_call_lists_are_cut_unless_verbose(pytester: pytest.Pytester) -> None:
    source = """
def test_it(forge_storage):
    for i in range(25):
        post("get", {"key": f"k{i}"})
    assert False
"""
    quiet = run(pytester, source)
    quiet.stdout.fnmatch_lines(
        ["*(5 earlier calls not shown; -v shows every call)", "*6. rest get key='k5'*"]
    )
    assert "1. rest get key='k0'" not in quiet.stdout.str()
    verbose = run(pytester, source, "-v")
    verbose.stdout.fnmatch_lines(["*1. rest get key='k0'*", "*25. rest get key='k24'*"])


def test_ini_auth_false_accepts_requests_without_a_token(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nforge_storage_auth = false\n")
    result = run(
        pytester,
        """
def test_no_token(forge_storage):
    assert post("set", {"key": "k", "value": 1}, headers={}).status_code == 204

@pytest.mark.forge_storage(auth=True)
def test_the_marker_wins(forge_storage):
    assert post("set", {"key": "k", "value": 1}, headers={}).status_code == 401
""",
    )
    result.assert_outcomes(passed=2)


def test_passthrough_ini_and_marker(pytester: pytest.Pytester) -> None:
    # Without passthrough a non-storage Forge URL is refused in the client; with it the
    # request goes on (here to a local stand-in for the network, so nothing leaves).
    pytester.makeini("[pytest]\nforge_storage_passthrough = false\n")
    result = run(
        pytester,
        """
import socket
from pytest_forge_storage import BlockedRequestError

JIRA = "https://api.atlassian.com/ex/jira/x/rest/api/3/myself"

def test_blocked(forge_storage):
    with pytest.raises(BlockedRequestError, match="passthrough=True"):
        requests.get(JIRA, timeout=5)

@pytest.mark.forge_storage(passthrough=True)
def test_let_through(forge_storage, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("the test's own stand-in for the network")
    monkeypatch.setattr(socket, "getaddrinfo", offline)
    with pytest.raises(requests.ConnectionError, match="stand-in for the network"):
        requests.get(JIRA, timeout=5)
    assert post("get", {"key": "k"}).status_code == 404  # storage is still the fake's
""",
    )
    result.assert_outcomes(passed=2)
