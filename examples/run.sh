#!/usr/bin/env bash
# Install pytest-forge-storage and the example Forge remotes into examples/.venv, then run
# each example's tests. Re-running reuses the virtual environment and reinstalls only when
# a pyproject.toml changed. Extra arguments go to every pytest run:
#   bash examples/run.sh -k retry -v
#   EXAMPLES=fastapi_service bash examples/run.sh     # one example only
# The exit status is pytest's: that of the first example whose tests failed. An example
# where no test matched the arguments (pytest's exit 5) is no failure, unless none matched
# anywhere.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
all_examples=(settings_service fastapi_service own_mocks)
read -r -a examples <<<"${EXAMPLES:-${all_examples[*]}}"
venv="$here/.venv"
python="${PYTHON:-python3}"

for example in "${examples[@]}"; do
    if [ ! -f "$here/$example/pyproject.toml" ]; then
        echo "run.sh: no example named '$example' (EXAMPLES takes: ${all_examples[*]})" >&2
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
for example in "${examples[@]}"; do
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

if [ ${#failed[@]} -gt 0 ]; then
    echo "run.sh: tests failed in: ${failed[*]}" >&2
    exit "$first_status"
fi
if [ "$ran" -eq 0 ]; then
    echo "run.sh: no test matched in any example" >&2
    exit 5
fi
