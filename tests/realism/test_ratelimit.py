"""Rate limits per installation: sliding windows on the test's clock (freezegun, time-machine)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest

from pytest_forge_storage._usage import NO_CHARGE, charge_for
from pytest_forge_storage.router._ratelimit import RateLimiter, RateLimits, Refusal

if TYPE_CHECKING:
    from tests.realism._support import Clock

pytestmark = pytest.mark.usefixtures("clock")


def serve(
    limiter: RateLimiter,
    operation: str,
    key: str | None = None,
    *,
    size: int = 100,
    entity_name: str | None = None,
) -> Refusal | None:
    """One request as the router will run it: admit, serve, settle. ``size`` is the compact
    size of a write's request body or of a read's response."""
    name = key or "k"
    body: Any = {
        "key": name,
        "value": "x" * max(0, size - len('{"key":"","value":""}') - len(name)),
    }
    write = charge_for(operation, body, status=200).write_bytes
    assert write in (0, size) or size < 30  # 0 for a read
    refusal = limiter.admit(operation, key, entity_name, write_bytes=write)
    if refusal is None:
        charge = charge_for(operation, body, b"x" * size, status=200)
        limiter.settle(operation, key, entity_name, charge)
    return refusal


def admitted(limiter: RateLimiter, count: int, operation: str = "get", **kwargs: Any) -> int:
    return sum(serve(limiter, operation, **kwargs) is None for _ in range(count))


# -- requests per second ----------------------------------------------------------------


def test_a_frozen_clock_is_one_instant_and_the_1001st_request_is_refused(clock: Clock) -> None:
    limiter = RateLimiter()

    assert admitted(limiter, 1000) == 1000
    refusal = serve(limiter, "get", "k")

    assert refusal is not None
    assert (refusal.error.code, refusal.error.status) == ("RATE_LIMIT_EXCEEDED", 429)
    assert refusal.limit == "requests_per_second"
    assert refusal.error.message == (
        "Rate limit exceeded: at most 1,000 requests per second per installation, and 1,000 "
        "were made in the last second. The test's clock has not moved during these requests "
        "(a frozen clock makes them one instant): advance it by 1 s, e.g. freezer.tick(1) with "
        "freezegun or traveller.shift(1) with time-machine."
    )
    clock.advance(1)
    assert serve(limiter, "get", "k") is None


def test_the_window_slides_rather_than_resetting_each_second(clock: Clock) -> None:
    limiter = RateLimiter()

    assert admitted(limiter, 600) == 600
    clock.advance(0.5)
    assert admitted(limiter, 400) == 400
    assert serve(limiter, "get") is not None
    clock.advance(0.5)  # the first 600 leave; the 400 of half a second ago stay
    assert admitted(limiter, 601) == 600

    refusal = serve(limiter, "get")
    assert refusal is not None
    assert refusal.retry_after == 1
    assert refusal.error.message.endswith(
        "The window admits this request in 1 s: batch the calls and back off when Forge "
        "answers 429."
    )


def test_a_request_counts_for_exactly_one_second(clock: Clock) -> None:
    limiter = RateLimiter(RateLimits(requests_per_second=1))
    assert serve(limiter, "get") is None

    clock.advance(0.999_999)
    assert serve(limiter, "get") is not None
    clock.advance(0.000_001)
    assert serve(limiter, "get") is None


def test_refused_requests_use_no_budget(clock: Clock) -> None:
    limiter = RateLimiter(RateLimits(requests_per_second=2, write_units_per_minute=10))
    assert admitted(limiter, 2, "set", size=50_000) == 2  # 5 units each: both budgets used
    clock.advance(0.5)
    assert admitted(limiter, 3, "set", size=100) == 0  # refused half a second later
    clock.advance(0.5)

    assert limiter.remaining() == {
        "requests_per_second": 2,
        "read_units_per_minute": 4000,
        "write_units_per_minute": 0,
    }
    clock.advance(59)
    assert limiter.remaining()["write_units_per_minute"] == 10


def test_withdrawn_admissions_leave_the_newest_instants_first(clock: Clock) -> None:
    limiter = RateLimiter(RateLimits(requests_per_second=4))
    assert admitted(limiter, 2) == 2
    clock.advance(0.5)
    assert admitted(limiter, 1) == 1
    limiter.withdraw(2)  # the request at 0.5 s and one of the two at 0 s
    assert limiter.remaining()["requests_per_second"] == 3
    clock.advance(0.5)  # the one left, at 0 s, leaves the window
    assert limiter.remaining()["requests_per_second"] == 4
    limiter.withdraw(5)  # never below empty
    assert admitted(limiter, 5) == 4


def test_eight_threads_at_one_instant_get_exactly_the_budget() -> None:
    limiter = RateLimiter()
    counts: list[int] = []

    def work() -> None:
        counts.append(sum(limiter.admit("get", "k") is None for _ in range(250)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(counts) == 1000


def test_an_unknown_path_counts_against_the_request_rate_only(clock: Clock) -> None:
    limiter = RateLimiter(RateLimits(requests_per_second=1))

    assert limiter.admit(None, write_bytes=10**9) is None
    assert limiter.admit("get") is not None


def test_the_caller_may_pass_the_clock_it_read(clock: Clock) -> None:
    import time

    limiter = RateLimiter(RateLimits(requests_per_second=1))
    assert limiter.admit("get", now=time.time()) is None

    assert limiter.admit("get", now=time.time() + 0.5) is not None
    assert limiter.admit("get", now=time.time() + 1) is None
    assert limiter.admit("get") is not None  # the frozen clock is behind: it stood still


# -- units per minute -------------------------------------------------------------------


def test_writes_are_refused_before_they_would_exceed_4000_units(clock: Clock) -> None:
    limiter = RateLimiter()
    for i in range(571):  # 65 KB each: 7 units, 3,997 in all
        assert serve(limiter, "set", f"k{i}", size=65_000) is None

    refusal = serve(limiter, "set", "k-next", size=65_000)

    assert refusal is not None
    assert refusal.limit == "write_units_per_minute"
    assert refusal.error.message == (
        "Rate limit exceeded: at most 4,000 write units per minute per installation (a unit is "
        "10,000 bytes of request body, rounded up), and 3,997 were used in the last 60 seconds; "
        "this request needs 7. The test's clock has not moved during these requests (a frozen "
        "clock makes them one instant): advance it by 60 s, e.g. freezer.tick(60) with "
        "freezegun or traveller.shift(60) with time-machine."
    )
    assert serve(limiter, "delete", "k-small", size=20) is None  # 1 unit still fits
    clock.advance(60)
    assert serve(limiter, "set", "k-next", size=65_000) is None


def test_a_read_is_refused_only_once_the_window_is_at_its_budget(clock: Clock) -> None:
    limiter = RateLimiter()
    for i in range(571):  # 3,997 units
        assert serve(limiter, "get", f"k{i}", size=65_000) is None

    # 3,997 < 4,000: admitted, and charged its 7 units after it was served
    assert serve(limiter, "get", "k-571", size=65_000) is None
    refusal = serve(limiter, "batch/get", size=100)

    assert refusal is not None
    assert refusal.limit == "read_units_per_minute"
    assert "4,004 were used in the last 60 seconds" in refusal.error.message
    assert limiter.remaining()["read_units_per_minute"] == 0  # never below zero
    clock.advance(60)
    assert serve(limiter, "query", size=100) is None


def test_retry_after_is_the_whole_seconds_until_the_window_admits(clock: Clock) -> None:
    limiter = RateLimiter(RateLimits(write_units_per_minute=10), retry_after=True)
    assert serve(limiter, "set", "a", size=60_000) is None  # 6 units at 0 s
    clock.advance(20)
    assert serve(limiter, "set", "b", size=40_000) is None  # 4 units at 20 s
    clock.advance(5.5)

    refusal = serve(limiter, "set", "c", size=30_000)  # 3 units: fits once the 6 leave at 60 s

    assert refusal is not None
    assert refusal.retry_after == 35  # 34.5 s, rounded up
    assert refusal.headers == {"retry-after": "35"}
    assert "The window admits this request in 35 s" in refusal.error.message
    clock.advance(34.4)
    assert serve(limiter, "set", "c", size=30_000) is not None
    clock.advance(0.1)
    assert serve(limiter, "set", "c", size=30_000) is None


def test_retry_after_waits_for_as_many_entries_as_must_leave(clock: Clock) -> None:
    limiter = RateLimiter(RateLimits(write_units_per_minute=10))
    assert serve(limiter, "set", "a", size=40_000) is None  # 4 units at 0 s
    clock.advance(10)
    assert serve(limiter, "set", "b", size=40_000) is None  # 4 units at 10 s
    clock.advance(10)

    refusal = serve(limiter, "set", "c", size=80_000)  # 8 units: both must leave

    assert refusal is not None
    assert refusal.retry_after == 50


def test_no_retry_after_header_unless_asked(clock: Clock) -> None:
    limiter = RateLimiter(RateLimits(requests_per_second=1))
    serve(limiter, "get")

    refusal = serve(limiter, "get")

    assert refusal is not None
    assert refusal.headers == {}
    assert refusal.retry_after == 1


def test_a_transaction_over_the_limit_is_too_many_requests(clock: Clock) -> None:
    limiter = RateLimiter(RateLimits(requests_per_second=1))
    serve(limiter, "transaction")

    refusal = serve(limiter, "transaction")

    assert refusal is not None
    assert (refusal.error.code, refusal.error.status) == ("TOO_MANY_REQUESTS", 429)


def test_a_failed_request_consumes_no_units(clock: Clock) -> None:
    limiter = RateLimiter()

    assert limiter.admit("set", "k", write_bytes=65_000) is None
    limiter.settle("set", "k", None, charge_for("set", {"key": "k"}, status=400))
    limiter.settle("get", "k", None, NO_CHARGE)

    assert limiter.remaining() == {
        "requests_per_second": 999,
        "read_units_per_minute": 4000,
        "write_units_per_minute": 4000,
    }


def test_a_request_larger_than_the_whole_budget_fits_only_an_empty_window(clock: Clock) -> None:
    limiter = RateLimiter(RateLimits(write_units_per_minute=5))

    assert serve(limiter, "batch/set", size=100_000) is None  # 10 units into an empty window
    assert serve(limiter, "batch/set", size=100) is not None
    clock.advance(60)
    assert serve(limiter, "batch/set", size=100) is None


# -- per key ----------------------------------------------------------------------------


def test_writes_to_one_key_are_limited_to_1_mb_per_second(clock: Clock) -> None:
    limiter = RateLimiter()
    for _ in range(5):
        assert serve(limiter, "set", "hot", size=200_000) is None

    refusal = serve(limiter, "set", "hot", size=200_000)

    assert refusal is not None
    assert refusal.limit == "key_write_bytes_per_second"
    assert refusal.error.message.startswith(
        "Rate limit exceeded: at most 1 MB (1,000,000 bytes) per second of writes to one key, "
        "and key 'hot' had 1,000,000 bytes written in the last second; this request writes "
        "200,000. The test's clock has not moved"
    )
    assert serve(limiter, "set", "cold", size=200_000) is None
    assert serve(limiter, "secret/set", "hot", size=200_000) is None  # secrets: own keys
    clock.advance(1)
    assert serve(limiter, "set", "hot", size=200_000) is None


def test_an_entity_key_is_its_own_per_key_window(clock: Clock) -> None:
    limiter = RateLimiter(RateLimits(key_write_bytes_per_second=1_000))
    assert serve(limiter, "entity/set", "e1", entity_name="employee", size=1_000) is None
    assert serve(limiter, "entity/set", "e1", entity_name="customer", size=1_000) is None

    refusal = serve(limiter, "entity/delete", "e1", entity_name="employee", size=100)

    assert refusal is not None
    assert "key 'e1' of entity 'employee' had 1,000 bytes written" in refusal.error.message


def test_reads_of_one_key_are_limited_to_12_mb_per_second(clock: Clock) -> None:
    limiter = RateLimiter()
    for _ in range(6):
        assert serve(limiter, "secret/get", "big", size=2_000_000) is None

    refusal = serve(limiter, "secret/get", "big", size=100)

    assert refusal is not None
    assert refusal.limit == "key_read_bytes_per_second"
    assert "12 MB (12,000,000 bytes) per second of reads of one key, and secret key 'big' had" in (
        refusal.error.message
    )
    assert serve(limiter, "get", "big", size=100) is None  # the KVS key 'big' is another key
    clock.advance(1)
    assert serve(limiter, "secret/get", "big", size=100) is None


def test_a_key_waits_for_its_own_entries_only(clock: Clock) -> None:
    limiter = RateLimiter()
    assert serve(limiter, "set", "hot", size=600_000) is None
    clock.advance(0.2)
    assert serve(limiter, "set", "cold", size=900_000) is None
    clock.advance(0.3)
    assert serve(limiter, "set", "hot", size=400_000) is None
    clock.advance(0.1)

    refusal = serve(limiter, "set", "hot", size=300_000)  # fits when the first hot write leaves

    assert refusal is not None
    assert refusal.retry_after == 1
    assert "had 1,000,000 bytes written" in refusal.error.message
    assert "The window admits this request in 1 s" in refusal.error.message
    clock.advance(0.4)
    assert serve(limiter, "set", "hot", size=300_000) is None


def test_batches_count_toward_the_installation_only(clock: Clock) -> None:
    limiter = RateLimiter(RateLimits(key_write_bytes_per_second=1_000))

    assert admitted(limiter, 3, "batch/set", key="hot", size=900) == 3


# -- the clock --------------------------------------------------------------------------


def test_a_clock_moving_backwards_grants_no_budget_and_never_crashes(clock: Clock) -> None:
    limiter = RateLimiter()
    assert admitted(limiter, 1000) == 1000

    clock.rewind(3600)
    refusal = serve(limiter, "get")
    remaining = limiter.remaining()

    assert refusal is not None
    assert refusal.retry_after == 1
    assert remaining["requests_per_second"] == 0
    clock.advance(1)  # the windows go on ageing from where the clock went back to
    assert serve(limiter, "get") is None


def test_a_clock_that_jumps_back_and_forth_keeps_counting(clock: Clock) -> None:
    limiter = RateLimiter(RateLimits(requests_per_second=3))
    assert serve(limiter, "get") is None
    clock.advance(0.6)
    assert serve(limiter, "get") is None
    clock.rewind(10)
    assert serve(limiter, "get") is None
    assert serve(limiter, "get") is not None
    clock.advance(0.4)  # the first request is 1 s old on the windows' clock

    assert serve(limiter, "get") is None
    assert serve(limiter, "get") is not None


def test_memory_is_bounded_by_the_windows(clock: Clock) -> None:
    limiter = RateLimiter()
    for step in range(200):  # 100 s of traffic over 12,000 distinct keys
        clock.advance(0.5)
        for i in range(30):
            assert serve(limiter, "set", f"k{step}-{i}", size=100) is None
            assert serve(limiter, "get", f"k{step}-{i}", size=100) is None

    # 2 s of per-key entries and 60 s of unit entries (merged per instant), not 100 s
    assert limiter.stored_entries() <= 2 + 2 * 121 + 2 * 60
    limiter.reset()
    assert limiter.stored_entries() == 0


def test_limits_must_be_positive_integers() -> None:
    with pytest.raises(ValueError, match=r"RateLimits.requests_per_second must be an integer"):
        RateLimits(requests_per_second=0)
