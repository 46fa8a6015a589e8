"""placeholder"""

from __future__ import annotations

from typing import Any

from pytest_forge_storage._http import HttpResponse


class ControlApi:
    def __init__(self, storage: Any) -> None:
        self.storage = storage

    def handle(self, method: str, target: str, body: bytes) -> HttpResponse:
        return HttpResponse(404, b"{}", {})
