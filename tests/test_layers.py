"""The architecture's floors, pinned (docs/architecture.md, design §3).

Every module belongs to a floor and imports only from floors below it (imports inside
functions and under ``TYPE_CHECKING`` included):

    base 0        _errors, _codes, _limits, _clock, _json, _http, _operations, _masking,
                  _usage, _realism, _usage_report, _json_size
    engine 1      engine/          pure Python: no HTTP, no pytest
    protocol 2    protocol/        REST and GraphQL behind one Gate
    router 3      router/          origins, installations and tokens, faults, calls, usage
    transports 4  transports/      the in-process doors, the guard, HTTP machinery
    storage 5     storage/         the ForgeStorage facade
    app 6         server/, plugin, _setup, _usage_plugin, cli, __main__, strategies, __init__

Nothing outside ``engine/`` imports ``engine._*``, and no import cycle runs between modules
(imports for type checkers only never run, so they do not count).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pytest_forge_storage

PACKAGE = Path(pytest_forge_storage.__file__).parent
NAME = "pytest_forge_storage"
FLOORS = {"engine": 1, "protocol": 2, "router": 3, "transports": 4, "storage": 5, "server": 6}
BASE = {
    "_errors", "_codes", "_limits", "_clock", "_json", "_http", "_operations", "_masking",
    "_usage", "_realism", "_usage_report", "_json_size",
}  # fmt: skip
APP = {"plugin", "_setup", "_usage_plugin", "cli", "__main__", "strategies", ""}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def floor(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if top in FLOORS:
        return FLOORS[top]
    if top in BASE:
        return 0
    assert top in APP, f"{module} belongs to no floor: add it to tests/test_layers.py"
    return 6


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (never executed)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for part in node.body for child in ast.walk(part))
    return [node for node in ast.walk(tree) if id(node) not in skipped]


def imports(path: Path, *, runtime: bool = False) -> set[str]:
    """The package modules ``path`` imports, resolved to modules (not names in them);
    ``runtime``: only the imports that execute (not those for type checkers)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in _runtime_nodes(tree) if runtime else ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(NAME))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith(NAME):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                is_module = (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists() or (
                    PACKAGE.parent / sub.replace(".", "/")
                ).is_dir()
                found.add(sub if is_module else target)
    found.discard(module)
    return found


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_floor_imports_only_floors_below(module: str) -> None:
    mine = floor(module)
    above = sorted(t for t in imports(MODULES[module]) if floor(t) > mine)
    assert above == [], f"{module} (floor {mine}) imports from a floor above: {above}"


def test_nothing_outside_the_engine_imports_its_insides() -> None:
    leaks = {
        module: sorted(t for t in imports(path) if t.startswith(f"{NAME}.engine._"))
        for module, path in MODULES.items()
        if not module.startswith(f"{NAME}.engine")
    }
    assert {m: t for m, t in leaks.items() if t} == {}


def test_no_protocol_imports_the_router() -> None:
    for module, path in MODULES.items():
        if module.startswith(f"{NAME}.protocol"):
            assert not [t for t in imports(path) if t.startswith(f"{NAME}.router")], module


def test_there_is_no_import_cycle() -> None:
    graph = {module: imports(path, runtime=True) & set(MODULES) for module, path in MODULES.items()}
    # A package's __init__ re-exports its modules; importing a submodule runs it first:
    # count only edges between modules, not from a module up to its own package.
    for module, targets in graph.items():
        targets -= {module.rpartition(".")[0]}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if target.startswith(node + "."):
                continue  # a package importing its own modules
            if state.get(target) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail, node, target]))
            if state.get(target) is None:
                visit(target, [*trail, node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_the_engine_imports_no_http_or_pytest() -> None:
    forbidden = {"requests", "httpx", "responses", "respx", "pytest", "http", "urllib", "aiohttp"}
    for path in (PACKAGE / "engine").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {
            a.name.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.Import)
            for a in n.names
        }
        names |= {
            n.module.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module and n.level == 0
        }
        assert not names & forbidden, path.name
