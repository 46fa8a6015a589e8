"""What every test (or every pytest run) pays before the first call is served.

* activation + teardown of the fake, as the ``forge_storage`` fixture does it, beside the bare
  activation + teardown of a ``responses`` mock and a respx router with one route each;
* ``import pytest_forge_storage.plugin`` in a fresh interpreter, beside ``import pytest``,
  and which heavy modules it loaded.

Server start + stop is in ``_server.py``, beside the server's per-request cost.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from _timing import Config, Row, median, ms, paired, simply, us

from pytest_forge_storage import mock_forge_storage

URL = "https://api.atlassian.com/forge/storage/kvs/v1/get"
#: Loading any of these at plugin import would cost every pytest run (design §3).
HEAVY_MODULES = ("graphql", "jsonschema", "yaml", "requests", "httpx", "responses", "respx")


def activation_rows(config: Config) -> list[Row]:
    import responses
    import respx

    def forge() -> None:
        with mock_forge_storage():
            pass

    def bare_responses() -> None:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            rsps.add_callback("POST", URL, callback=lambda request: (200, {}, "{}"))

    def bare_respx() -> None:
        with respx.MockRouter(assert_all_called=False) as router:
            router.post(URL).mock(side_effect=lambda request: None)

    samples = paired(
        {
            "fake": lambda: simply(forge),
            "responses": lambda: simply(bare_responses),
            "respx": lambda: simply(bare_respx),
        },
        config,
        number=max(10, config.number // 4),
    )
    responses_us, respx_us = us(median(samples["responses"])), us(median(samples["respx"]))
    bare = [a + b for a, b in zip(samples["responses"], samples["respx"], strict=True)]
    return [
        Row(
            "activation",
            "forge_storage activation + teardown",
            us(median(samples["fake"])),
            "us",
            "bare responses mock + respx router",
            responses_us + respx_us,
            note="what the fixture does: ForgeStorage(), start(), stop()",
            samples={"fake": samples["fake"], "baseline": bare},
        ),
        Row(
            "activation",
            "  bare responses mock start + stop",
            responses_us,
            "us",
            note="one add_callback route",
        ),
        Row("activation", "  bare respx router start + stop", respx_us, "us", note="one route"),
    ]


#: Run in a fresh interpreter: ``import pytest``, then the plugin (which imports pytest
#: first itself), each timed; the plugin's figure is the sum, what a fresh ``import
#: pytest_forge_storage.plugin`` costs, and the difference is the plugin's own share.
_PROBE = """
import json, sys, time
start = time.perf_counter_ns()
import pytest
middle = time.perf_counter_ns()
import pytest_forge_storage.plugin
end = time.perf_counter_ns()
heavy = {heavy!r}
loaded = sorted(m for m in heavy if any(n == m or n.startswith(m + ".") for n in sys.modules))
print(json.dumps({{"pytest": middle - start, "plugin": end - start, "loaded": loaded}}))
"""


def _import_once() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY_MODULES)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def import_rows(config: Config) -> list[Row]:
    plugin, bare, own = [], [], []
    loaded: set[str] = set()
    _import_once()  # compile bytecode, warm the page cache
    for _ in range(config.subprocess_repeat):
        found = _import_once()
        plugin.append(float(found["plugin"]))
        bare.append(float(found["pytest"]))
        own.append(float(found["plugin"] - found["pytest"]))
        loaded.update(found["loaded"])
    return [
        Row(
            "import",
            "import pytest_forge_storage.plugin (fresh interpreter)",
            ms(median(plugin)),
            "ms",
            "import pytest (fresh interpreter)",
            ms(median(bare)),
            verdict=not loaded,
            budget_text="no heavy imports",
            note=(
                f"the plugin's own share: {ms(median(own)):.1f} ms; heavy modules "
                f"({', '.join(HEAVY_MODULES)}) loaded: "
                + (", ".join(sorted(loaded)) if loaded else "none")
            ),
            samples={"fake": plugin, "baseline": bare},
        )
    ]
