"""The batch and transaction payload cap: 1 MB under realism (FRGE-1916), 4 MiB off.

Forge documents 4 MB for ``batch/set`` and transactions, but its known bug FRGE-1916 limits
them to 1 MB (reference §3, D). With realism on the fake caps them at 1,000,000 bytes, and
one assignment restores the documented 4,000,000; with realism off today's 4 MiB cap holds.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Client

MIB_4 = 4 * 1024 * 1024


def compact(body: Any) -> int:
    return len(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())


def items_of(size: int, count: int = 25) -> list[dict[str, Any]]:
    """``count`` batch/set items whose compact JSON array is exactly ``size`` bytes."""
    items: list[dict[str, Any]] = [{"key": f"k{i:02}", "value": ""} for i in range(count)]
    room = size - compact(items)
    for item in items:
        item["value"] = "x" * (room // count)
    items[-1]["value"] += "x" * (room % count)
    assert compact(items) == size
    return items


def transaction_of(size: int) -> dict[str, Any]:
    body = {"set": items_of(size - len('{"set":}'), count=20)}
    assert compact(body) == size
    return body


@pytest.fixture
def rq(forge_storage: Any) -> Client:
    return Client("httpx")


def test_realism_off_keeps_the_4_mib_cap(forge_storage: Any, rq: Client) -> None:
    assert forge_storage.realism.batch_payload_limit == MIB_4

    assert rq.post("batch/set", items_of(1_100_000)).status == 200
    assert rq.post("batch/set", items_of(MIB_4)).status == 200
    over = rq.post("batch/set", items_of(MIB_4 + 1))

    assert over.error() == (400, "BAD_REQUEST")
    assert over.body["message"] == (
        f"batch/set payload is {MIB_4 + 1} bytes, but at most {MIB_4} are allowed"
    )
    assert rq.post("transaction", transaction_of(2_000_000)).status == 204


@pytest.mark.parametrize("how", ["preset", "marker-like dict", "knob"])
def test_under_realism_batches_over_1_mb_are_refused(
    forge_storage: Any, rq: Client, how: str
) -> None:
    if how == "preset":
        forge_storage.realism = "limits"
    elif how == "marker-like dict":
        forge_storage.realism = {"batch_payload_limit": 1_000_000}
    else:
        forge_storage.realism.batch_payload_limit = 1_000_000

    assert rq.post("batch/set", items_of(1_000_000)).status == 200
    over = rq.post("batch/set", items_of(1_000_001))

    assert over.error() == (400, "BAD_REQUEST")
    assert over.body["message"] == (
        "batch/set payload is 1000001 bytes, but at most 1000000 are allowed"
    )
    assert "k00" in forge_storage.kvs  # from the first batch only
    assert forge_storage.kvs["k24"] == items_of(1_000_000)[-1]["value"]


def test_under_realism_transactions_over_1_mb_are_refused(forge_storage: Any, rq: Client) -> None:
    forge_storage.realism = "limits"

    answer = rq.post("transaction", transaction_of(1_000_001))

    assert answer.error() == (400, "INVALID_TRANSACTION_REQUEST")
    assert answer.body["message"] == (
        "The transaction payload is 1000001 bytes, but at most 1000000 are allowed"
    )
    assert len(forge_storage.kvs) == 0
    assert rq.post("transaction", transaction_of(1_000_000)).status == 204


def test_one_assignment_restores_the_documented_4_mb(forge_storage: Any, rq: Client) -> None:
    forge_storage.realism = "limits"
    forge_storage.realism.batch_payload_limit = 4_000_000

    assert rq.post("batch/set", items_of(1_100_000)).status == 200
    assert rq.post("transaction", transaction_of(4_000_000)).status == 204
    over = rq.post("batch/set", items_of(4_000_001))
    assert over.body["message"] == (
        "batch/set payload is 4000001 bytes, but at most 4000000 are allowed"
    )
    assert forge_storage.realism.rate_limits is True  # the rest of the preset stays


def test_a_refused_payload_costs_no_units(forge_storage: Any, rq: Client) -> None:
    forge_storage.realism = "limits"

    rq.post("batch/set", items_of(1_500_000))

    usage = forge_storage.usage
    assert (usage.requests, usage.write_bytes, usage.write_units) == (1, 0, 0)


def test_the_marker_and_ini_presets_carry_the_cap(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\nforge_storage_realism = limits\n"
    )
    pytester.makepyfile(
        """
        import pytest

        def test_ini(forge_storage):
            assert forge_storage.realism.batch_payload_limit == 1_000_000

        @pytest.mark.forge_storage(realism={"batch_payload_limit": 4_000_000})
        def test_marker_dict(forge_storage):
            assert forge_storage.realism.batch_payload_limit == 4_000_000
            assert forge_storage.realism.rate_limits is True

        @pytest.mark.forge_storage(realism="off")
        def test_marker_off(forge_storage):
            assert forge_storage.realism.batch_payload_limit == 4 * 1024 * 1024
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)
