"""System and user tokens, and the registry that resolves a token to its installation.

Forge's system token (``x-forge-oauth-system``) is "issued for" one installation and is a JWT
whose ``exp`` remotes read to cache it (reference §1.7, D); its other claims are opaque. The
fake's tokens have that shape: ``header.payload.signature``, HS256 with the process's secret
(:data:`._keys.SYSTEM_TOKEN_SECRET`), claims ``iat``, ``exp``, ``jti`` in integer seconds on
the test's clock (``time.time()`` read at every call, so freezegun and time-machine apply) and
private claims naming the installation, for a human decoding one. The server never trusts
those claims: a token is resolved through :class:`TokenRegistry`'s dict, so a token this
registry did not issue is "unknown" however well it is signed.

Lifetimes (reference §1.7, D7): the current docs guarantee "a min TTL of 2 hours" (the
default); older pages said "valid for at least 55 minutes" (``timedelta(minutes=55)``). Each
installation has one current token, handed out until it expires or is revoked (the platform's
caching is not documented; D4 proposes this). Rotating with :meth:`TokenRegistry.new` keeps
older tokens valid until their own ``exp``; :meth:`TokenRegistry.revoke` ends all of them.

User tokens (``x-forge-oauth-user``) are minted the same way, bound to (installation,
accountId), and marked as such in :class:`Lookup`; whether storage accepts them is the
router's decision (the docs are ambiguous, D7).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from ._keys import SYSTEM_TOKEN_SECRET

DEFAULT_LIFETIME = timedelta(hours=2)
#: Private claims (RFC 7519 §4.3 collision-resistant names), for debugging only.
INSTALLATION_CLAIM = "https://fake.forge/installation"
ACCOUNT_CLAIM = "https://fake.forge/account"
KIND_CLAIM = "https://fake.forge/token"

Problem = Literal["expired", "revoked", "unknown"]

#: For the router, if it refuses user tokens on storage calls (reference D4, an inference).
USER_TOKEN_MESSAGE = (
    "Unauthorized: a user token (x-forge-oauth-user) cannot call Forge storage; "
    "send the system token (x-forge-oauth-system)"
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_HEADER = _b64(b'{"alg":"HS256","typ":"JWT"}')


def _sign(claims: dict[str, object]) -> str:
    body = _HEADER + "." + _b64(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(SYSTEM_TOKEN_SECRET, body.encode("ascii"), hashlib.sha256).digest()
    return body + "." + _b64(mac)


def _signed_claims(token: str) -> dict[str, object] | None:
    """The claims of a token signed with this process's secret, else ``None``."""
    try:
        header, payload, signature = token.split(".")
        body = f"{header}.{payload}".encode("ascii")
        mac = hmac.new(SYSTEM_TOKEN_SECRET, body, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, _unb64(signature)):
            return None
        claims = json.loads(_unb64(payload))
    except ValueError:  # not three parts, not ASCII, not base64, not JSON
        return None
    return claims if isinstance(claims, dict) else None


