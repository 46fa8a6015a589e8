"""The public names, and the layering that keeps the engine free of HTTP and pytest."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest_forge_storage

PACKAGE = Path(pytest_forge_storage.__file__).parent


def test_public_names() -> None:
    assert pytest_forge_storage.__all__ == [
        "BlockedRequestError",
        "ForgeStorage",
        "ForgeStorageError",
        "Installation",
        "Invocation",
        "StorageCall",
        "__version__",
        "mock_forge_storage",
    ]
    for name in pytest_forge_storage.__all__:
        assert getattr(pytest_forge_storage, name) is not None


def test_forge_storage_error_carries_code_message_and_status() -> None:
    error = pytest_forge_storage.ForgeStorageError("KEY_NOT_FOUND")
    assert (error.code, error.status) == ("KEY_NOT_FOUND", 404)
    assert error.message
    custom = pytest_forge_storage.ForgeStorageError("X", "boom", 418)
    assert (custom.code, custom.message, custom.status) == ("X", "boom", 418)
    assert str(custom) == "X (418): boom"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_engine_imports_no_http_or_pytest() -> None:
    forbidden = {"requests", "httpx", "responses", "respx", "pytest", "http", "urllib"}
    for path in (PACKAGE / "engine").glob("*.py"):
        assert not (_imports(path) & forbidden), path.name
