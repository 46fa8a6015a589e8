#!/usr/bin/env bash
# The test command: lint, types and the whole suite once, in parallel and in random order, with
# branch coverage gated at 95%. It creates .venv on first use (or reuses it) and reinstalls only
# when pyproject.toml changed. Under five minutes on two cores, after the first downloads.
#
#   bash scripts/test.sh                    the whole gate (what .ci/run starts with)
#   bash scripts/test.sh tests/engine -x    only pytest, with these arguments (no lint, types
#                                           or coverage): the fast loop, see CONTRIBUTING.md
#
# Environment: PYTHON (the interpreter for the venv, default python3), FORGE_VENV (default
# .venv), FORGE_EXTRAS (default test,lint), FORGE_TEST_SEED (replay a random order),
# FORGE_TEST_WORKERS (xdist workers, default auto), FORGE_SKIP_NODE=1 (leave out the Node
# conformance suite, tests/conformance, on a machine without node and npm).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
venv="${FORGE_VENV:-$root/.venv}"
extras="${FORGE_EXTRAS:-test,lint}"
say() { printf '\n=== %s\n' "$*"; }
took() { printf '(%d s)\n' "$((SECONDS - t))"; t=$SECONDS; }
t=$SECONDS
die() { printf 'scripts/test.sh: %s\n' "$*" >&2; exit 1; }

# -- the virtual environment --------------------------------------------------------------------
command -v "$python" >/dev/null 2>&1 \
    || die "$python not found; install Python 3.10 or newer, or set PYTHON=/path/to/python"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || die "$("$python" --version 2>&1) is too old; pytest-forge-storage needs Python 3.10+"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    say "creating $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv" \
        || die "could not create a virtual environment (Debian/Ubuntu: apt-get install python3-venv)"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
fi
stamp="$venv/.installed"
wanted="$( (cat pyproject.toml; echo "$extras") | cksum)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    say "installing pytest-forge-storage[$extras] into $venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --editable ".[$extras]"
    echo "$wanted" >"$stamp"
    took
fi
export PATH="$venv/bin:$PATH"
export VIRTUAL_ENV="$venv"

# -- the fast loop: arguments go to pytest, nothing else runs -----------------------------------
# (pytest-randomly still shuffles and prints its seed in the header; -p no:randomly turns it off)
if [ "$#" -gt 0 ]; then
    if [ "${FORGE_SKIP_NODE:-}" = 1 ]; then
        set -- --ignore=tests/conformance "$@"
    fi
    exec pytest "$@"
fi

# -- the Node conformance suite needs node and npm: never a silent skip --------------------------
ignore_node=()
if [ "${FORGE_SKIP_NODE:-}" = 1 ]; then
    echo "FORGE_SKIP_NODE=1: leaving out tests/conformance (Atlassian's Node SDKs)"
    ignore_node=(--ignore=tests/conformance)
elif ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1 \
    || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)'; then
    die "the Node conformance suite (tests/conformance) needs node >= 20 and npm on PATH
  (found: node $(node --version 2>/dev/null || echo none), npm $(npm --version 2>/dev/null || echo none)).
  Install them (Debian/Ubuntu: apt-get install nodejs npm; macOS: brew install node; or
  https://nodejs.org), or leave the suite out explicitly: FORGE_SKIP_NODE=1 bash scripts/test.sh"
fi

workers="${FORGE_TEST_WORKERS:-auto}"
seed="${FORGE_TEST_SEED:-$(python -c 'import random; print(random.randrange(1, 2**31))')}"

say "lint (ruff)"
ruff check .
ruff format --check .
took

say "types (mypy --strict)"
mypy
took

say "tests: the whole suite on $workers workers, random order (FORGE_TEST_SEED=$seed replays it)"
rm -f .coverage .coverage.*
status=0
# The default --dist load: --dist loadgroup keys work by node id, and schemathesis's 15 cases
# of tests/reliability/test_fuzz_openapi.py share one, so it ran 2 of them (npm ci, which it
# was for, runs under a file lock in tests/conformance/test_node_sdk.py).
coverage run -m pytest -q -n "$workers" -p randomly --randomly-seed="$seed" \
    ${ignore_node[@]+"${ignore_node[@]}"} || status=$?
if [ "$status" -ne 0 ]; then
    echo "tests failed (pytest exit $status); replay this order: FORGE_TEST_SEED=$seed bash scripts/test.sh"
    exit "$status"
fi
coverage combine -q
coverage report --fail-under=95
took
echo "scripts/test.sh: lint, types, tests and coverage passed (FORGE_TEST_SEED=$seed)"
