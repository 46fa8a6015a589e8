"""Usage accounting: the one rule (bytes, units, reads and writes), costs, Meter, assert_usage."""

from __future__ import annotations

import json
import threading

import pytest

from pytest_forge_storage._operations import OPERATIONS
from pytest_forge_storage._usage import (
    COUNTERS,
    NO_CHARGE,
    PRICING,
    READ_OPERATIONS,
    WRITE_OPERATIONS,
    Charge,
    Usage,
    assert_usage,
    charge_for,
    request_size,
    units_for,
)
from pytest_forge_storage.router._meter import Meter

URL = "https://api.atlassian.com/forge/storage/kvs/v1/set"


@pytest.mark.parametrize(
    ("size", "units"),
    [
        (0, 1),
        (1, 1),
        (10_000, 1),
        (10_001, 2),
        (20_000, 2),
        (20_001, 3),
        (65_000, 7),  # L-KVS: "a payload of 65KB will be rounded up to 70KB ... 7 requests"
        (65 * 1024, 7),
        (4_000_000, 400),
    ],
)
def test_units_are_10000_bytes_rounded_up_with_one_at_least(size: int, units: int) -> None:
    assert units_for(size) == units


def test_every_operation_is_either_a_read_or_a_write() -> None:
    assert set(OPERATIONS) == READ_OPERATIONS | WRITE_OPERATIONS
    assert not READ_OPERATIONS & WRITE_OPERATIONS
    assert {"secret/get", "entity/get", "entity/query", "batch/get", "query"} <= READ_OPERATIONS
    assert {"secret/set", "entity/delete", "batch/delete", "transaction"} <= WRITE_OPERATIONS


def test_a_write_counts_the_compact_json_of_its_request_body() -> None:
    body = {"key": "k", "value": {"name": "Zoë", "tags": [1, 2]}}
    compact = '{"key":"k","value":{"name":"Zoë","tags":[1,2]}}'.encode()

    charge = charge_for("set", body, status=204)

    assert charge == Charge(read_bytes=0, write_bytes=len(compact), read_units=0, write_units=1)
    assert len(compact) == 48  # ë is two UTF-8 bytes


def test_requests_and_httpx_bodies_are_charged_alike() -> None:
    import httpx
    import requests

    body = {"key": "user:1", "value": {"name": "Ada Lovelace", "langs": ["en", "fr"]}}
    sent_by_requests = requests.Request("POST", URL, json=body).prepare().body
    sent_by_httpx = httpx.Request("POST", URL, json=body).content
    assert isinstance(sent_by_requests, bytes)

    by_requests = charge_for("set", json.loads(sent_by_requests), status=204)
    by_httpx = charge_for("set", json.loads(sent_by_httpx), status=204)

    assert by_requests == by_httpx
    assert by_requests.write_bytes == len(json.dumps(body, separators=(",", ":")))
    # requests sends ", " and ": ": its raw bytes are not what is charged
    assert len(sent_by_requests) > by_requests.write_bytes


def test_a_write_measured_before_serving_is_not_encoded_again() -> None:
    body = {"key": "k", "value": [1, 2, 3]}
    size = request_size("set", body)

    charge = charge_for("set", object(), status=204, request_bytes=size)

    assert charge == Charge(write_bytes=27, write_units=1) == charge_for("set", body, status=204)
    assert request_size("get", object()) == 0


def test_a_65_kb_write_is_7_units() -> None:
    envelope = len('{"key":"k","value":""}')
    body = {"key": "k", "value": "x" * (65_000 - envelope)}

    charge = charge_for("entity/set", body, status=204)

    assert (charge.write_bytes, charge.write_units) == (65_000, 7)


def test_a_read_counts_its_response_and_never_encodes_its_request() -> None:
    response = b'{"key":"k","value":"' + b"v" * 25_000 + b'"}'

    # an object that is not JSON would raise if the request were encoded
    charge = charge_for("get", object(), response, status=200)

    assert charge == Charge(read_bytes=len(response), read_units=3)


def test_a_parsed_response_is_encoded_compactly() -> None:
    charge = charge_for("query", {}, {"results": [{"key": "a", "value": 1}]})

    assert charge.read_bytes == len(b'{"results":[{"key":"a","value":1}]}')


def test_a_write_never_looks_at_its_response() -> None:
    charge = charge_for("set", {"key": "k", "value": 1}, object(), status=200)

    assert charge == Charge(write_bytes=len(b'{"key":"k","value":1}'), write_units=1)


@pytest.mark.parametrize("status", [0, 400, 401, 404, 409, 429, 500])
@pytest.mark.parametrize("operation", ["get", "set", "batch/set", "transaction"])
def test_a_request_that_was_not_served_is_charged_nothing(operation: str, status: int) -> None:
    body = {"key": "k", "value": 1}
    response = b'{"code":"KEY_NOT_FOUND","message":"Provided key does not exist"}'

    assert charge_for(operation, body, response, status=status) is NO_CHARGE


