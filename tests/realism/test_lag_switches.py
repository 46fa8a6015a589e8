"""The consistency knobs switched on as users do: the marker's dict and the ini's ``full``."""

from __future__ import annotations

import pytest

#: A pytester test module: ``call`` posts one REST call under time-machine's frozen clock.
HEADER = """
from datetime import datetime, timezone
import httpx, pytest, time_machine
URL = "https://api.atlassian.com/forge/storage/kvs/v1/"
AUTH = {"Authorization": "Bearer t"}
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

def call(operation, body):
    answer = httpx.post(URL + operation, json=body, headers=AUTH)
    return answer.status_code, answer.json() if answer.content else None

def keys():
    return [item["key"] for item in call("query", {})[1]["data"]]
"""
INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def run(pytester: pytest.Pytester, body: str, *, ini: str = "", **outcomes: int) -> None:
    pytester.makeini(INI + ini)
    pytester.makepyfile(HEADER + body)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(**outcomes)


def test_the_marker_dict_turns_the_query_lag_on(pytester: pytest.Pytester) -> None:
    run(
        pytester,
        """
@pytest.mark.forge_storage(realism={"query_lag": 2})
def test_lagged(forge_storage):
    with time_machine.travel(START, tick=False) as traveller:
        call("set", {"key": "a", "value": 1})
        assert call("get", {"key": "a"}) == (200, {"key": "a", "value": 1})
        assert keys() == []
        traveller.shift(2)
        assert keys() == ["a"]

def test_unmarked(forge_storage):
    call("set", {"key": "a", "value": 1})
    assert keys() == ["a"]
""",
        passed=2,
    )


def test_the_ini_full_preset_lags_queries_1_s_and_keeps_expired_items_48_h(
    pytester: pytest.Pytester,
) -> None:
    run(
        pytester,
        """
def test_full(forge_storage):
    with time_machine.travel(START, tick=False) as traveller:
        ttl = {"ttl": {"value": 1, "unit": "SECONDS"}}
        call("set", {"key": "a", "value": 1, "options": ttl})
        assert keys() == []
        traveller.shift(1)
        assert keys() == ["a"]  # visible to queries, and expired
        traveller.shift(47 * 3600)
        assert call("get", {"key": "a"})[0] == 200
        assert forge_storage.purge_expired() == 1
        assert call("get", {"key": "a"})[0] == 404

@pytest.mark.forge_storage(realism="off")
def test_off(forge_storage):
    call("set", {"key": "a", "value": 1})
    assert keys() == ["a"]
""",
        ini="forge_storage_realism = full\n",
        passed=2,
    )
