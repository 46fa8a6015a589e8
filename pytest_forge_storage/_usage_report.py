"""The usage report of a run: the end-of-run table, the JSON document, JUnit properties.

Pure functions over plain data, so that xdist workers can send their figures to the
controller as they are: a **run** is a mapping ``{nodeid: {installation: counters}}`` where
``counters`` is :meth:`Usage.as_dict() <pytest_forge_storage._usage.Usage.as_dict>`
(``requests``, ``read_bytes``, ``write_bytes``, ``read_units``, ``write_units``,
``rate_limited``). Tests that never reached the fake are simply absent.

* :func:`usage_table` — the text ``pytest --forge-storage-usage`` prints at the end of the run:
  the top tests by write units, the totals, the share of the monthly free allowance;
* :func:`usage_document` / :func:`usage_json` — what ``--forge-storage-usage-json PATH``
  writes: every test's figures under stable keys (:data:`FORMAT`, :data:`VERSION`);
* :func:`junit_properties` — the ``record_property`` pairs of one test, for JUnit XML.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ._usage import COUNTERS, GB_BYTES, PRICING, UNIT_BYTES, Usage, _percent

__all__ = [
    "FORMAT",
    "VERSION",
    "junit_properties",
    "merge_runs",
    "per_test_totals",
    "usage_document",
    "usage_json",
    "usage_table",
]

Installations = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Installations]

#: The JSON document's ``format`` and ``version``: a new version only when keys change meaning
#: or disappear (added keys keep the version).
FORMAT = "pytest-forge-storage-usage"
VERSION = 1
#: Prefix of the JUnit property names.
PROPERTY_PREFIX = "forge_storage"
#: Test ids longer than this are shortened from the left in the table.
NODEID_WIDTH = 64


def _summed(installations: Installations) -> Usage:
    total = Usage()
    for counters in installations.values():
        total.add(counters)
    return total


def per_test_totals(run: Run) -> dict[str, Usage]:
    """Each test's usage summed over its installations."""
    return {nodeid: _summed(installations) for nodeid, installations in run.items()}


def merge_runs(runs: Iterable[Run]) -> dict[str, dict[str, dict[str, int]]]:
    """One run from several (xdist workers' reports): figures of a test that appears twice
    (a rerun) are added."""
    merged: dict[str, dict[str, Usage]] = {}
    for run in runs:
        for nodeid, installations in run.items():
            target = merged.setdefault(nodeid, {})
            for key, counters in installations.items():
                target.setdefault(key, Usage()).add(counters)
    return {
        nodeid: {key: usage.as_dict() for key, usage in installations.items()}
        for nodeid, installations in merged.items()
    }


# -- the terminal table ------------------------------------------------------------------

_COLUMNS = (
    ("requests", "requests"),
    ("read_units", "read units"),
    ("write_units", "write units"),
    ("read_bytes", "read bytes"),
    ("write_bytes", "write bytes"),
    ("rate_limited", "429s"),
)


def usage_table(run: Run, *, top: int = 10) -> str:
    """The end-of-run table: the ``top`` tests by write units, the totals, the allowance."""
    tests = per_test_totals(run)
    if not tests:
        return "No test made a Forge storage request."
    total = Usage()
    for usage in tests.values():
        total.add(usage)
    ranked = sorted(
        tests.items(),
        key=lambda item: (-item[1].write_units, -item[1].read_units, -item[1].requests, item[0]),
    )
    shown = ranked[: max(0, top)]
    count = len(tests)
    label = f"total ({count} test{'s' if count != 1 else ''})"
    rows = [(_short(nodeid), usage) for nodeid, usage in shown] + [(label, total)]
    header = ("test", *(title for _, title in _COLUMNS), "cost USD")
    cells = [
        (name, *(f"{getattr(usage, field):,}" for field, _ in _COLUMNS), f"{usage.cost_usd():.6f}")
        for name, usage in rows
    ]
    widths = [max(len(row[i]) for row in (header, *cells)) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        first = row[0].ljust(widths[0])
        rest = "  ".join(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))
        return f"{first}  {rest}"

    tested = f"{count} test{'s' if count != 1 else ''} used Forge storage"
    if len(shown) < count:
        heading = f"{tested}; the {len(shown)} with the most write units:"
    else:
        heading = f"{tested}, by write units:"
    out = [heading, ""]
    out.append(line(header))
    out.extend(line(row) for row in cells[:-1])
    out.append(line(cells[-1]))
    share = total.allowance_share()
    out += [
        "",
        f"Share of the monthly free allowance ({PRICING.free_read_gb:g} GB read, "
        f"{PRICING.free_write_gb:g} GB written, per app): {_percent(share['read'])} read, "
        f"{_percent(share['write'])} written.",
        f"Cost is gross, before the allowance, at Forge's prices of {PRICING.updated}: "
        f"${PRICING.read_usd_per_gb:.3f}/GB read, ${PRICING.write_usd_per_gb:.3f}/GB written",
        f"(billed from {PRICING.billing_from}). A unit is {UNIT_BYTES:,} bytes, a GB "
        f"{GB_BYTES:,} bytes.",
    ]
    return "\n".join(out)


