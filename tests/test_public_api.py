"""The public names (the layering is pinned in test_layers.py)."""

from __future__ import annotations

import pytest_forge_storage


def test_public_names() -> None:
    assert pytest_forge_storage.__all__ == [
        "BlockedRequestError",
        "ForgeStorage",
        "ForgeStorageError",
        "ForgeStorageServer",
        "Installation",
        "Invocation",
        "Realism",
        "StorageCall",
        "Usage",
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


def test_realism_and_usage_are_the_types_a_storage_hands_out() -> None:
    # design §2.7 names both types; a test annotates with them or builds a preset
    from pytest_forge_storage import ForgeStorage, Realism, Usage

    storage = ForgeStorage()
    assert type(storage.realism) is Realism
    assert type(storage.usage) is Usage
    storage.realism = Realism.preset("limits")
    assert storage.realism.preset_name == "limits"
    assert storage.realism.rate_limits is True
