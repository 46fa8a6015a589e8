#!/usr/bin/env bash
# Install pytest-forge-storage and the example Forge remote into examples/.venv, then run
# the example's tests. Re-running reuses the virtual environment and reinstalls only when
# a pyproject.toml changed. Extra arguments go to pytest: bash examples/run.sh -k retry -v
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
example="$here/settings_service"
venv="$here/.venv"
python="${PYTHON:-python3}"

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

stamp="$venv/.installed"
wanted="$(cat "$root/pyproject.toml" "$example/pyproject.toml" | cksum)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "Installing pytest-forge-storage and the example into $venv"
    "$venv/bin/python" -m pip install -qq --disable-pip-version-check \
        --editable "$root" --editable "$example[test]"
    echo "$wanted" >"$stamp"
fi

cd "$example"
exec "$venv/bin/python" -m pytest "$@"
