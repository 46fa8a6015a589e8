#!/usr/bin/env bash
# Build pytest-forge-storage's sdist and wheel the way a release would (python -m build:
# the sdist first, then the wheel from the unpacked sdist), install the wheel, not editable,
# into a fresh virtual environment, and check what a user gets from it:
#   * the package is imported from the venv, not from this checkout;
#   * its data files are installed (spec/openapi.json, spec/storage.graphql, py.typed);
#   * the forge-storage-fake console script serves requests;
#   * the pytest11 entry point loads the plugin (ini options in pytest --help, the fixture
#     and the marker in a test run);
#   * the examples' tests pass against the installed wheel.
# Works on a fresh machine: it installs build (and hatchling, through build's isolated
# environment) from the package index itself. Nothing is written to the checkout except
# the examples' __pycache__. Usage:
#   bash scripts/check-wheel.sh            # PYTHON=/path/to/python3.x to choose the interpreter
#   KEEP=1 bash scripts/check-wheel.sh     # keep the temp dir (its path is printed)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
examples=(settings_service fastapi_service own_mocks)

fail() {
    echo "check-wheel: $*" >&2
    exit 1
}
step() { printf '\n--- %s\n' "$*"; }

command -v "$python" >/dev/null 2>&1 || fail "$python not found; set PYTHON=/path/to/python3.10+"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    fail "$("$python" --version 2>&1) is too old; pytest-forge-storage needs Python 3.10+"

work="$(mktemp -d "${TMPDIR:-/tmp}/forge-storage-wheel.XXXXXX")"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "${KEEP:-}" = 1 ]; then
        echo "check-wheel: kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
pip_quiet=(-q --disable-pip-version-check)

step "build the sdist and the wheel ($work/dist)"
"$python" -m venv "$work/build-venv" ||
    fail "could not create a virtual environment (on Debian/Ubuntu: apt-get install python3-venv)"
"$work/build-venv/bin/python" -m pip install "${pip_quiet[@]}" --upgrade pip build
"$work/build-venv/bin/python" -m build --outdir "$work/dist" "$root" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log" >&2; fail "python -m build failed (log above)"; }
wheels=("$work"/dist/pytest_forge_storage-*.whl)
sdists=("$work"/dist/pytest_forge_storage-*.tar.gz)
[ -f "${wheels[0]}" ] || fail "no wheel in $work/dist"
[ -f "${sdists[0]}" ] || fail "no sdist in $work/dist"
wheel="${wheels[0]}"
ls -l "$work/dist"

step "the archives hold the data files"
"$work/build-venv/bin/python" - "$wheel" "${sdists[0]}" <<'PYEOF'
import sys, tarfile, zipfile
wheel, sdist = sys.argv[1:]
data = ["pytest_forge_storage/spec/openapi.json", "pytest_forge_storage/spec/storage.graphql",
        "pytest_forge_storage/py.typed"]
names = set(zipfile.ZipFile(wheel).namelist())
missing = [name for name in data if name not in names]
stray = sorted({name.split("/")[0] for name in names} - {"pytest_forge_storage"}
               - {name.split("/")[0] for name in names if ".dist-info/" in name})
with tarfile.open(sdist) as tar:
    top = tar.getnames()[0].split("/")[0]
    sdist_names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
missing += [f"sdist: {name}" for name in (*data, "pyproject.toml", "README.md")
            if name not in sdist_names]
if missing or stray:
    sys.exit(f"check-wheel: missing {missing}, unexpected top-level entries in the wheel {stray}")
print(f"wheel: {len(names)} files; sdist {top}: {len(sdist_names)} files")
PYEOF

step "install the wheel into a fresh virtual environment"
venv="$work/venv"
"$python" -m venv "$venv"
py="$venv/bin/python"
"$py" -m pip install "${pip_quiet[@]}" --upgrade pip
"$py" -m pip install "${pip_quiet[@]}" "$wheel"

