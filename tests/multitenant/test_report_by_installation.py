"""The "forge storage calls" report section of a failing test, grouped by installation when
its calls span more than one, so a cross-tenant mix-up reads at a glance."""

from __future__ import annotations

import pytest

HEADER = """
import pytest, requests

URL = "https://api.atlassian.com/forge/storage/kvs/v1/"

def call(operation, body, token):
    return requests.post(URL + operation, json=body, headers={"Authorization": f"Bearer {token}"})
"""


def test_calls_of_several_installations_are_grouped(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + """
def test_a_remote_mixes_up_its_sites(forge_storage):
    a = forge_storage.installation("site-a")
    b = forge_storage.installation("site-b")
    call("set", {"key": "settings", "value": 1}, a.token)
    call("get", {"key": "settings"}, b.token)
    call("get", {"key": "settings"}, "unissued")
    call("secret/set", {"key": "api-token", "value": "s3cr3t"}, a.token)
    assert b.kvs.get("settings") == 1
"""
    )

    result = pytester.runpytest("-p", "no:randomly")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- forge storage calls -*",
            "  installation 'site-a':",
            "    1. rest set key='settings' -> 204",
            "    4. rest secret/set key='api-token' -> 204",
            "  installation 'site-b':",
            "    2. rest get key='settings' -> 404 KEY_NOT_FOUND",
            "  installation 'default':",
            "    3. rest get key='settings' -> 404 KEY_NOT_FOUND",
        ],
        consecutive=True,
    )


def test_calls_of_one_installation_stay_one_list(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + """
def test_one_site(forge_storage):
    b = forge_storage.installation("site-b")
    call("get", {"key": "k"}, b.token)
    call("get", {"key": "k"}, b.token)
    assert False

def test_the_default_installation(forge_storage):
    call("get", {"key": "k"}, "t")
    assert False
"""
    )

    result = pytester.runpytest("-p", "no:randomly")

    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*- forge storage calls -*",
            "  1. [site-b] rest get key='k' -> 404 KEY_NOT_FOUND",
            "  2. [site-b] rest get key='k' -> 404 KEY_NOT_FOUND",
        ],
        consecutive=True,
    )
    assert "  1. rest get key='k' -> 404 KEY_NOT_FOUND" in result.stdout.lines
    assert "installation 'site-b':" not in result.stdout.str()


def test_assertion_messages_group_the_same_way(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        HEADER
        + """
def test_assert(forge_storage):
    a = forge_storage.installation("site-a")
    call("get", {"key": "k"}, a.token)
    call("get", {"key": "k"}, "t")
    forge_storage.assert_called("set")
"""
    )

    result = pytester.runpytest("-p", "no:randomly")

    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: Expected a storage call to 'set', but none was made.",
            "E       Recorded calls:",
            "E         installation 'site-a':",
            "E           1. rest get key='k' -> 404 KEY_NOT_FOUND",
            "E         installation 'default':",
            "E           2. rest get key='k' -> 404 KEY_NOT_FOUND",
        ],
        consecutive=True,
    )
