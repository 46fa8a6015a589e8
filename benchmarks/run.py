"""Benchmarks of pytest-forge-storage against the bare mocks it is built on.

    python benchmarks/run.py            # full run, one table
    python benchmarks/run.py --quick    # fewer repeats (CI: under a minute)
    python benchmarks/run.py --only requests,httpx --profile

Every figure is the median of repeated batches, measured in this process beside its baseline
(alternating batch by batch). Budgets are ratios, since absolute times on shared machines
drift. The table is a report: the exit status is 0 unless a benchmark crashes (2), or, with
``--strict``, a budget is missed (1): a ratio over its budget by more than the run's own
spread (a ratio within it is HELD, which counts as held). See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script from anywhere, or imported by a test
    sys.path.insert(0, str(HERE))

import _aiohttp  # noqa: E402 - after the path set-up above
import _guard  # noqa: E402
import _installations  # noqa: E402
import _invocations  # noqa: E402 - after the path set-up above
import _lag  # noqa: E402
import _realism  # noqa: E402
import _scale  # noqa: E402
import _seeding  # noqa: E402
import _served  # noqa: E402
import _server  # noqa: E402
import _startup  # noqa: E402
from _timing import CONFIDENCE, Config, Row  # noqa: E402

#: Group name → function producing its rows, in table order.
GROUPS: dict[str, Callable[[Config], list[Row]]] = {
    "requests": _served.requests_rows,
    "httpx": _served.httpx_rows,
    "httpx-async": _served.httpx_async_rows,
    "aiohttp": _aiohttp.aiohttp_rows,
    "guard": _guard.guard_rows,
    "graphql": _served.graphql_rows,
    "moto": _served.moto_rows,
    "activation": _startup.activation_rows,
    "import": _startup.import_rows,
    "server": _server.server_rows,
    "kvs-scale": _scale.kvs_rows,
    "entity-scale": _scale.entity_rows,
    "memory": _scale.memory_rows,
    "invocations": _invocations.invocation_rows,
    "installations": _installations.installation_rows,
    "realism": _realism.realism_rows,
    "lag": _lag.lag_rows,
    "seeding": _seeding.seeding_rows,
}
LIBRARIES = (
    "pytest",
    "requests",
    "responses",
    "httpx",
    "respx",
    "aiohttp",
    "aioresponses",
    "graphql-core",
    "jsonschema",
    "moto",
    "boto3",
    "PyJWT",
    "cryptography",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark pytest-forge-storage against bare responses/respx mocks, moto "
        "and a plain dict; print one table of medians, baselines, ratios and budgets."
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats (CI, < 1 minute)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="GROUP[,GROUP]",
        help=f"run only these groups: {', '.join(GROUPS)}",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a budget is missed")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="failed",
        metavar="GROUP[,GROUP]",
        help="after the table, profile the fake's side (cProfile) of the failed rows, or of "
        "the named groups",
    )
    parser.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="also write the run as JSON (docs/performance.md describes the format)",
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="FILE",
        help="print the report of a run saved with --json, without running anything",
    )
    parser.add_argument("--list", action="store_true", help="list the groups and exit")
    args = parser.parse_args(argv)
    chosen = [name.strip() for value in args.only for name in value.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    args.groups = [name for name in GROUPS if name in chosen] if chosen else list(GROUPS)
    return args


def machine_info(config: Config) -> list[str]:
    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = []
    for name in LIBRARIES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} -")
    mode = "quick" if config.quick else "full"
    return [
        f"Python {platform.python_version()} ({platform.python_implementation()}) on "
        f"{platform.system()} {platform.machine()}",
        f"CPUs: {cpus} ({usable} usable){f', {model}' if model else ''}",
        "Libraries: " + ", ".join(versions),
        f"Mode: {mode} - median of {config.repeat} batches x {config.number} operations "
        f"(after {config.warmup} warm-up), walks x {config.walk_repeat}, "
        f"imports x {config.subprocess_repeat}",
    ]


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "B":
        return f"{value:,.0f} B"
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.1f} {unit}" if value >= 10 else f"{value:.2f} {unit}"


def table(rows: list[Row]) -> str:
    header = (
        "Figure", "Median", "Baseline", "Baseline median", "Ratio", "Spread", "Budget", "Result"
    )  # fmt: skip
    lines: list[tuple[str, ...]] = [header]
    notes: list[str] = []
    for row in rows:
        figure = row.figure
        if row.note:
            notes.append(row.note)
            figure += f" [{len(notes)}]"
        ratio, interval = row.ratio, row.spread
        lines.append(
            (
                figure,
                _number(row.value, row.unit),
                row.baseline or "-",
                _number(row.baseline_value, row.unit),
                f"{ratio:.2f}x" if ratio is not None else "-",
                f"{interval[0]:.2f}-{interval[1]:.2f}x" if interval is not None else "-",
                row.budget_label,
                row.status,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {1, 3, 4, 5}

    def render(line: tuple[str, ...]) -> str:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        return " | ".join(cells).rstrip()

    out = [render(lines[0]), "-+-".join("-" * width for width in widths)]
    out += [render(line) for line in lines[1:]]
    out += [
        "",
        "Ratio: the median over rounds of (figure batch / adjacent baseline batch), so it can "
        "differ from Median / Baseline median.",
        f"Spread: a {CONFIDENCE:.0%} confidence interval of that median, from the rounds' "
        "order statistics. HELD: over the budget, but within the run's own spread of it, "
        "which counts as held (design section 3); only FAIL fails --strict.",
    ]
    out += [f"[{i}] {note}" for i, note in enumerate(notes, 1)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        print("\n".join(GROUPS))
        return 0
    if args.render is not None:
        print(render(json.loads(args.render.read_text())))
        return 0
    config = Config.make(args.quick)
    started = time.perf_counter()
    machine = machine_info(config)
    print("pytest-forge-storage benchmarks")
    print("\n".join(machine))
    print(flush=True)
    rows: list[Row] = []
    crashed: list[str] = []
    for name in args.groups:
        group_start = time.perf_counter()
        print(f"  running {name} ...", end="", flush=True)
        try:
            found = GROUPS[name](config)
        except Exception:
            print(" CRASHED")
            traceback.print_exc()
            crashed.append(name)
            continue
        rows.extend(found)
        print(f" {time.perf_counter() - group_start:.1f} s", flush=True)
    print()
    print(table(rows))
    failed = [row for row in rows if row.status == "FAIL"]
    elapsed = time.perf_counter() - started
    summary = summarize(rows)
    print(f"\n{summary}; wall time {elapsed:.1f} s")
    if crashed:
        print(f"crashed groups: {', '.join(crashed)}")
    if args.json is not None:
        document = {
            "format": JSON_FORMAT,
            "machine": machine,
            "rows": [_as_json(row) for row in rows],
            "summary": summary,
            "wall_seconds": round(elapsed, 1),
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    if args.profile:
        import _profile

        names = (
            sorted({row.group for row in failed})
            if args.profile == "failed"
            else [name.strip() for name in args.profile.split(",") if name.strip()]
        )
        for name in names:
            _profile.profile(name, config)
    if crashed:
        return 2
    return 1 if args.strict and failed else 0


#: The version of the ``--json`` document; it changes only when a field changes meaning.
JSON_FORMAT = 1


#: The results that :func:`summarize` counts (the others are ``report`` and ``SKIP``).
STATUSES = ("PASS", "HELD", "FAIL")


def summarize(rows: list[Row]) -> str:
    """``64 rows: 60 PASS, 1 HELD, 0 FAIL``."""
    counts = {status: sum(row.status == status for row in rows) for status in STATUSES}
    return f"{len(rows)} rows: " + ", ".join(f"{n} {status}" for status, n in counts.items())


def render(document: dict[str, Any]) -> str:
    """The report of a ``--json`` document as the run printed it: machine lines, the table,
    the summary (what docs/performance.md shows)."""
    if document.get("format") != JSON_FORMAT:
        raise SystemExit(f"--render: not a format-{JSON_FORMAT} benchmark document")
    rows = [
        Row(
            item["group"], item["figure"], item["value"], item["unit"], item["baseline"] or "",
            item["baseline_value"], None, budget_text=item["budget"] or "-",
            note=item["note"] or "", ratio_override=item["ratio"],
            spread_override=tuple(item["spread"]) if item.get("spread") else None,
            status_override=item["status"],
        )
        for item in document["rows"]
    ]  # fmt: skip
    for row, item in zip(rows, document["rows"], strict=True):
        if item["status"] == "SKIP":
            row.value = None
    lines = [*document["machine"], "", table(rows), "", f"{document['summary']}; wall time "
             f"{document['wall_seconds']} s"]  # fmt: skip
    return "\n".join(lines)


def _as_json(row: Row) -> dict[str, object]:
    return {
        "group": row.group,
        "figure": row.figure.strip(),
        "value": row.value,
        "unit": row.unit,
        "baseline": row.baseline or None,
        "baseline_value": row.baseline_value,
        "ratio": row.ratio,
        "spread": list(row.spread) if row.spread is not None else None,
        "budget": row.budget_label if row.budget_label != "-" else None,
        "status": row.status,
        "note": row.note or None,
    }


if __name__ == "__main__":
    sys.exit(main())
