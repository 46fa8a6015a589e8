"""The realism knobs: presets, the marker's and ini's spellings, and what bad input is told."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from pytest_forge_storage._limits import PAYLOAD_MAX_BYTES
from pytest_forge_storage._realism import (
    EXPIRY_LAG_MAX,
    KNOBS,
    Realism,
    parse_ini,
    parse_realism,
    write_lags,
)


def test_off_is_todays_behaviour() -> None:
    off = Realism()

    assert off.as_dict() == {
        "rate_limits": False,
        "query_lag": 0.0,
        "expiry_lag": 0.0,
        "batch_payload_limit": PAYLOAD_MAX_BYTES,
        "retry_after": False,
        "seed": None,
    }
    assert off == Realism.preset("off")
    assert off.preset_name == "off"


def test_limits_turns_on_the_rate_limits_and_the_frge_1916_payload_cap() -> None:
    limits = Realism.preset("limits")

    assert (limits.rate_limits, limits.batch_payload_limit) == (True, 1_000_000)
    assert (limits.query_lag, limits.expiry_lag, limits.retry_after) == (0.0, 0.0, False)
    assert limits.preset_name == "limits"


def test_full_adds_one_second_of_query_lag_and_48_hours_of_expiry_lag() -> None:
    full = Realism.preset(" FULL ")

    assert full.as_dict() == {
        "rate_limits": True,
        "query_lag": 1.0,
        "expiry_lag": 172_800.0,
        "batch_payload_limit": 1_000_000,
        "retry_after": False,
        "seed": None,
    }
    assert EXPIRY_LAG_MAX == 48 * 3600
    assert full.preset_name == "full"


def test_one_assignment_restores_the_documented_4_mb() -> None:
    realism = Realism.preset("limits")

    realism.batch_payload_limit = 4_000_000

    assert realism.batch_payload_limit == 4_000_000
    assert realism.preset_name is None


def test_knobs_take_seconds_timedeltas_and_max() -> None:
    realism = Realism()

    realism.query_lag = timedelta(milliseconds=250)
    realism.expiry_lag = "max"

    assert (realism.query_lag, realism.expiry_lag) == (0.25, 172_800.0)
    realism.expiry_lag = 3
    assert realism.expiry_lag == 3.0


def test_a_marker_dict_changes_knobs_of_the_ini_preset() -> None:
    base = parse_ini("limits")

    chosen = parse_realism({"query_lag": 2, "retry_after": True}, base=base)

    assert chosen == Realism(
        rate_limits=True, batch_payload_limit=1_000_000, query_lag=2, retry_after=True
    )
    assert base == Realism.preset("limits")  # the ini's preset is not changed
    assert parse_realism({"rate_limits": True}) == Realism(rate_limits=True)


def test_a_marker_preset_name_replaces_the_ini_preset() -> None:
    assert parse_realism("off", base=parse_ini("full")) == Realism()
    assert parse_realism(None, base=parse_ini("full")) == Realism.preset("full")
    assert parse_realism(None) == Realism()


def test_a_marker_realism_object_is_copied() -> None:
    mine = Realism(rate_limits=True)

    chosen = parse_realism(mine)
    chosen.query_lag = 5

    assert mine.query_lag == 0.0


@pytest.mark.parametrize(("text", "preset"), [("", "off"), (None, "off"), (" Limits ", "limits")])
def test_the_ini_option_names_a_preset(text: str | None, preset: str) -> None:
    assert parse_ini(text) == Realism.preset(preset)


def test_a_bad_ini_value_says_what_to_write() -> None:
    with pytest.raises(ValueError, match="forge_storage_realism") as failure:
        parse_ini("on")

    assert str(failure.value) == (
        "forge_storage_realism must be off, limits or full, not 'on'; e.g. "
        "forge_storage_realism = limits under [tool.pytest.ini_options] or [pytest]"
    )


@pytest.mark.parametrize("value", ["ful", 3, ["limits"]])
def test_a_bad_marker_value_says_what_to_write(value: Any) -> None:
    with pytest.raises(ValueError, match=r"('ful'|realism= takes a preset name)") as failure:
        parse_realism(value)

    assert "'off', 'limits'" in str(failure.value)
    assert "{'rate_limits': True, 'query_lag': 2}" in str(failure.value)


def test_an_unknown_knob_is_named_with_a_suggestion() -> None:
    with pytest.raises(ValueError, match="rate_limit") as failure:
        parse_realism({"rate_limit": True})

    assert str(failure.value) == (
        "Unknown realism knob 'rate_limit' (did you mean 'rate_limits'?); the knobs are: "
        "rate_limits, query_lag, expiry_lag, batch_payload_limit, retry_after, seed"
    )


def test_assigning_an_unknown_knob_is_refused() -> None:
    realism = Realism()

    with pytest.raises(AttributeError, match=r"Unknown realism knob 'querylag' \(did you mean"):
        realism.querylag = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("knob", "value", "message"),
    [
        ("query_lag", -1, "realism query_lag must be a number of seconds >= 0 or a timedelta, "
         "like query_lag=1.5; got -1"),
        ("query_lag", "1", "realism query_lag must be a number of seconds >= 0"),
        ("query_lag", float("inf"), "got inf"),
        ("query_lag", True, "got True"),
        ("query_lag", timedelta(seconds=-2), "got -2.0"),
        ("expiry_lag", "forever", 'or a timedelta, or "max" (48 hours), like expiry_lag=1.5; '
         "got 'forever'"),
        ("expiry_lag", -0.5, "got -0.5"),
        ("batch_payload_limit", 0, "realism batch_payload_limit must be a whole number of bytes "
         ">= 1, like batch_payload_limit=4_000_000 (Forge's documented 4 MB); got 0"),
        ("batch_payload_limit", 4e6, "got 4000000.0"),
        ("rate_limits", "yes", "realism rate_limits must be True or False, like "
         "rate_limits=True; got 'yes'"),
        ("retry_after", 1, "realism retry_after must be True or False"),
        ("seed", "42", "realism seed must be an integer or None, like seed=1234; got '42'"),
    ],
)  # fmt: skip
def test_a_bad_value_says_what_to_write(knob: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^realism {knob} must be") as by_dict:
        parse_realism({knob: value})
    realism = Realism()
    with pytest.raises(ValueError, match=f"^realism {knob} must be") as by_assignment:
        setattr(realism, knob, value)

    assert message in str(by_dict.value)
    assert str(by_assignment.value) == str(by_dict.value)
    assert realism == Realism()  # a refused assignment changes nothing


def test_every_knob_is_in_the_repr() -> None:
    text = repr(Realism.preset("full"))

    assert text.startswith("Realism(rate_limits=True, query_lag=1.0, expiry_lag=172800.0")
    assert all(f"{knob}=" in text for knob in KNOBS)


def test_write_lags_are_fixed_without_a_seed_and_reproducible_with_one() -> None:
    fixed = write_lags(Realism(query_lag=2))
    assert [fixed() for _ in range(3)] == [2.0, 2.0, 2.0]

    one = write_lags(Realism(query_lag=2, seed=7))
    two = write_lags(Realism(query_lag=2, seed=7))
    other = write_lags(Realism(query_lag=2, seed=8))
    drawn = [one() for _ in range(50)]

    assert drawn == [two() for _ in range(50)]
    assert drawn != [other() for _ in range(50)]
    assert all(0.0 <= lag <= 2.0 for lag in drawn)
    assert len(set(drawn)) == 50
    assert write_lags(Realism(seed=7))() == 0.0
