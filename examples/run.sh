#!/usr/bin/env bash
# Install pytest-forge-storage and the example Forge remotes into examples/.venv, then run
# each example's tests. Re-running reuses the virtual environment and reinstalls only when
# a pyproject.toml changed. Extra arguments go to every pytest run:
#   bash examples/run.sh -k retry -v
#   EXAMPLES=fastapi_service bash examples/run.sh     # one example only
# The Node example, jest_server (Jest and @forge/kvs against `forge-storage-fake serve`), runs
# last when node >= 20 and npm are on the PATH; without them it is skipped with a line saying
# so, or fails when REQUIRE_NODE=1 (as .ci/run sets). EXAMPLES=jest_server runs it alone.
# The exit status is pytest's: that of the first example whose tests failed. An example
# where no test matched the arguments (pytest's exit 5) is no failure, unless none matched
# anywhere.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
all_examples=(settings_service fastapi_service own_mocks)
read -r -a examples <<<"${EXAMPLES:-${all_examples[*]} jest_server}"
venv="$here/.venv"
python="${PYTHON:-python3}"

node_example=jest_server
run_node=0
python_examples=()
for example in "${examples[@]}"; do
    if [ "$example" = "$node_example" ]; then
        run_node=1
        continue
    fi
    python_examples+=("$example")
    if [ ! -f "$here/$example/pyproject.toml" ]; then
        echo "run.sh: no example named '$example' (EXAMPLES takes: ${all_examples[*]} $node_example)" >&2
        exit 2
    fi
done
if ! command -v "$python" >/dev/null 2>&1; then
    echo "run.sh: $python not found; install Python 3.10 or newer, or set PYTHON=/path/to/python" >&2
    exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "run.sh: $("$python" --version 2>&1) is too old; pytest-forge-storage needs Python 3.10+" >&2
    exit 1
fi

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "Creating $venv"
    rm -rf "$venv"
    if ! "$python" -m venv "$venv"; then
        echo "run.sh: could not create a virtual environment (on Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 1
    fi
    "$venv/bin/python" -m pip install -qq --disable-pip-version-check --upgrade pip
fi

# Every example is installed, whichever run: the stamp stays valid across EXAMPLES choices.
stamp="$venv/.installed"
wanted="$(cat "$root/pyproject.toml" "$here"/*/pyproject.toml | cksum)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "Installing pytest-forge-storage and the examples into $venv"
    editables=(--editable "$root")
    for example in "${all_examples[@]}"; do
        editables+=(--editable "$here/$example[test]")
    done
    if ! "$venv/bin/python" -m pip install -qq --disable-pip-version-check "${editables[@]}"; then
        rm -f "$stamp"
        echo "run.sh: installing into $venv failed (see pip's message above)" >&2
        exit 1
    fi
    echo "$wanted" >"$stamp"
fi

failed=() ran=0 first_status=0
for example in ${python_examples[@]+"${python_examples[@]}"}; do
    echo "=== examples/$example"
    set +e
    (cd "$here/$example" && "$venv/bin/python" -m pytest "$@")
    status=$?
    set -e
    case $status in
        0) ran=$((ran + 1)) ;;
        5) echo "(no test in examples/$example matched)" ;;
        *)
            failed+=("$example (pytest exit $status)")
            [ "$first_status" -eq 0 ] && first_status=$status
            ;;
    esac
done

if [ "$run_node" -eq 1 ]; then
    echo "=== examples/$node_example"
    if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
        node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)'; then
        set +e
        (
            cd "$here/$node_example" &&
                { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } &&
                FORGE_STORAGE_FAKE="$venv/bin/forge-storage-fake" npx --no-install jest --runInBand
        )
        status=$?
        set -e
        if [ "$status" -eq 0 ]; then
            ran=$((ran + 1))
        else
            failed+=("$node_example (exit $status)")
            [ "$first_status" -eq 0 ] && first_status=$status
        fi
    elif [ "${REQUIRE_NODE:-0}" = 1 ]; then
        failed+=("$node_example (needs node >= 20 and npm: https://nodejs.org)")
        [ "$first_status" -eq 0 ] && first_status=1
    else
        echo "(skipped: examples/$node_example needs node >= 20 and npm; https://nodejs.org)"
    fi
fi

if [ ${#failed[@]} -gt 0 ]; then
    echo "run.sh: tests failed in: ${failed[*]}" >&2
    exit "$first_status"
fi
if [ "$ran" -eq 0 ]; then
    echo "run.sh: no test matched in any example" >&2
    exit 5
fi
