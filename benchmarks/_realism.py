"""Realism: what usage counting and rate limiting add to each served call.

* ``Meter.record`` for a read (a ``get`` answer: the length of its bytes) and for a write (a
  ``set`` body: compact JSON encoding), beside the same loop calling a no-op with the same
  arguments: the per-call cost in nanoseconds is the difference;
* ``RateLimiter.admit`` + ``settle`` for a read and a write, likewise (limits set out of
  reach, so every request takes the admitted path; the real clock, ``time.time()``);
* the same work added to a served call through ``httpx.Client``, beside the served call
  alone: usage counting (what every call will pay with realism off, budget <= 1.03x) and
  counting plus rate limiting (realism ``limits``, budget <= 1.15x). The router does not call
  them yet, so this simulates the wiring: the served call, then the same calls the gate will
  make, on the body the protocol has already parsed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from _timing import Config, Row, at_most, median, paired, simply, us

from pytest_forge_storage import mock_forge_storage
from pytest_forge_storage._usage import charge_for, request_size
from pytest_forge_storage.router._meter import Meter
from pytest_forge_storage.router._ratelimit import RateLimiter, RateLimits

BASE = "https://api.atlassian.com/forge/storage/kvs/v1/"
AUTH = {"Authorization": "Bearer benchmark-token"}
KEY = "bench:key"
VALUE = {"name": "Ada Lovelace", "age": 36, "tags": ["math", "engines"]}
SET_BODY = {"key": KEY, "value": VALUE}
GET_BODY = {"key": KEY}
GET_ANSWER = json.dumps({"key": KEY, "value": VALUE}, separators=(",", ":")).encode()
#: Every request is admitted: the benchmark measures the admitted path, not refusals.
OUT_OF_REACH = RateLimits(
    requests_per_second=10**12,
    read_units_per_minute=10**12,
    write_units_per_minute=10**12,
    key_write_bytes_per_second=10**15,
    key_read_bytes_per_second=10**15,
)


def _bare(*_args: Any, **_kwargs: Any) -> None:
    """The baseline's call: same arguments, no work."""


def _ns_row(figure: str, samples: dict[str, list[float]], note: str) -> Row:
    fake, base = median(samples["fake"]), median(samples["baseline"])
    return Row(
        "realism",
        figure,
        fake,
        "ns",
        "same loop, no-op call",
        base,
        note=f"{note}; +{fake - base:,.0f} ns per call",
        samples=samples,
    )


def _pure_rows(config: Config) -> list[Row]:
    meter = Meter()

    def record_read() -> None:
        meter.record("get", GET_BODY, GET_ANSWER, status=200)

    def bare_read() -> None:
        _bare("get", GET_BODY, GET_ANSWER, status=200)

    def record_write() -> None:
        meter.record("set", SET_BODY, b"", status=204)

    def bare_write() -> None:
        _bare("set", SET_BODY, b"", status=204)

    limiter = RateLimiter(OUT_OF_REACH)
    write_charge = charge_for("set", SET_BODY, status=204)
    read_charge = charge_for("get", GET_BODY, GET_ANSWER, status=200)

    def limit_read() -> None:
        limiter.admit("get", KEY, None, write_bytes=0)
        limiter.settle("get", KEY, None, read_charge)

    def bare_limit_read() -> None:
        _bare("get", KEY, None, write_bytes=0)
        _bare("get", KEY, None, read_charge)

    def limit_write() -> None:
        limiter.admit("set", KEY, None, write_bytes=write_charge.write_bytes)
        limiter.settle("set", KEY, None, write_charge)

    def bare_limit_write() -> None:
        _bare("set", KEY, None, write_bytes=write_charge.write_bytes)
        _bare("set", KEY, None, write_charge)

    rows = []
    for figure, fake, bare, note in (
        ("Meter.record, read (get)", record_read, bare_read, "len() of the answer"),
        ("Meter.record, write (set)", record_write, bare_write, "compact JSON of the body"),
        ("RateLimiter admit + settle, read", limit_read, bare_limit_read, "per-key window too"),
        ("RateLimiter admit + settle, write", limit_write, bare_limit_write, "units precomputed"),
    ):
        samples = paired(
            {"fake": lambda op=fake: simply(op), "baseline": lambda op=bare: simply(op)},
            config,
            number=config.number * 10,
        )
        rows.append(_ns_row(figure, samples, note))
    return rows


def _served_rows(config: Config) -> list[Row]:
    import httpx

    rows = []
    with httpx.Client() as client:
        for operation, body, limited, budget in (
            ("get", GET_BODY, False, 1.03),
            ("set", SET_BODY, False, 1.03),
            ("get", GET_BODY, True, 1.15),
            ("set", SET_BODY, True, 1.15),
        ):
            url = BASE + operation

            def send(url: str = url, body: Any = body) -> Any:
                return client.post(url, json=body, headers=AUTH)

            meter = Meter()
            limiter = RateLimiter(OUT_OF_REACH)

            def metered(
                send: Callable[[], Any] = send,
                operation: str = operation,
                body: Any = body,
                limited: bool = limited,
                meter: Meter = meter,
                limiter: RateLimiter = limiter,
            ) -> Any:
                if not limited:
                    response = send()
                    meter.record(operation, body, response.content, status=response.status_code)
                    return response
                size = request_size(operation, body)
                limiter.admit(operation, KEY, None, write_bytes=size)
                response = send()
                charge = meter.record(
                    operation, body, response.content, status=response.status_code,
                    request_bytes=size,
                )  # fmt: skip
                limiter.settle(operation, KEY, None, charge)
                return response

            @contextlib.contextmanager
            def side(op: Callable[[], Any]) -> Iterator[Callable[[], Any]]:
                with mock_forge_storage() as storage:
                    storage.kvs[KEY] = VALUE
                    op()
                    yield op

            samples = paired(
                {
                    "baseline": lambda send=send: side(send),
                    "fake": lambda metered=metered: side(metered),
                },
                config,
            )
            what = "usage + rate limits" if limited else "usage"
            rows.append(
                Row(
                    "realism",
                    f"REST {operation} via httpx.Client + {what}",
                    us(median(samples["fake"])),
                    "us",
                    "the same served call alone",
                    us(median(samples["baseline"])),
                    at_most(budget),
                    note="simulated wiring: the gate's calls made around the served call",
                    samples=samples,
                )
            )
    return rows


def realism_rows(config: Config) -> list[Row]:
    return _pure_rows(config) + _served_rows(config)
