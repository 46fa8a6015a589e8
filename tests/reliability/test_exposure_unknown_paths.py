"""A secret sent to a misspelt secret path is recorded (operation ``None``), masked.

Unknown storage paths are recorded since wave 2, and a call's masking keyed on its operation
alone, so a typo such as ``secret/sett`` printed the value it carried wherever
``repr(StorageCall)`` is printed (pytest shows it when an ``assert`` compares calls). An
unknown path that names secrets is masked like a secret call; other unknown paths are not.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

SECRET = "c0ffee-" + "5ecret-5e77"  # built, so that this file's own source never matches
BASE = "https://api.atlassian.com/forge/storage/kvs/v1/"
AUTH = {"Authorization": "Bearer t"}


@pytest.mark.parametrize("path", ["secret/sett", "secrets/set", "Secret/get"])
def test_a_misspelt_secret_path_never_prints_the_value(forge_storage: Any, path: str) -> None:
    reply = requests.post(BASE + path, json={"key": "k", "value": SECRET}, headers=AUTH, timeout=5)
    assert reply.status_code == 403
    (call,) = forge_storage.calls
    assert call.operation is None
    assert SECRET not in repr(call)
    assert SECRET not in str(call.masked_request())
    assert call.request == {"key": "k", "value": SECRET}  # the test itself may read it


def test_a_misspelt_plain_path_shows_its_body(forge_storage: Any) -> None:
    requests.post(BASE + "sett", json={"key": "k", "value": "v"}, headers=AUTH, timeout=5)
    (call,) = forge_storage.calls
    assert call.operation is None
    assert call.masked_request() == {"key": "k", "value": "v"}
