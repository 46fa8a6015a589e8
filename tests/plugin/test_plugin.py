"""The plugin as users meet it: pytester runs real test files."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

HEADER = """
import pytest, requests
URL = "https://api.atlassian.com/forge/storage/kvs/v1/"
AUTH = {"Authorization": "Bearer t"}
def get(key):
    return requests.post(URL + "get", json={"key": key}, headers=AUTH)
"""


def test_fixture_serves_requests_and_starts_empty(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + """
def test_one(forge_storage):
    forge_storage.kvs["k"] = 1
    assert get("k").json() == {"key": "k", "value": 1}

def test_two_starts_empty(forge_storage):
    assert get("k").status_code == 404
    assert len(forge_storage.kvs) == 0
"""
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


@pytest.mark.parametrize("where", ["function", "class", "module"])
def test_marker_alone_switches_the_fake_on(pytester: pytest.Pytester, where: str) -> None:
    body = {
        "function": """
@pytest.mark.forge_storage(data={"kvs": {"k": "v"}})
def test_it():
    assert get("k").json()["value"] == "v"
""",
        "class": """
@pytest.mark.forge_storage(data={"kvs": {"k": "v"}})
class TestIt:
    def test_it(self):
        assert get("k").json()["value"] == "v"
""",
        "module": """
pytestmark = pytest.mark.forge_storage(data={"kvs": {"k": "v"}})
def test_it():
    assert get("k").json()["value"] == "v"
""",
    }[where]
    pytester.makepyfile(HEADER + body)
    pytester.runpytest().assert_outcomes(passed=1)


def test_marker_data_seeds_secrets_and_auth_false(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + """
@pytest.mark.forge_storage(data={"secrets": {"s": "x"}}, auth=False)
def test_it(forge_storage):
    r = requests.post(URL + "secret/get", json={"key": "s"})
    assert r.json()["value"] == "x"
    assert forge_storage.secrets["s"] == "x"
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_unknown_marker_kwarg_is_a_type_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + """
@pytest.mark.forge_storage(manifst="manifest.yml")
def test_it():
    pass
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*TypeError*unexpected argument(s) manifst*accepts: manifest, data, auth*"]
    )


def test_invalid_seed_data_reports_the_forge_code(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + """
@pytest.mark.forge_storage(data={"kvs": {"bad/key": 1}})
def test_it():
    pass
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ForgeStorageError*INVALID_KEY*"])


def test_options_appear_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*forge_storage_manifest*", "*forge_storage_base_urls*"])


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        (
            "forge_storage_base_urls = notaurl",
            "*ini option forge_storage_base_urls: invalid base URL 'notaurl'*",
        ),
        (
            "forge_storage_base_urls =\n    http://localhost:9999\n    ftp://x",
            "*ini option forge_storage_base_urls: invalid base URL 'ftp://x'*",
        ),
        ("forge_storage_auth = maybe", "*ini option forge_storage_auth: *'maybe'*true or false*"),
        (
            "forge_storage_passthrough = sometimes",
            "*ini option forge_storage_passthrough: *'sometimes'*true or false*",
        ),
    ],
)
def test_a_bad_ini_value_stops_the_run_once_naming_the_option(
    pytester: pytest.Pytester, ini: str, message: str
) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_a(forge_storage):\n    pass\n\ndef test_b():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "test_a" not in result.stdout.str()


def test_good_ini_base_urls_and_flags_start_the_run(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nforge_storage_base_urls = http://localhost:9999\n"
        "forge_storage_auth = no\nforge_storage_passthrough = off\n"
    )
    pytester.makepyfile(
        """
import requests

def test_it(forge_storage):
    assert forge_storage.auth is False and forge_storage.passthrough is False
    answer = requests.post(
        "http://localhost:9999/forge/storage/kvs/v1/set", json={"key": "k", "value": 1}
    )
    assert answer.status_code == 204 and forge_storage.kvs["k"] == 1
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.forge_storage(manifest=None, data=None, auth=True, passthrough=False, "
            "realism=None)*"
        ]
    )


def test_extra_base_urls_from_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
[pytest]
forge_storage_base_urls =
    http://forge-proxy.internal:8080
"""
    )
    pytester.makepyfile(
        HEADER
        + """
def test_it(forge_storage):
    forge_storage.kvs["k"] = 2
    r = requests.post("http://forge-proxy.internal:8080/forge/storage/kvs/v1/get",
                      json={"key": "k"}, headers=AUTH)
    assert r.json()["value"] == 2
    assert get("k").json()["value"] == 2
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_failure_report_lists_storage_calls_with_secrets_masked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + """
def test_fails(forge_storage):
    requests.post(URL + "secret/set", json={"key": "api", "value": "hunter" + str(2)}, headers=AUTH)
    get("missing")
    forge_storage.assert_called("delete", key="api")
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*Expected a storage call to 'delete' for key 'api', but none was made.*",
            "*forge storage calls*",
            "*1. rest secret/set key='api' -> 204*",
            "*2. rest get key='missing' -> 404 KEY_NOT_FOUND*",
        ]
    )
    assert "hunter2" not in result.stdout.str()


