"""The process's FIT key and JWKS, and what happens without the ``invocations`` extra."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import textwrap
import threading

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from pytest_forge_storage.router import _keys


def _uint(text: str) -> int:
    assert "=" not in text  # base64url without padding (RFC 7518 §6.3.1)
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def test_the_jwks_has_the_shape_verifiers_read() -> None:
    document = _keys.jwks()

    assert list(document) == ["keys"]
    (key,) = document["keys"]
    assert set(key) == {"kty", "kid", "use", "alg", "n", "e"}
    assert (key["kty"], key["use"], key["alg"], key["e"]) == ("RSA", "sig", "RS256", "AQAB")
    assert _uint(key["n"]).bit_length() == 2048
    assert key["kid"] == _keys.kid()


def test_the_kid_is_the_fingerprint_of_the_published_key() -> None:
    public = jwt.PyJWK(_keys.jwks()["keys"][0]).key
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    assert _keys.kid() == f"fake-forge-{hashlib.sha256(der).hexdigest()[:8]}"


def test_one_key_per_process() -> None:
    assert _keys.signing_key() is _keys.signing_key()
    assert _keys.jwks() == _keys.jwks()


def test_the_jwks_is_a_fresh_copy_each_time() -> None:
    document = _keys.jwks()
    document["keys"].clear()

    assert len(_keys.jwks()["keys"]) == 1


def test_the_wrong_key_impersonates_the_kid_with_another_modulus() -> None:
    right, wrong = _keys.signing_key(), _keys.wrong_key()

    assert wrong.kid == right.kid
    assert wrong.jwk()["n"] != right.jwk()["n"]
    assert _keys.jwks()["keys"] == [right.jwk()]  # the wrong key is never published


def test_concurrent_first_use_generates_one_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_keys, "_cache", {})  # as in a fresh process
    barrier = threading.Barrier(8)
    seen: list[str] = []

    def first_use() -> None:
        barrier.wait()
        seen.append(_keys.kid())
        seen.append(_keys.wrong_key().kid)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(seen) == 16
    assert len(set(seen)) == 1
    assert set(_keys._cache) == {"signing", "wrong"}


def test_the_jwks_urls_are_forges() -> None:
    assert _keys.JWKS_URLS == (
        "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json",
        "https://forge.cdn.stg.atlassian-dev.net/.well-known/jwks.json",
    )


#: Run in a fresh interpreter where PyJWT and cryptography cannot be imported.
_WITHOUT_EXTRA = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("jwt", "cryptography"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())

import pytest_forge_storage.plugin
from pytest_forge_storage.storage import _fit
from pytest_forge_storage.router import _keys, _tokens

registry = _tokens.TokenRegistry()
token = registry.current("site-b")
assert registry.lookup(token).installation == "site-b"
claims = _fit.fit_claims(
    app_id="8db33809-1f32-48bb-8c52-5877dab48107", installation_id="0a3a7799",
    product="jira", cloud_id="c", site_url="https://site-b.atlassian.net",
)
for attempt in (_keys.jwks, lambda: _fit.invocation(claims, system_token=token)):
    try:
        attempt()
    except ImportError as exc:
        print(exc)
    else:
        raise SystemExit("no ImportError")
"""


def test_without_the_extra_tokens_work_and_fits_name_the_extra() -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_WITHOUT_EXTRA)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert line == (
            "Forge invocations (FITs, the JWKS) need PyJWT and cryptography, and 'jwt' is not "
            "installed: pip install 'pytest-forge-storage[invocations]'"
        )


def test_require_names_the_missing_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cryptography", None)  # import raises ImportError

    with pytest.raises(ImportError, match=r"'cryptography' is not installed: pip install") as info:
        _keys.require("cryptography")
    assert info.value.name == "cryptography"


def test_the_plugin_import_loads_neither_pyjwt_nor_cryptography() -> None:
    probe = (
        "import sys, pytest_forge_storage.plugin; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jwt', 'cryptography')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
