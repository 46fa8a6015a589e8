"""The entity walk of ``entity-scale`` counted, not timed: instructions and cache misses.

    python benchmarks/walk_counts.py              # about 5-10 minutes on 2 cores
    python benchmarks/walk_counts.py --json counts.json

The budget row of ``entity-scale`` times a walk of 100k records against ten walks of 10k.
Timed, it grows about 11.2x on the development machine. This script runs the same walk
under valgrind's cachegrind, which counts what the processor is asked to do instead of how
long it takes: the instructions executed, the data reads, and the reads that miss a
simulated first-level data cache (D1) and a simulated last-level cache of ``--ll-bytes``
(2 MiB by default, one core's L2 on the development machine). Counts do not depend on the
machine's load, so two runs print the same figures within a few hundredths.

Each size is run twice in its own process, seeded the same way (``PYTHONHASHSEED=0``):
once without the walk and once with it. The difference is the walk alone. The 10k side
walks ten times, so both sides walk 100k records; the ratio is one walk of 100k against one
of 10k, so 10.00x is exact linearity in the item count. The table reads: instructions grow
as the steps do; the misses of a cache smaller than the store grow more, and that, not the
steps, is what the timed walk pays at 100k (docs/performance.md, Findings).

Needs ``valgrind`` on ``PATH`` (Debian: ``apt install valgrind``); exits 2 without it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script from anywhere, or imported by a test
    sys.path.insert(0, str(HERE))

#: (items, walks): both sides walk 100k records in all.
SIDES = ((10_000, 10), (100_000, 1))
#: Cachegrind's event names and what the table calls them, in table order.
EVENTS = {
    "Ir": "instructions",
    "Dr": "data reads",
    "D1mr": "D1 read misses",
    "DLmr": "LL read misses",
}


def walk(size: int, walks: int) -> int:
    """Seed ``size`` records as ``entity-scale`` does, walk them once to warm up, then
    ``walks`` more times; the records the last walk saw (0 when ``walks`` is 0)."""
    import _scale

    from pytest_forge_storage import ForgeStorage

    storage = ForgeStorage()
    _scale.SEEDERS["entity"](storage, size)
    client = _scale._Client(storage, "entity/query")
    body = {"entityName": _scale.ENTITY, "indexName": _scale.INDEX, "partition": ["core"],
            "limit": _scale.PAGE}  # fmt: skip
    seen, _ = client.walk(body, "cursor")  # the warm-up, paid by both runs of a size
    if seen != size:
        raise RuntimeError(f"walked {seen} records of {size}")
    seen = 0
    for _ in range(walks):
        storage.calls.clear()
        seen, _ = client.walk(body, "cursor")
    return seen


def summary(text: str) -> dict[str, int]:
    """The totals of a cachegrind out file: event name → count."""
    events: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("summary:"):
            if events is None:
                break
            counts = [int(count) for count in line.split()[1:]]
            return dict(zip(events, counts, strict=True))
    raise ValueError("not a cachegrind out file: no events and summary lines")


def count(size: int, walks: int, ll_bytes: int, folder: Path) -> dict[str, int]:
    """Run ``walk(size, walks)`` under cachegrind; its totals."""
    out = folder / f"cachegrind.{size}.{walks}"
    command = [
        "valgrind", "--tool=cachegrind", "--cache-sim=yes", f"--LL={ll_bytes},16,64",
        f"--cachegrind-out-file={out}",
        sys.executable, str(Path(__file__).resolve()), "--child", str(size), str(walks),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return summary(out.read_text())


def rows(counts: dict[tuple[int, int], dict[str, int]]) -> list[dict[str, Any]]:
    """One row per event: each side's walk alone (with minus without), and their ratio."""
    (small, small_walks), (big, big_walks) = SIDES
    out = []
    for event, label in EVENTS.items():
        walked = {
            size: counts[size, walks][event] - counts[size, 0][event]
            for size, walks in ((small, small_walks), (big, big_walks))
        }
        out.append({
            "event": event,
            "figure": label,
            "small": walked[small],
            "big": walked[big],
            "ratio": round(walked[big] * small_walks / walked[small], 2) if walked[small] else None,
        })  # fmt: skip
    return out


def render(table: list[dict[str, Any]]) -> str:
    (small, small_walks), (big, _) = SIDES
    head = (
        "Count",
        f"{small_walks} walks of {small // 1000}k",
        f"1 walk of {big // 1000}k",
        "Ratio",
    )
    lines = [head, *[
        (row["figure"], f"{row['small']:,}", f"{row['big']:,}",
         "-" if row["ratio"] is None else f"{row['ratio']:.2f}x")
        for row in table
    ]]  # fmt: skip
    widths = [max(len(line[column]) for line in lines) for column in range(len(head))]
    text = [" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
            for line in lines]  # fmt: skip
    text.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="FILE", help="also write the counts as JSON")
    parser.add_argument("--ll-bytes", type=int, default=2 * 1024 * 1024,
                        help="size of the simulated last-level cache (default: 2 MiB)")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="cachegrind runs at once (default: one per CPU)")  # fmt: skip
    parser.add_argument("--child", nargs=2, type=int, metavar=("ITEMS", "WALKS"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args(argv)
    if args.child:
        walk(*args.child)
        return 0
    if shutil.which("valgrind") is None:
        print(
            "walk_counts.py needs valgrind on PATH (Debian: apt install valgrind)", file=sys.stderr
        )
        return 2
    runs = [(size, walks) for size, many in SIDES for walks in (0, many)]
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = {run: pool.submit(count, *run, args.ll_bytes, Path(folder)) for run in runs}
        counts = {run: future.result() for run, future in futures.items()}
    table = rows(counts)
    print(f"Entity walk under cachegrind (simulated LL: {args.ll_bytes:,} bytes)")
    print(render(table))
    if args.json:
        document = {"format": 1, "ll_bytes": args.ll_bytes, "sides": SIDES, "rows": table}
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