def _short(nodeid: str) -> str:
    if len(nodeid) <= NODEID_WIDTH:
        return nodeid
    return "..." + nodeid[-(NODEID_WIDTH - 3) :]


# -- the JSON document -------------------------------------------------------------------


def _figures(usage: Usage) -> dict[str, Any]:
    share = usage.allowance_share()
    return {
        **usage.as_dict(),
        "cost_usd": round(usage.cost_usd(), 12),
        "allowance_share": {"read": round(share["read"], 12), "write": round(share["write"], 12)},
    }


def usage_document(run: Run) -> dict[str, Any]:
    """Every test's figures, per installation and summed, with the price table used.

    Keys (version 1)::

        format, version            "pytest-forge-storage-usage", 1
        units                      {unit_bytes: 10000, gb_bytes: 1000000000}
        pricing                    {source, updated, billing_from, read_usd_per_gb,
                                    write_usd_per_gb, free_read_gb, free_write_gb,
                                    allowance_per: "app and month"}
        totals                     {tests, <counters>, cost_usd, allowance_share}
        tests                      {nodeid: {<counters>, cost_usd, allowance_share,
                                             installations: {key: {<counters>, cost_usd,
                                                                   allowance_share}}}}

    ``<counters>`` are requests, read_bytes, write_bytes, read_units, write_units and
    rate_limited (integers); tests are in nodeid order.
    """
    tests: dict[str, Any] = {}
    total = Usage()
    for nodeid in sorted(run):
        installations = run[nodeid]
        summed = _summed(installations)
        total.add(summed)
        tests[nodeid] = {
            **_figures(summed),
            "installations": {
                key: _figures(Usage.from_dict(counters)) for key, counters in installations.items()
            },
        }
    return {
        "format": FORMAT,
        "version": VERSION,
        "units": {"unit_bytes": UNIT_BYTES, "gb_bytes": GB_BYTES},
        "pricing": {
            "source": PRICING.source,
            "updated": PRICING.updated,
            "billing_from": PRICING.billing_from,
            "read_usd_per_gb": PRICING.read_usd_per_gb,
            "write_usd_per_gb": PRICING.write_usd_per_gb,
            "free_read_gb": PRICING.free_read_gb,
            "free_write_gb": PRICING.free_write_gb,
            "allowance_per": "app and month",
        },
        "totals": {"tests": len(tests), **_figures(total)},
        "tests": tests,
    }


def usage_json(run: Run) -> str:
    """:func:`usage_document` as indented JSON text, ending in a newline."""
    return json.dumps(usage_document(run), indent=2, ensure_ascii=False) + "\n"


# -- JUnit XML ---------------------------------------------------------------------------


def junit_properties(installations: Installations) -> list[tuple[str, object]]:
    """One test's ``record_property`` pairs: ``forge_storage.<counter>`` summed, and
    ``forge_storage.<installation>.<counter>`` when the test used several installations."""
    pairs: list[tuple[str, object]] = []
    summed = _summed(installations)
    for name in COUNTERS:
        pairs.append((f"{PROPERTY_PREFIX}.{name}", getattr(summed, name)))
    pairs.append((f"{PROPERTY_PREFIX}.cost_usd", f"{summed.cost_usd():.9f}"))
    if len(installations) > 1:
        for key, counters in installations.items():
            usage = Usage.from_dict(counters)
            for name in COUNTERS:
                pairs.append((f"{PROPERTY_PREFIX}.{key}.{name}", getattr(usage, name)))
    return pairs