def test_a_graphql_field_that_failed_is_charged_nothing() -> None:
    meter = Meter()
    answer = b'{"success":false,"errors":[{"message":"Key was 0 characters"}]}'

    charge = meter.record(
        "set", b'{"key":"","value":1}', answer, status=200, error_code="KEY_TOO_SHORT"
    )

    assert charge is NO_CHARGE
    assert meter.total == Usage(requests=1)


def test_an_unknown_path_is_charged_nothing() -> None:
    assert charge_for(None, {"key": "k"}, b"{}", status=200) is NO_CHARGE


# -- Usage ------------------------------------------------------------------------------


def test_usage_adds_merges_and_snapshots() -> None:
    one = Usage(requests=2, read_bytes=100, read_units=2)
    two = Usage(requests=1, write_bytes=50, write_units=1, rate_limited=1)

    both = one + two
    one.add({"requests": 3, "write_units": 4})

    assert both == Usage(2 + 1, 100, 50, 2, 1, 1)
    assert one == Usage(requests=5, read_bytes=100, read_units=2, write_units=4)
    snapshot = both.as_dict()
    assert list(snapshot) == list(COUNTERS)
    snapshot["requests"] = 99
    assert both.requests == 3
    assert Usage.from_dict(both.as_dict()) == both


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reads": 1}, "Unknown usage counter(s) reads; the counters are requests, read_bytes"),
        ({"requests": -1}, "Usage counter requests must be an integer >= 0, not -1"),
        ({"requests": True}, "Usage counter requests must be an integer >= 0, not True"),
        ({"read_bytes": 1.5}, "Usage counter read_bytes must be an integer >= 0, not 1.5"),
    ],
)
def test_usage_from_bad_data_says_what_is_wrong(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        Usage.from_dict(data)  # type: ignore[arg-type]


def test_cost_is_gross_at_the_published_prices() -> None:
    # PRICE's worked example: 0.15 GB of KVS reads -> (0.15 - 0.1) x $0.055 = $0.00275 billed
    reads = Usage(read_bytes=150_000_000)

    assert reads.cost_usd() == 0.00825  # exactly: the allowance stays
    allowance_value = PRICING.free_read_gb * PRICING.read_usd_per_gb
    assert reads.cost_usd() - allowance_value == pytest.approx(0.00275)
    assert reads.allowance_share() == {"read": 1.5, "write": 0.0}
    assert Usage(write_bytes=10**9).cost_usd() == 1.090


def test_ten_thousand_10_kb_writes_are_the_whole_write_allowance() -> None:
    # reference §6: "0.1 GB written equals 10,000 writes of 10 KB (at 10^9 bytes per GB)"
    usage = Usage(write_bytes=10_000 * 10_000, write_units=10_000)

    assert usage.allowance_share()["write"] == 1.0
    assert usage.cost_usd() == 0.109


@pytest.mark.parametrize(
    ("read_bytes", "write_bytes", "cost"),
    [
        (0, 100_000_000, 0.109),  # float arithmetic gave 0.10900000000000001
        (0, 447_500, 0.000487775),  # the figure of the realism page's example
        (0, 1, 1.09e-9),
        (150_000_000, 0, 0.00825),
        (1, 1, 1.145e-9),
        (123_456_789, 987_654_321, 1.083333333285),  # 0.006790123395 + 1.07654320989
    ],
)
def test_an_exact_cost_is_within_a_maximum_of_the_same_figure(
    read_bytes: int, write_bytes: int, cost: float
) -> None:
    # a test that works a cost out by hand and asserts it as the maximum must pass
    usage = Usage(read_bytes=read_bytes, write_bytes=write_bytes)
    assert usage.cost_usd() == cost
    assert_usage(usage, cost_usd=cost)
    with pytest.raises(AssertionError, match="cost_usd"):
        assert_usage(usage, cost_usd=cost * (1 - 1e-9))


@pytest.mark.parametrize(
    ("write_bytes", "shown"),
    [
        (0, "0%"),
        (100, "<0.001%"),
        (65_300, "0.0653%"),
        (22_573_190, "22.6%"),
        (150_000_000, "150%"),
        (12_345_000_000, "12,345%"),
    ],
)
def test_allowance_shares_read_plainly(write_bytes: int, shown: str) -> None:
    text = Usage(write_bytes=write_bytes).describe()

    assert text.endswith(f"this is 0% and {shown} of it")


def test_the_price_table_carries_its_source_and_date() -> None:
    assert PRICING.source == "https://developer.atlassian.com/platform/forge/forge-platform-pricing"
    assert (PRICING.updated, PRICING.billing_from) == ("2025-06-30", "2026-01-01")
    assert (PRICING.read_usd_per_gb, PRICING.write_usd_per_gb) == (0.055, 1.090)
    assert (PRICING.free_read_gb, PRICING.free_write_gb) == (0.1, 0.1)


# -- Meter ------------------------------------------------------------------------------


def test_meter_counts_per_installation_and_in_total() -> None:
    meter = Meter()
    value = b'{"key":"a","value":1}'

    meter.record("set", {"key": "a", "value": 1}, status=204)
    meter.record("get", {"key": "a"}, value, status=200)
    meter.record("get", {"key": "b"}, b'{"code":"KEY_NOT_FOUND"}', status=404)
    meter.record("set", {"key": "c", "value": 2}, status=429, rate_limited=True)
    meter.record("get", {"key": "a"}, value, status=200, installation="site-b")

    default = Usage(
        requests=4, read_bytes=len(value), write_bytes=21, read_units=1, write_units=1,
        rate_limited=1,
    )  # fmt: skip
    site_b = Usage(requests=1, read_bytes=len(value), read_units=1)
    assert meter.usage("default") == default
    assert meter.usage("site-b") == site_b
    assert meter.usage("site-c") == Usage()
    assert meter.total == default + site_b
    assert meter.by_installation() == {"default": default, "site-b": site_b}
    assert meter.as_dict() == {"default": default.as_dict(), "site-b": site_b.as_dict()}


def test_meter_hands_out_snapshots() -> None:
    meter = Meter()
    meter.record("delete", {"key": "a"}, status=204)
    seen = meter.usage("default")

    meter.record("delete", {"key": "b"}, status=204)
    seen.requests = 100

    assert meter.usage("default").requests == 2


def test_meter_record_returns_the_charge_and_reset_forgets() -> None:
    meter = Meter()

    charge = meter.record("batch/get", [{"key": "a"}], b"x" * 10_001, status=200)
    meter.reset()

    assert charge == Charge(read_bytes=10_001, read_units=2)
    assert meter.total == Usage()
    assert meter.by_installation() == {}


def test_meter_counts_exactly_under_eight_threads() -> None:
    meter = Meter()
    body = {"key": "k", "value": "v"}

    def work() -> None:
        for _ in range(2_000):
            meter.record("set", body, status=204)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert meter.total == Usage(requests=16_000, write_bytes=16_000 * 23, write_units=16_000)


# -- assert_usage -----------------------------------------------------------------------


def test_assert_usage_passes_within_the_maxima() -> None:
    usage = Usage(requests=10, write_units=10, write_bytes=1_000)

    assert_usage(usage, requests=10, write_units=10, cost_usd=0.01)


def test_assert_usage_shows_every_figure_and_names_what_was_exceeded() -> None:
    usage = Usage(requests=30, read_bytes=1_234, write_bytes=98_765, read_units=2, write_units=12)

    with pytest.raises(AssertionError) as failure:
        assert_usage(usage, requests=25, write_units=10, read_units=5)

    assert str(failure.value) == (
        "Forge storage usage exceeds 2 of the maxima: requests 30 > 25, write_units 12 > 10\n"
        "  requests            30  (at most 25: EXCEEDED)\n"
        "  read_bytes       1,234\n"
        "  write_bytes     98,765\n"
        "  read_units           2  (at most 5)\n"
        "  write_units         12  (at most 10: EXCEEDED)\n"
        "  rate_limited         0\n"
        "  cost_usd      0.000108\n"
        "  cost_usd is gross, at Forge's prices of 2025-06-30, before the\n"
        "  monthly free allowance (0.1 GB read, 0.1 GB written, per app): this is 0.00123% "
        "and 0.0988% of it"
    )


def test_assert_usage_on_cost() -> None:
    with pytest.raises(AssertionError, match=r"cost_usd 1\.090000 > 0\.500000"):
        assert_usage(Usage(write_bytes=10**9), cost_usd=0.5)


def test_assert_usage_refuses_unknown_maxima_naming_the_valid_ones() -> None:
    with pytest.raises(TypeError) as failure:
        assert_usage(Usage(), writes=1, requests=2)

    assert str(failure.value) == (
        "assert_usage() got unknown maxima writes; the names are: requests, read_bytes, "
        "write_bytes, read_units, write_units, rate_limited, cost_usd"
    )


def test_assert_usage_needs_a_maximum() -> None:
    with pytest.raises(TypeError, match=r"needs at least one maximum, e\.g\. assert_usage\("):
        assert_usage(Usage())


@pytest.mark.parametrize("limit", [-1, "10", None, True, float("nan")])
def test_assert_usage_refuses_a_maximum_that_is_not_a_number(limit: object) -> None:
    with pytest.raises(ValueError, match=r"maximum write_units must be a number >= 0, like "):
        assert_usage(Usage(), write_units=limit)  # type: ignore[arg-type]
