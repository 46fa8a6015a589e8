"""The transport tests' network rule: only loopback resolves, so a leak fails loudly."""

from __future__ import annotations

import socket
from typing import Any

import pytest

__all__ = ["loopback_only"]


def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse to resolve any host but loopback: a request that leaks fails, loudly."""
    real_getaddrinfo = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in {"127.0.0.1", "localhost", "::1"}:
            raise OSError(f"test tried to reach {name!r}: only loopback is allowed")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
