"""Switching realism on, as users do: the ini option, the marker, the fixture's attribute.

And what a mistake in each gives: a ``ValueError`` (an ``AttributeError`` for a misspelt knob
name) that says what to write, or for the ini option one ``pytest.UsageError`` at start.
"""

from __future__ import annotations

import ast
from datetime import timedelta
from typing import Any

import pytest

from pytest_forge_storage._realism import Realism

#: A pytester test module: ``burst(n)`` makes n gets at one frozen instant, returns statuses.
HEADER = """
import freezegun, httpx, pytest
URL = "https://api.atlassian.com/forge/storage/kvs/v1/"
AUTH = {"Authorization": "Bearer t"}

def burst(count, operation="get", body=None):
    with httpx.Client() as client:
        return [
            client.post(URL + operation, json=body or {"key": "k"}, headers=AUTH).status_code
            for _ in range(count)
        ]
"""
INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def run(pytester: pytest.Pytester, body: str, *, ini: str = "", **outcomes: int) -> Any:
    pytester.makeini(INI + ini)
    pytester.makepyfile(HEADER + body)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(**outcomes)
    return result


# -- the ini option --------------------------------------------------------------------------
def test_the_ini_option_turns_the_limits_on_for_every_test(pytester: pytest.Pytester) -> None:
    run(
        pytester,
        """
@freezegun.freeze_time("2026-03-02 09:00:00")
def test_limited(forge_storage):
    assert forge_storage.realism.rate_limits is True
    assert forge_storage.realism.batch_payload_limit == 1_000_000
    assert burst(1001)[-1] == 429

@pytest.mark.forge_storage(realism="off")
@freezegun.freeze_time("2026-03-02 09:00:00")
def test_a_marker_preset_replaces_the_ini_choice(forge_storage):
    assert set(burst(1001)) == {404}

@pytest.mark.forge_storage(realism={"retry_after": True})
@freezegun.freeze_time("2026-03-02 09:00:00")
def test_a_marker_dict_changes_knobs_of_the_ini_preset(forge_storage):
    burst(1000)
    with httpx.Client() as client:
        answer = client.post(URL + "get", json={"key": "k"}, headers=AUTH)
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "1"
""",
        ini="forge_storage_realism = limits\n",
        passed=3,
    )


@pytest.mark.parametrize("value", ["full", " Full ", "FULL"])
def test_the_ini_option_takes_full_in_any_case(pytester: pytest.Pytester, value: str) -> None:
    run(
        pytester,
        """
def test_full(forge_storage):
    realism = forge_storage.realism
    assert (realism.rate_limits, realism.query_lag, realism.expiry_lag) == (True, 1.0, 172800.0)
""",
        ini=f"forge_storage_realism = {value}\n",
        passed=1,
    )


def test_without_the_ini_option_realism_is_off(pytester: pytest.Pytester) -> None:
    run(
        pytester,
        """
@freezegun.freeze_time("2026-03-02 09:00:00")
def test_off(forge_storage):
    assert forge_storage.realism.preset_name == "off"
    assert set(burst(1500)) == {404}
    assert forge_storage.usage.requests == 1500
""",
        passed=1,
    )


def test_a_bad_ini_value_is_one_usage_error_at_start(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI + "forge_storage_realism = on\n")
    pytester.makepyfile(
        test_one="def test_one(forge_storage): pass",
        test_two="def test_two(forge_storage): pass",
    )

    result = pytester.runpytest("-p", "no:randomly")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert errors == [
        "ERROR: ini option forge_storage_realism: forge_storage_realism must be off, limits or "
        "full, not 'on'; e.g. forge_storage_realism = limits under [tool.pytest.ini_options] "
        "or [pytest]"
    ]
    assert "Traceback" not in result.stderr.str()
    assert "passed" not in result.stdout.str()  # nothing ran


# -- the marker ------------------------------------------------------------------------------
def test_the_marker_turns_the_limits_on_for_its_tests(pytester: pytest.Pytester) -> None:
    run(
        pytester,
        """
@pytest.mark.forge_storage(realism={"rate_limits": True})
@freezegun.freeze_time("2026-03-02 09:00:00")
def test_dict(forge_storage):
    assert burst(1001)[-1] == 429
    assert forge_storage.realism.batch_payload_limit == 4 * 1024 * 1024  # only the knob named

@pytest.mark.forge_storage(realism="limits")
class TestLimits:
    @freezegun.freeze_time("2026-03-02 09:00:00")
    def test_marker_alone(self):
        assert burst(1001)[-1] == 429

@freezegun.freeze_time("2026-03-02 09:00:00")
def test_unmarked(forge_storage):
    assert set(burst(1001)) == {404}
""",
        passed=3,
    )


