"""The one exception type: a Forge error code with its HTTP status and message."""

from __future__ import annotations

from ._codes import message_for, status_for


class ForgeStorageError(Exception):
    """A Forge storage error, as the API would report it.

    ``code`` is Forge's error code (``KEY_NOT_FOUND``), ``status`` the HTTP status
    (defaulting from the code) and ``message`` the human text. Raised by the engine for
    every rule it enforces, rendered by REST as ``{"code", "message"}`` and by GraphQL
    as ``extensions: {"errorType", "statusCode"}``; raised to Python callers when they
    seed invalid data or load a bad manifest.
    """

    def __init__(self, code: str, message: str | None = None, status: int | None = None) -> None:
        self.code = code
        self.message = bounded(message) if message is not None else message_for(code)
        self.status = status if status is not None else status_for(code)
        super().__init__(self.code, self.message, self.status)

    def __str__(self) -> str:
        return f"{self.code} ({self.status}): {self.message}"

    def __repr__(self) -> str:
        return f"ForgeStorageError({self.code!r}, {self.message!r}, {self.status!r})"

    def to_rest(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


#: A longer message is echoing a client's input at length: its middle is elided.
MESSAGE_MAX_LENGTH = 1000


def bounded(message: str) -> str:
    """``message``, its middle elided past :data:`MESSAGE_MAX_LENGTH` characters."""
    if len(message) <= MESSAGE_MAX_LENGTH:
        return message
    elided = len(message) - 900
    return f"{message[:600]}...({elided} characters elided)...{message[-300:]}"


class BlockedRequestError(Exception):
    """A request for a Forge origin that the fake does not serve and no mock answered.

    Raised in the client while the fake is active, instead of letting the request (and its
    token) reach the network; the message names the URL and says what to do. Not an
    ``OSError``, so that no client retries it or turns it into a connection error.
    """


# Tracebacks show the public name (``pytest_forge_storage.ForgeStorageError``).
ForgeStorageError.__module__ = "pytest_forge_storage"
BlockedRequestError.__module__ = "pytest_forge_storage"
