"""The process's signing material: the FIT key and its JWKS, and the system tokens' secret.

One RSA-2048 key signs every Forge Invocation Token (FIT) of the process, under one ``kid``
(``fake-forge-<8 hex>``, from the key's fingerprint). It is generated once, on first use, and
kept: real remotes cache their verifier at module level (``PyJWKClient(..., cache_keys=True)``,
or a JWKS cache of an hour), so a key per test would break verification after the first test
(reference D1). A second, "wrong" RSA key signs the bad-signature variant under the same
``kid``, so a verifier finds the published key and the signature check itself fails; it is
generated only when first asked for.

System and user tokens are signed HS256 with a separate random secret. They never verify
against the JWKS (a remote that checks ``x-forge-oauth-system`` as a FIT fails, as it would
against Forge), and the fake resolves them through its registry, never by their signature.
That secret needs only the standard library, so tokens work without the ``invocations`` extra.

PyJWT and cryptography are the optional extra ``pytest-forge-storage[invocations]``, imported
here on first use: ``import pytest_forge_storage.plugin`` stays free of them. This module is an
immutable per-process cache (style: no module globals but such caches).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

#: Forge's production JWKS (reference §1.5, D: Atlassian's Java and JS samples).
PROD_JWKS_URL = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"
#: Forge's staging JWKS (reference §1.5, V: toolsplus/atlassian-connect-play picks it when
#: ``app.apiBaseUrl`` starts with ``https://api.stg.atlassian.com/``).
STAGING_JWKS_URL = "https://forge.cdn.stg.atlassian-dev.net/.well-known/jwks.json"
JWKS_URLS = (PROD_JWKS_URL, STAGING_JWKS_URL)

EXTRA = "invocations"
INSTALL_HINT = "pip install 'pytest-forge-storage[invocations]'"

#: The HS256 secret of system and user tokens: 256 random bits, fresh in every process.
SYSTEM_TOKEN_SECRET = secrets.token_bytes(32)


def require(module: str) -> ModuleType:
    """Import ``jwt`` or ``cryptography``, or say which extra brings them."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"Forge invocations (FITs, the JWKS) need PyJWT and cryptography, and {module!r} "
            f"is not installed: {INSTALL_HINT}",
            name=exc.name or module,
        ) from exc


def _b64url_uint(value: int) -> str:
    """An RFC 7518 §6.3.1 Base64urlUInt: big-endian, shortest length, no padding."""
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    """An RSA private key and the ``kid`` it is published (or impersonated) under."""

    private_key: RSAPrivateKey
    kid: str

    @property
    def public_key(self) -> RSAPublicKey:
        return self.private_key.public_key()

    def jwk(self) -> dict[str, str]:
        """The public key in the JWKS shape of reference §1.9."""
        numbers = self.public_key.public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
        }


def _generate(kid: str | None = None) -> SigningKey:
    """A fresh RSA-2048 key; its ``kid`` from the SHA-256 of its public key unless given."""
    require("jwt")  # checked here too, so the error names the extra before any signing
    require("cryptography")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kid is None:
        der = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        kid = f"fake-forge-{hashlib.sha256(der).hexdigest()[:8]}"
    return SigningKey(private, kid)


_lock = threading.RLock()  # the wrong key asks for the signing key's kid inside
_cache: dict[str, SigningKey] = {}


def _cached(name: str) -> SigningKey:
    found = _cache.get(name)
    if found is not None:
        return found
    with _lock:
        found = _cache.get(name)
        if found is None:
            # The wrong key impersonates the signing key's kid (a bad signature, not a kid miss).
            kid = signing_key().kid if name == "wrong" else None
            found = _cache[name] = _generate(kid)
        return found


def signing_key() -> SigningKey:
    """The key every FIT of this process is signed with (generated on first call)."""
    return _cached("signing")


def wrong_key() -> SigningKey:
    """Another RSA-2048 key, under the signing key's ``kid``: its signatures do not verify."""
    return _cached("wrong")


def kid() -> str:
    """The ``kid`` of the signing key, ``fake-forge-<8 hex>``, stable for the process."""
    return signing_key().kid


def public_key() -> RSAPublicKey:
    """The public key, for remotes that take an injected key instead of a JWKS URL."""
    return signing_key().public_key


def jwks() -> dict[str, Any]:
    """The JWKS document served at :data:`JWKS_URLS`: ``{"keys": [<the public key>]}``.

    A fresh dict on every call, so a caller may change its copy (to test a remote against a
    JWKS without the key, say) without changing what is served.
    """
    return {"keys": [signing_key().jwk()]}