@pytest.mark.parametrize(
    ("realism", "message"),
    [
        (
            '{"rate_limit": True}',
            "Unknown realism knob 'rate_limit' (did you mean 'rate_limits'?); the "
            "knobs are: rate_limits, query_lag, expiry_lag, batch_payload_limit, retry_after, seed",
        ),
        (
            '"on"',
            "Unknown realism preset 'on'; write 'off', 'limits' or 'full', or a "
            "dict of knobs such as {'rate_limits': True, 'query_lag': 2}",
        ),
        (
            '{"query_lag": -1}',
            "realism query_lag must be a number of seconds >= 0 or a timedelta, "
            "like query_lag=1.5; got -1",
        ),
        (
            '{"rate_limits": "yes"}',
            "realism rate_limits must be True or False, like rate_limits=True; got 'yes'",
        ),
        (
            '["limits"]',
            "realism= takes a preset name ('off', 'limits', 'full') or a dict of "
            "knobs such as {'rate_limits': True, 'query_lag': 2}; got ['limits']",
        ),
    ],
)
def test_a_bad_marker_value_errors_the_test_saying_what_to_write(
    pytester: pytest.Pytester, realism: str, message: str
) -> None:
    result = run(
        pytester,
        f"""
@pytest.mark.forge_storage(realism={realism})
def test_it():
    pass

def test_other(forge_storage):
    pass
""",
        errors=1,
        passed=1,
    )
    shown = repr(ast.literal_eval(realism))  # as the marker got it
    assert f"ValueError: @pytest.mark.forge_storage(realism={shown}): {message}\n" in str(
        result.stdout
    )
    assert "_realism.py" not in str(result.stdout)  # no frames from inside the plugin


# -- the fixture's attribute ----------------------------------------------------------------
def test_assigning_a_preset_a_dict_or_a_realism(forge_storage: Any) -> None:
    forge_storage.realism = "limits"
    assert forge_storage.realism.rate_limits is True
    assert forge_storage.realism.batch_payload_limit == 1_000_000

    forge_storage.realism = {"retry_after": True, "query_lag": timedelta(milliseconds=500)}
    assert forge_storage.realism == Realism(
        rate_limits=True, batch_payload_limit=1_000_000, retry_after=True, query_lag=0.5
    )  # a dict changes only the knobs it names

    forge_storage.realism = Realism(expiry_lag="max")
    assert forge_storage.realism == Realism(expiry_lag=172_800)

    forge_storage.realism = "off"
    assert forge_storage.realism.preset_name == "off"


def test_the_realism_object_is_the_one_the_fake_reads(forge_storage: Any) -> None:
    knobs = forge_storage.realism
    forge_storage.realism = "limits"

    assert knobs is forge_storage.realism
    assert knobs.rate_limits is True


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("query_lag", "soon", r"realism query_lag must be a number of seconds >= 0"),
        ("expiry_lag", -5, r'or "max" \(48 hours\), like expiry_lag=1.5; got -5'),
        ("expiry_lag", float("nan"), r"realism expiry_lag must be a number of seconds"),
        ("batch_payload_limit", 1e6, r"like batch_payload_limit=4_000_000 .*got 1000000.0"),
        ("batch_payload_limit", 0, r"whole number of bytes >= 1"),
        ("retry_after", 1, r"realism retry_after must be True or False"),
        ("seed", "abc", r"realism seed must be an integer or None, like seed=1234"),
    ],
)
def test_a_bad_value_is_a_value_error_and_changes_nothing(
    forge_storage: Any, name: str, value: Any, message: str
) -> None:
    forge_storage.realism = "limits"

    with pytest.raises(ValueError, match=message):
        setattr(forge_storage.realism, name, value)
    with pytest.raises(ValueError, match=message):
        forge_storage.realism = {"retry_after": True, name: value}

    assert forge_storage.realism == Realism.preset("limits")


def test_a_misspelt_knob_says_which_was_meant(forge_storage: Any) -> None:
    with pytest.raises(AttributeError, match=r"did you mean 'rate_limits'\?"):
        forge_storage.realism.rate_limit = True
    with pytest.raises(ValueError, match=r"Unknown realism preset 'limit'; write 'off', "):
        forge_storage.realism = "limit"
    with pytest.raises(ValueError, match=r"realism= takes a preset name .* got 3"):
        forge_storage.realism = 3