def iso_seconds(epoch: int) -> str:
    """``2026-12-07T10:00:00Z``: how a 401 message names a moment."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def lifetime_seconds(lifetime: object, *, name: str = "token_lifetime") -> int:
    """Whole seconds of a positive ``timedelta`` (rounded up); otherwise a TypeError (not a
    timedelta) or ValueError (not positive) saying what to write."""
    if not isinstance(lifetime, timedelta) or lifetime <= timedelta(0):
        raise (ValueError if isinstance(lifetime, timedelta) else TypeError)(
            f"{name} must be a positive datetime.timedelta, such as timedelta(hours=2) or "
            f"timedelta(minutes=55); got {lifetime!r}"
        )
    return math.ceil(lifetime.total_seconds())


def _key(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        error = ValueError if isinstance(value, str) else TypeError
        raise error(f"{what} must be a non-empty string; got {value!r}")
    return value


@dataclass(frozen=True)
class Lookup:
    """What a bearer token resolves to.

    ``installation`` is set only for a token that may be served (``problem is None``);
    ``issued_to`` names the installation of any token this registry issued, usable or not.
    ``foreign`` marks an unknown token that this process's fake signed: another
    ``ForgeStorage``'s (an earlier test's, typically), which a remote cached too long.
    """

    installation: str | None
    problem: Problem | None
    issued_to: str | None = None
    account_id: str | None = None
    expires_at: int | None = None
    foreign: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def is_user(self) -> bool:
        """A user token (``x-forge-oauth-user``), bound to ``account_id``."""
        return self.account_id is not None

    @property
    def message(self) -> str | None:
        """The 401 message for a token that may not be served, else ``None``."""
        which = "user token" if self.is_user else "token"
        if self.problem == "expired":
            assert self.expires_at is not None
            when = iso_seconds(self.expires_at)
            return f"Unauthorized: the {which} expired at {when} (installation {self.issued_to!r})"
        if self.problem == "revoked":
            return f"Unauthorized: the {which} was revoked (installation {self.issued_to!r})"
        if self.problem == "unknown":
            if self.foreign:
                return (
                    "Unauthorized: the token was issued by another fake (an earlier test's, for "
                    f"installation {self.issued_to!r}); tokens do not carry over between tests, "
                    "so send this test's installation.token"
                )
            return (
                "Unauthorized: the token was not issued for any installation of this fake; "
                "send installation.token"
            )
        return None


@dataclass(frozen=True)
class _Issued:
    installation: str
    account_id: str | None
    exp: int
    generation: int
    #: The answer for a usable token, built once so a lookup allocates nothing.
    answer: Lookup


class TokenRegistry:
    """Every token a ``ForgeStorage`` issued, resolved in O(1). Thread-safe.

    Minting takes a lock; :meth:`lookup` is a dict hit, a generation check and a clock read.
    """

    def __init__(self, lifetime: timedelta = DEFAULT_LIFETIME) -> None:
        self._seconds = lifetime_seconds(lifetime)
        self._lifetime = lifetime
        self._lock = threading.Lock()
        self._issued: dict[str, _Issued] = {}
        #: (installation, accountId or None for the system token) → its current token.
        self._current: dict[tuple[str, str | None], str] = {}
        #: Revocation: a token is revoked once its installation's generation moved past it.
        self._generation: dict[str, int] = {}

    @property
    def lifetime(self) -> timedelta:
        """How long tokens minted from now on live. Tokens already handed out keep their
        ``exp``; the next :meth:`current` mints one under the new lifetime."""
        return self._lifetime

    @lifetime.setter
    def lifetime(self, value: timedelta) -> None:
        seconds = lifetime_seconds(value)
        with self._lock:
            self._seconds, self._lifetime = seconds, value
            self._current.clear()

    def current(self, installation_key: str) -> str:
        """The installation's current system token; a fresh one if it has none, or its
        current one expired or was revoked."""
        return self._current_for(_key(installation_key, "installation key"), None)

    def new(self, installation_key: str) -> str:
        """Rotate: a fresh system token becomes current; older ones stay valid until their
        own ``exp``."""
        key = _key(installation_key, "installation key")
        with self._lock:
            return self._mint(key, None, time.time())

    def user(self, installation_key: str, account_id: str) -> str:
        """The current user token of ``account_id`` in the installation (minted like
        :meth:`current`)."""
        key = _key(installation_key, "installation key")
        return self._current_for(key, _key(account_id, "accountId"))

    def revoke(self, installation_key: str) -> None:
        """Every token of the installation, system and user, stops working now."""
        key = _key(installation_key, "installation key")
        with self._lock:
            self._generation[key] = self._generation.get(key, 0) + 1

    def lookup(self, token: str) -> Lookup:
        """Which installation a bearer token belongs to, or why it may not be served."""
        issued = self._issued.get(token)
        if issued is None:
            return self._unknown(token)
        if issued.generation != self._generation.get(issued.installation, 0):
            return self._refused(issued, "revoked")
        if time.time() >= issued.exp:  # PyJWT's rule too: expired once exp <= now
            return self._refused(issued, "expired")
        return issued.answer

    # -- internals ------------------------------------------------------------------------
    def _current_for(self, key: str, account_id: str | None) -> str:
        with self._lock:
            now = time.time()
            token = self._current.get((key, account_id))
            if token is not None:
                issued = self._issued[token]
                if issued.generation == self._generation.get(key, 0) and now < issued.exp:
                    return token
            return self._mint(key, account_id, now)

    def _mint(self, key: str, account_id: str | None, now: float) -> str:
        iat = int(now)
        exp = iat + self._seconds
        claims: dict[str, object] = {
            "iat": iat,
            "exp": exp,
            "jti": secrets.token_hex(16),
            INSTALLATION_CLAIM: key,
            KIND_CLAIM: "system" if account_id is None else "user",
        }
        if account_id is not None:
            claims[ACCOUNT_CLAIM] = account_id
        token = _sign(claims)
        answer = Lookup(key, None, key, account_id, exp)
        self._issued[token] = _Issued(key, account_id, exp, self._generation.get(key, 0), answer)
        self._current[(key, account_id)] = token
        return token

    @staticmethod
    def _refused(issued: _Issued, problem: Problem) -> Lookup:
        return Lookup(None, problem, issued.installation, issued.account_id, issued.exp)

    @staticmethod
    def _unknown(token: str) -> Lookup:
        claims = _signed_claims(token) if token.count(".") == 2 else None
        owner = claims.get(INSTALLATION_CLAIM) if claims else None
        if isinstance(owner, str):
            return Lookup(None, "unknown", owner, foreign=True)
        return _UNKNOWN  # 0.1's tokens take this path on every call: one shared answer


#: What an unknown token that no fake of this process signed resolves to (immutable).
_UNKNOWN = Lookup(None, "unknown")