def test_other_urls_pass_through_to_user_responses_mock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + """
import responses

@responses.activate
def test_both(forge_storage):
    responses.add(responses.GET, "https://example.invalid/x", json={"mine": True})
    forge_storage.kvs["k"] = 1
    assert requests.get("https://example.invalid/x").json() == {"mine": True}
    assert get("k").json()["value"] == 1
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_mock_forge_storage_outside_pytest(tmp_path: pytest.TempPathFactory) -> None:
    script = """
import requests
from pytest_forge_storage import mock_forge_storage
URL = "https://api.atlassian.com/forge/storage/kvs/v1/"

@mock_forge_storage(data={"kvs": {"a": 1}})
def decorated():
    auth = {"Authorization": "Bearer t"}
    return requests.post(URL + "get", json={"key": "a"}, headers=auth).json()

with mock_forge_storage() as storage:
    storage.kvs["k"] = "v"
    r = requests.post(URL + "get", json={"key": "k"}, headers={"Authorization": "Bearer t"})
    assert r.json() == {"key": "k", "value": "v"}, r.text
    storage.assert_called("get", key="k", times=1)
assert decorated() == {"key": "a", "value": 1}
print("ok")
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_plugin_import_loads_nothing_heavy() -> None:
    script = (
        "import sys, pytest_forge_storage.plugin\n"
        "heavy = ['graphql', 'jsonschema', 'yaml', 'responses', 'respx', 'requests', 'httpx',"
        " 'sortedcontainers']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_plugin_import_loads_only_the_shell_and_the_base_errors() -> None:
    # Every pytest run pays this import: the engine, router and transports wait for a test
    # that uses the fake (0.1.0's own share was 4.8 ms; a router import made it 31 ms).
    script = (
        "import sys, pytest_forge_storage.plugin\n"
        "print(sorted(m for m in sys.modules if m.startswith('pytest_forge_storage')))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert eval(out.stdout) == [
        "pytest_forge_storage",
        "pytest_forge_storage._codes",
        "pytest_forge_storage._errors",
        "pytest_forge_storage._setup",
        "pytest_forge_storage.plugin",
    ]
    names = "from pytest_forge_storage import StorageCall, ForgeStorage, Installation; print('ok')"
    done = subprocess.run([sys.executable, "-c", names], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


def test_a_users_own_requests_mock_block_needs_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + """
import responses

def test_forge_calls_are_served_inside_it(forge_storage):
    forge_storage.kvs["k"] = 1
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, "https://example.invalid/x", json={"mine": True})
        assert requests.get("https://example.invalid/x").json() == {"mine": True}
        assert get("k").json()["value"] == 1
        assert len(rsps.calls) == 1  # only the user's own traffic

def test_add_to_responses_is_kept_and_harmless(forge_storage):
    forge_storage.kvs["k"] = 1
    with responses.RequestsMock() as rsps:
        forge_storage.add_to_responses(rsps)
        rsps.add(responses.GET, "https://example.invalid/x", json={"mine": True})
        assert requests.get("https://example.invalid/x").json() == {"mine": True}
        assert get("k").json()["value"] == 1
    assert get("k").json()["value"] == 1

def test_only_while_active():
    from pytest_forge_storage import ForgeStorage
    with pytest.raises(RuntimeError, match="while the fake is active"):
        ForgeStorage().add_to_responses(responses.RequestsMock())
"""
    )
    pytester.runpytest().assert_outcomes(passed=3)
