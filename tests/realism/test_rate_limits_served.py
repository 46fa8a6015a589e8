"""Rate limits as tests meet them: real requests, on the test's frozen clock, under ``limits``.

Each test runs under freezegun and under time-machine (the ``clock`` fixture of this
directory's conftest): the clock does not tick, so every request is at one instant until the
test advances it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.conftest import AUTH, BASE, Client

if TYPE_CHECKING:
    from tests.realism._support import Clock

GRAPHQL = "https://api.atlassian.com/graphql"

#: The 1001st request's message in a frozen second (the how-to-advance hint included).
FROZEN_RPS = (
    "Rate limit exceeded: at most 1,000 requests per second per installation, and 1,000 were "
    "made in the last second. The test's clock has not moved during these requests (a frozen "
    "clock makes them one instant): advance it by 1 s, e.g. freezer.tick(1) with freezegun or "
    "traveller.shift(1) with time-machine."
)


@pytest.fixture
def limited(forge_storage: Any, clock: Clock) -> Any:
    forge_storage.realism = "limits"
    forge_storage.kvs["k"] = {"n": 1}
    return forge_storage


def post(
    http: httpx.Client, operation: str, body: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    return http.post(BASE + operation, json=body, headers=AUTH if headers is None else headers)


def burst(
    http: httpx.Client,
    count: int,
    operation: str = "get",
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> list[int]:
    """``count`` requests at this instant; their statuses."""
    sent = {"key": "k"} if body is None else body
    return [post(http, operation, sent, headers).status_code for _ in range(count)]


def big_set(key: str, size: int = 100_000) -> dict[str, Any]:
    """A ``set`` body of exactly ``size`` bytes of compact JSON (10 units at 100,000)."""
    return {"key": key, "value": "x" * (size - len('{"key":"","value":""}') - len(key))}


# -- requests per second -------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["requests", "httpx", "httpx-async"])
def test_the_1001st_request_in_a_frozen_second_is_refused_with_how_to_advance(
    limited: Any, clock: Clock, http: httpx.Client, kind: str
) -> None:
    assert set(burst(http, 1000)) == {200}

    answer = Client(kind).post("get", {"key": "k"})

    assert answer.status == 429
    assert answer.body == {"code": "RATE_LIMIT_EXCEEDED", "message": FROZEN_RPS}
    call = limited.calls[-1]
    assert (call.operation, call.status, call.error_code) == ("get", 429, "RATE_LIMIT_EXCEEDED")
    usage = limited.usage
    assert (usage.requests, usage.rate_limited, usage.read_units) == (1001, 1, 1000)

    clock.advance(1)
    assert Client(kind).post("get", {"key": "k"}).status == 200


def test_the_window_slides_with_the_clock(limited: Any, clock: Clock, http: httpx.Client) -> None:
    assert set(burst(http, 600)) == {200}
    clock.advance(0.5)
    assert set(burst(http, 400)) == {200}
    assert burst(http, 1) == [429]

    clock.advance(0.5)  # the first 600 age out; the 400 of half a second ago stay

    assert burst(http, 601) == [200] * 600 + [429]
    message = post(http, "get", {"key": "k"}).json()["message"]
    assert message.endswith(
        "The window admits this request in 1 s: batch the calls and back off when Forge "
        "answers 429."
    )


def test_a_transaction_over_the_limit_is_too_many_requests(
    limited: Any, http: httpx.Client
) -> None:
    burst(http, 1000)

    answer = post(http, "transaction", {"set": [{"key": "a", "value": 1}]})

    assert answer.status_code == 429
    assert answer.json() == {"code": "TOO_MANY_REQUESTS", "message": FROZEN_RPS}
    assert "a" not in limited.kvs


def test_failed_requests_count_toward_the_request_rate(
    limited: Any, clock: Clock, http: httpx.Client
) -> None:
    assert set(burst(http, 1000, body={"key": "missing"})) == {404}

    assert burst(http, 1) == [429]
    assert limited.usage.as_dict() == {
        "requests": 1001,
        "read_bytes": 0,
        "write_bytes": 0,
        "read_units": 0,
        "write_units": 0,
        "rate_limited": 1,
    }


def test_graphql_is_refused_as_a_whole_request(limited: Any, http: httpx.Client) -> None:
    burst(http, 999)
    document = """
        query two($a: ID!, $b: ID!) {
          first: appStoredEntity(key: $a, encrypted: false) { key value }
          second: appStoredEntity(key: $b, encrypted: false) { key value }
        }
    """

    answer = http.post(
        GRAPHQL, json={"query": document, "variables": {"a": "k", "b": "k"}}, headers=AUTH
    )

    # the first field is the 1000th request, the second the 1001st: the whole request is 429
    assert answer.status_code == 429
    assert answer.json() == {
        "errors": [
            {
                "message": FROZEN_RPS,
                "extensions": {"errorType": "RATE_LIMIT_EXCEEDED", "statusCode": 429},
            }
        ]
    }
    assert "retry-after" not in answer.headers
    assert limited.calls[-1].api == "graphql"
    assert limited.calls[-1].status == 429
    assert limited.usage.rate_limited == 1


def test_a_graphql_request_refused_as_a_whole_uses_no_request_slot(
    limited: Any, http: httpx.Client
) -> None:
    burst(http, 998)
    document = """
        query three($k: ID!) {
          a: appStoredEntity(key: $k, encrypted: false) { key }
          b: appStoredEntity(key: $k, encrypted: false) { key }
          c: appStoredEntity(key: $k, encrypted: false) { key }
        }
    """
    answer = http.post(GRAPHQL, json={"query": document, "variables": {"k": "k"}}, headers=AUTH)
    # fields a and b were admitted (the 999th and 1000th), c was refused: nothing ran, so
    # a and b hold no slot, and the second has room for two more requests
    assert answer.status_code == 429
    assert limited.usage.requests == 999  # the 998 and the refused request's one call
    assert burst(http, 3) == [200, 200, 429]


def test_each_installation_has_its_own_limits(limited: Any, http: httpx.Client) -> None:
    site_a = limited.installation("site-a")
    site_b = limited.installation("site-b")
    as_a = {"Authorization": f"Bearer {site_a.token}"}
    as_b = {"Authorization": f"Bearer {site_b.token}"}
    site_b.kvs["k"] = 1

    assert set(burst(http, 1000, headers=as_a)) == {404}
    assert burst(http, 1, headers=as_a) == [429]

    assert set(burst(http, 1000, headers=as_b)) == {200}
    assert burst(http, 1, headers=as_b) == [429]
    assert burst(http, 1) == [200]  # the default installation: untouched
    assert (site_a.usage.rate_limited, site_b.usage.rate_limited) == (1, 1)
    assert limited.usage.rate_limited == 2


def test_realism_off_serves_any_burst(forge_storage: Any, clock: Clock, http: httpx.Client) -> None:
    forge_storage.kvs["k"] = 1
    assert forge_storage.realism.rate_limits is False

    assert set(burst(http, 1500)) == {200}
    assert forge_storage.usage.rate_limited == 0


def test_the_knob_alone_switches_the_limits_on_and_off(
    forge_storage: Any, clock: Clock, http: httpx.Client
) -> None:
    forge_storage.kvs["k"] = 1
    forge_storage.realism.rate_limits = True
    assert burst(http, 1001)[-1] == 429

    forge_storage.realism.rate_limits = False
    assert burst(http, 1) == [200]


def test_reset_forgets_the_windows(limited: Any, http: httpx.Client) -> None:
    burst(http, 1000)

    limited.reset()

    assert burst(http, 1, body={"key": "missing"}) == [404]
    assert limited.realism.rate_limits is True  # the knobs stay


# -- Retry-After -----------------------------------------------------------------------------
def test_retry_after_only_when_asked(limited: Any, clock: Clock, http: httpx.Client) -> None:
    burst(http, 1000)
    assert "retry-after" not in post(http, "get", {"key": "k"}).headers

    limited.realism.retry_after = True
    answer = post(http, "get", {"key": "k"})

    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "1"
    graphql = http.post(
        GRAPHQL,
        json={"query": '{ appStoredEntity(key: "k", encrypted: false) { key } }'},
        headers=AUTH,
    )
    assert (graphql.status_code, graphql.headers["retry-after"]) == (429, "1")

    clock.advance(1)
    assert "retry-after" not in post(http, "get", {"key": "missing"}).headers  # 404: none


# -- units per minute ---------------------------------------------------------------------
def test_write_units_are_limited_to_4000_per_sliding_minute(
    limited: Any, clock: Clock, http: httpx.Client
) -> None:
    limited.realism.retry_after = True
    # 400 writes of 100,000 bytes: 10 units each, 4,000 in all (distinct keys: 1 MB/s per key)
    assert {post(http, "set", big_set(f"k{i}")).status_code for i in range(400)} == {204}

    refused = post(http, "set", {"key": "small", "value": 1})
    assert refused.status_code == 429
    assert refused.json()["message"] == (
        "Rate limit exceeded: at most 4,000 write units per minute per installation (a unit is "
        "10,000 bytes of request body, rounded up), and 4,000 were used in the last 60 seconds; "
        "this request needs 1. The test's clock has not moved during these requests (a frozen "
        "clock makes them one instant): advance it by 60 s, e.g. freezer.tick(60) with "
        "freezegun or traveller.shift(60) with time-machine."
    )
    assert refused.headers["retry-after"] == "60"

    clock.advance(1)  # a new second, the same minute: reads go on, writes wait
    assert post(http, "get", {"key": "k"}).status_code == 200
    later = post(http, "set", {"key": "small", "value": 1})
    assert later.status_code == 429
    assert later.headers["retry-after"] == "59"
    assert "The window admits this request in 59 s" in later.json()["message"]

    clock.advance(59)
    assert post(http, "set", {"key": "small", "value": 1}).status_code == 204
    assert limited.usage.write_units == 4001
    assert limited.usage.rate_limited == 2


def test_a_write_that_would_go_over_is_refused_and_a_smaller_one_still_fits(
    limited: Any, http: httpx.Client
) -> None:
    for i in range(399):
        post(http, "set", big_set(f"k{i}"))  # 3,990 units
    assert post(http, "set", big_set("eleven", 110_000)).status_code == 429  # 11 > 10 left

    assert post(http, "set", big_set("ten")).status_code == 204
    assert limited.usage.write_units == 4000


def test_read_units_are_charged_from_the_answer_and_may_overshoot_once(
    limited: Any, clock: Clock, http: httpx.Client
) -> None:
    limited.kvs["big"] = "x" * 200_000  # a get answers 200,020 bytes: 21 units
    for i in range(199):
        assert post(http, "get", {"key": f"missing-{i}"}).status_code == 404  # free
    for _ in range(190):
        clock.advance(0.02)  # 12 MB/s per key: 50 reads of 200 KB a second are 10 MB/s
        assert post(http, "get", {"key": "big"}).status_code == 200

    usage = limited.usage
    assert usage.read_units == 190 * 21  # 3,990: under 4,000, so one more read is admitted
    clock.advance(0.02)
    assert post(http, "get", {"key": "big"}).status_code == 200  # 4,011: over, by one read
    clock.advance(0.02)
    refused = post(http, "get", {"key": "k"})
    assert refused.status_code == 429
    assert "at most 4,000 read units per minute per installation" in refused.json()["message"]


def test_writes_to_one_key_are_limited_to_1_mb_per_second(
    limited: Any, clock: Clock, http: httpx.Client
) -> None:
    for _ in range(5):
        assert post(http, "set", big_set("hot", 200_000)).status_code == 204

    refused = post(http, "set", big_set("hot", 200_000))
    assert refused.status_code == 429
    assert refused.json()["message"].startswith(
        "Rate limit exceeded: at most 1 MB (1,000,000 bytes) per second of writes to one key, "
        "and key 'hot' had 1,000,000 bytes written in the last second; this request writes "
        "200,000."
    )
    assert post(http, "set", big_set("cold", 200_000)).status_code == 204
    assert post(http, "secret/set", big_set("hot", 100_000)).status_code == 204  # a secret key

    clock.advance(1)
    assert post(http, "set", big_set("hot", 200_000)).status_code == 204


# -- the clock going backwards --------------------------------------------------------------
def test_a_clock_moving_backwards_never_crashes_and_grants_nothing(
    limited: Any, clock: Clock, http: httpx.Client
) -> None:
    assert set(burst(http, 1000)) == {200}

    clock.rewind(30)  # e.g. traveller.move_to(earlier) in the middle of a test
    assert burst(http, 1) == [429]
    clock.rewind(3600)
    answer = post(http, "get", {"key": "k"})
    assert answer.status_code == 429
    assert answer.json()["message"] == FROZEN_RPS

    clock.advance(1)  # a second after the clock stood still
    assert burst(http, 1000) == [200] * 1000
    assert burst(http, 1) == [429]
    usage = limited.usage
    assert min(usage.as_dict().values()) >= 0
    assert (usage.requests, usage.rate_limited) == (2003, 3)