step "the installed package, its data files and its entry points"
(cd "$work" && "$py" - "$venv" <<'PYEOF'
import sys
from importlib import metadata, resources
from pathlib import Path

import pytest_forge_storage

venv = Path(sys.argv[1]).resolve()
where = Path(pytest_forge_storage.__file__).resolve()
if venv not in where.parents:
    sys.exit(f"check-wheel: pytest_forge_storage imported from {where}, not from {venv}")
package = resources.files("pytest_forge_storage")
for name in ("spec/openapi.json", "spec/storage.graphql", "py.typed"):
    if not package.joinpath(name).is_file():
        sys.exit(f"check-wheel: the installed package lacks {name}")
dist = metadata.distribution("pytest-forge-storage")
if dist.read_text("direct_url.json") and '"editable": true' in dist.read_text("direct_url.json"):
    sys.exit("check-wheel: the install is editable")
plugins = [ep for ep in dist.entry_points if ep.group == "pytest11"]
scripts = [ep for ep in dist.entry_points if ep.group == "console_scripts"]
assert [(ep.name, ep.value) for ep in plugins] == [("forge_storage", "pytest_forge_storage.plugin")], plugins
assert [ep.name for ep in scripts] == ["forge-storage-fake"], scripts
plugins[0].load()
from pytest_forge_storage import ForgeStorage  # the engine and the bundled spec load
ForgeStorage().handle  # noqa: B018
print(f"pytest-forge-storage {dist.version} from {where.parent}")
PYEOF
) || fail "the installed package is incomplete (above)"

step "the forge-storage-fake console script serves requests"
"$venv/bin/forge-storage-fake" --version
"$venv/bin/forge-storage-fake" serve --port 0 --quiet >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
url=""
for _ in $(seq 100); do
    url="$(sed -n 's/^forge-storage-fake serving on //p' "$work/server.out")"
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.err" >&2; fail "the server exited"; }
    sleep 0.1
done
[ -n "$url" ] || fail "forge-storage-fake printed no URL in 10 s"
"$py" - "$url" <<'PYEOF' || fail "the server did not answer as Forge would"
import json, sys, urllib.request
url = sys.argv[1] + "/forge/storage/kvs/v1/"
def post(op, body):
    request = urllib.request.Request(url + op, json.dumps(body).encode(), method="POST",
        headers={"Authorization": "Bearer t", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()
assert post("set", {"key": "k", "value": {"n": 1}})[0] == 204
status, body = post("get", {"key": "k"})
assert (status, json.loads(body)) == (200, {"key": "k", "value": {"n": 1}}), body
print(f"served set and get on {sys.argv[1]}")
PYEOF
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""

step "pytest loads the plugin from its entry point"
mkdir -p "$work/plugin-check"
cat >"$work/plugin-check/test_installed.py" <<'PYEOF'
import httpx
import pytest
import requests

URL = "https://api.atlassian.com/forge/storage/kvs/v1/"
AUTH = {"Authorization": "Bearer t"}


def test_fixture(forge_storage):
    forge_storage.kvs["k"] = [1, 2]
    assert requests.post(URL + "get", json={"key": "k"}, headers=AUTH).json()["value"] == [1, 2]


@pytest.mark.forge_storage(data={"kvs": {"k": "v"}})
def test_marker_alone():
    assert httpx.post(URL + "get", json={"key": "k"}, headers=AUTH).json()["value"] == "v"
PYEOF
(cd "$work/plugin-check" && "$py" -m pytest --help) >"$work/pytest-help.txt"
grep -q "forge_storage_manifest" "$work/pytest-help.txt" ||
    fail "pytest --help does not list forge_storage_manifest: the pytest11 entry point did not load"
(cd "$work/plugin-check" && "$py" -m pytest -q -p no:cacheprovider --strict-markers) ||
    fail "the plugin's fixture or marker failed from the installed wheel"

step "the examples' tests, against the installed wheel"
example_args=()
for example in "${examples[@]}"; do
    example_args+=("$root/examples/$example[test]")
done
# The wheel is installed already, so the examples' "pytest-forge-storage>=0.1" is satisfied
# by it and pip fetches no other copy; the check below makes sure.
"$py" -m pip install "${pip_quiet[@]}" "${example_args[@]}"
installed="$(cd "$work" && "$py" -c 'import pytest_forge_storage as p; print(p.__file__)')"
case "$installed" in
    "$venv"/*) ;;
    *) fail "after installing the examples, pytest_forge_storage comes from $installed" ;;
esac
for example in "${examples[@]}"; do
    echo "=== examples/$example"
    (cd "$root/examples/$example" && "$py" -m pytest -q -p no:cacheprovider) ||
        fail "examples/$example failed against the installed wheel"
done
echo
echo "check-wheel: OK ($(basename "$wheel"))"
