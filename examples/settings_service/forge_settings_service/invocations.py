"""Inbound Forge invocations: verify the Forge Invocation Token, keep each installation's token.

Forge calls the remote with ``authorization: Bearer <FIT>``, a JWT signed RS256 with a key
published at Forge's JWKS URL, and, for an endpoint with ``appSystemToken`` enabled, the
installation's system token in ``x-forge-oauth-system``. Atlassian asks remotes to check the
signature against that JWKS and that the token was "intended for an audience of your
Application ID" (the manifest's ``app.id``, an ARI).

A remote serves every installation of its app. Each has its own storage partition, reached
only with its own system token, so a token is kept per installation
(:class:`InstallationTokens`, keyed by the FIT's ``app.installationId``) and replaced by the
newest one Forge sends: tokens expire (at least 2 hours), and there is no refresh endpoint.
Work done outside an invocation (an export job, say) takes the token of the installation
it works for from the same place.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

# --8<-- [start:verifier]
FORGE_JWKS_URL = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"
FIT_ISSUER = "forge/invocation-token"
SYSTEM_TOKEN_HEADER = "x-forge-oauth-system"
#: Claims a FIT always carries; PyJWT refuses a token without one of them.
REQUIRED_CLAIMS = ["iss", "aud", "iat", "nbf", "exp", "jti", "app"]

#: One JWKS client per URL for the process: it caches the keys it fetched (Forge signs every
#: FIT with a few long-lived keys), and fetches again only for a ``kid`` it has not seen.
_jwks_clients: dict[str, jwt.PyJWKClient] = {}
_jwks_lock = threading.Lock()


def _jwks_client(url: str) -> jwt.PyJWKClient:
    with _jwks_lock:
        client = _jwks_clients.get(url)
        if client is None:
            client = _jwks_clients[url] = jwt.PyJWKClient(url, cache_keys=True)
        return client


class InvalidInvocation(Exception):
    """The request is not a valid Forge invocation of this app (the remote answers 401)."""


@dataclass(frozen=True)
class Invocation:
    """A verified invocation: who is calling, and the token to call storage with."""

    installation_id: str
    system_token: str
    claims: dict[str, Any]

    @property
    def principal(self) -> str | None:
        """The invoking user's accountId (UI modules only)."""
        return self.claims.get("principal")


class FitVerifier:
    """Checks a request's FIT against Forge's JWKS, for the app ``app_id`` (its ARI)."""

    def __init__(self, app_id: str, *, jwks_url: str = FORGE_JWKS_URL, leeway: int = 0) -> None:
        if not app_id.startswith("ari:cloud:ecosystem::app/"):
            raise ValueError(f"app_id is the manifest's app.id, an app ARI; got {app_id!r}")
        self.app_id = app_id
        self.leeway = leeway
        self._jwks = _jwks_client(jwks_url)

    def verify(self, headers: Mapping[str, str]) -> Invocation:
        """The invocation the headers carry; :class:`InvalidInvocation` says why not."""
        scheme, _, fit = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not fit.strip():
            raise InvalidInvocation("no Forge Invocation Token (authorization: Bearer <FIT>)")
        try:
            key = self._jwks.get_signing_key_from_jwt(fit.strip())
            claims = jwt.decode(
                fit.strip(),
                key.key,
                algorithms=["RS256"],
                audience=self.app_id,
                issuer=FIT_ISSUER,
                leeway=self.leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as error:
            raise InvalidInvocation(f"invalid Forge Invocation Token: {error}") from error
        installation_id = claims["app"].get("installationId")
        if not isinstance(installation_id, str) or not installation_id:
            raise InvalidInvocation("the Forge Invocation Token names no app.installationId")
        token = headers.get(SYSTEM_TOKEN_HEADER, "").strip()
        if not token:
            raise InvalidInvocation(f"missing {SYSTEM_TOKEN_HEADER} header")
        return Invocation(installation_id, token, claims)


# --8<-- [end:verifier]
# --8<-- [start:tokens]
class InstallationTokens:
    """The newest system token of each installation, by ``app.installationId``.

    Never one token for the whole remote, and never the first token seen: the first would
    reach another installation's data, the second would expire.
    """

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def remember(self, invocation: Invocation) -> None:
        with self._lock:
            self._tokens[invocation.installation_id] = invocation.system_token

    def token_for(self, installation_id: str) -> str:
        """The installation's newest token (``KeyError`` before its first invocation)."""
        with self._lock:
            return self._tokens[installation_id]


# --8<-- [end:tokens]
