"""Realism: what usage counting and rate limiting add to each served call.

* ``Meter.record`` for a read (a ``get`` answer: the length of its bytes) and for a write (a
  ``set`` body: compact JSON encoding), beside the same loop calling a no-op with the same
  arguments: the per-call cost in nanoseconds is the difference;
* ``RateLimiter.admit`` + ``settle`` for a read and a write, likewise (limits set out of
  reach, so every request takes the admitted path; the real clock, ``time.time()``);
* a served REST ``get`` and ``set`` through ``httpx.Client``, with the router's own wiring
  switched on and off in the same process: usage counting (the default) beside the same
  fake with ``router.meter.record`` a no-op (budget <= 1.03x: what every call pays with
  realism off), and ``storage.realism.rate_limits = True`` beside it off (budget <= 1.15x);
  and usage counting on a ``set`` of a 150 KB value, where sizing the body must not encode
  the value a second time (the engine has measured it already).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from _timing import Config, Row, at_most, median, paired, simply, us

from pytest_forge_storage import mock_forge_storage
from pytest_forge_storage._usage import NO_CHARGE, Charge, charge_for
from pytest_forge_storage.router._meter import Meter
from pytest_forge_storage.router._ratelimit import RateLimiter, RateLimits

BASE = "https://api.atlassian.com/forge/storage/kvs/v1/"
AUTH = {"Authorization": "Bearer benchmark-token"}
KEY = "bench:key"
VALUE = {"name": "Ada Lovelace", "age": 36, "tags": ["math", "engines"]}
SET_BODY = {"key": KEY, "value": VALUE}
GET_BODY = {"key": KEY}
GET_ANSWER = json.dumps({"key": KEY, "value": VALUE}, separators=(",", ":")).encode()
#: A large write: the meter must not pay for encoding a large value a second time.
BIG_VALUE = {
    "rows": [
        {"id": i, "name": f"user {i}", "tags": ["a", "b"], "score": i * 1.5} for i in range(2500)
    ]
}
BIG_SET_BODY = {"key": KEY, "value": BIG_VALUE}
BIG_LABEL = f"{len(json.dumps(BIG_VALUE, separators=(',', ':'))) // 1000} KB"
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


class _Unmetered(Meter):
    """The meter with ``record`` a no-op: the served call as it would be without counting."""

    __slots__ = ()

    def record(self, *_args: Any, **_kwargs: Any) -> Charge:
        return NO_CHARGE


def _served_rows(config: Config) -> list[Row]:
    """The real wiring, switched on and off in this process: each side serves the same call
    through ``httpx.Client`` from a fresh fake per batch (so the default Forge limits are never
    reached: a batch is at most a few hundred requests)."""
    import httpx

    rows = []
    with httpx.Client() as client:
        for operation, body, what, number in (
            ("get", GET_BODY, "get", None),
            ("set", SET_BODY, "set", None),
            ("set", BIG_SET_BODY, f"set of a {BIG_LABEL} value", max(config.number // 10, 4)),
        ):
            url = BASE + operation

            def send(url: str = url, body: Any = body) -> Any:
                return client.post(url, json=body, headers=AUTH)

            def side(
                metered: bool = True, limited: bool = False, send: Callable[[], Any] = send
            ) -> contextlib.AbstractContextManager[Callable[[], Any]]:
                @contextlib.contextmanager
                def make() -> Iterator[Callable[[], Any]]:
                    with mock_forge_storage() as storage:
                        storage.kvs[KEY] = VALUE
                        storage.realism.rate_limits = limited
                        if not metered:
                            storage._router.meter = _Unmetered()
                        assert send().status_code in (200, 204)
                        yield send
                        served = storage.usage
                        assert served.rate_limited == 0, served
                        assert served.requests == (len(storage.calls) if metered else 0)

                return make()

            figures = (
                (
                    "usage counted",
                    lambda side=side: side(metered=True),
                    lambda side=side: side(metered=False),
                    "the same with Meter.record a no-op",
                    1.03,
                ),
                (
                    "rate_limits on",
                    lambda side=side: side(limited=True),
                    lambda side=side: side(limited=False),
                    "the same with rate_limits off",
                    1.15,
                ),
            )
            for figure, fake, baseline, label, budget in figures[: 1 if number else 2]:
                samples = paired({"baseline": baseline, "fake": fake}, config, number=number)
                rows.append(
                    Row(
                        "realism",
                        f"REST {what} via httpx.Client, {figure}",
                        us(median(samples["fake"])),
                        "us",
                        label,
                        us(median(samples["baseline"])),
                        at_most(budget),
                        note="the router's own wiring, switched on and off in this process",
                        samples=samples,
                    )
                )
    return rows


def realism_rows(config: Config) -> list[Row]:
    return _pure_rows(config) + _served_rows(config)
