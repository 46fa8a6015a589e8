"""A remote's own FIT verification, as real remotes write it, accepts the fake's FITs.

``verify`` below is the C-PYJWK remote of the reference (a module-level ``PyJWKClient`` on
Forge's JWKS URL, then ``jwt.decode`` with RS256, the app ARI as audience and Forge's issuer).
The JWKS comes from ``served_jwks`` (conftest), through urllib as PyJWKClient fetches it.
"""

from __future__ import annotations

import urllib.request
from typing import Any

import jwt
import pytest

from pytest_forge_storage.router import _keys, _tokens
from pytest_forge_storage.storage import _fit
from tests.invocations._support import APP_ID, START, Clock

CLOUD_ID = "d0d52620-3203-4cfa-8db5-f2587155f0dd"


def make(**overrides: Any) -> _fit.Invocation:
    arguments: dict[str, Any] = {
        "app_id": APP_ID,
        "installation_id": "0a3a7799-53ae-4a5b-9e7e-03338980abb5",
        "product": "confluence",
        "cloud_id": CLOUD_ID,
        "site_url": _fit.site_url_for("site-b"),
        "principal": "655362:312d3308-8954-42b0-aa38-771a10c88656",
        "module_key": "forge-remote-app-boot",
    }
    valid_signature = overrides.pop("valid_signature", True)
    arguments.update(overrides)
    claims = _fit.fit_claims(**arguments)
    token = _tokens.TokenRegistry().current("site-b")
    return _fit.invocation(claims, system_token=token, valid_signature=valid_signature)


class Remote:
    """C-PYJWK: the verifier a Python remote keeps at module level."""

    def __init__(self, url: str = _keys.PROD_JWKS_URL, *, leeway: int = 0) -> None:
        self.client = jwt.PyJWKClient(url)
        self.leeway = leeway

    def verify(self, authorization: str) -> dict[str, Any]:
        scheme, _, token = authorization.partition(" ")
        assert scheme == "Bearer"
        key = self.client.get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=APP_ID,
            issuer="forge/invocation-token",
            leeway=self.leeway,
            options={"require": ["exp", "iat", "nbf", "iss", "aud", "jti"]},
        )
        return claims


@pytest.mark.parametrize("url", _keys.JWKS_URLS, ids=["prod", "staging"])
def test_pyjwkclient_on_forges_jwks_url_verifies_the_fit(served_jwks: list[str], url: str) -> None:
    invocation = make()

    claims = Remote(url).verify(invocation.headers["authorization"])

    assert claims == invocation.claims
    assert served_jwks == [url]


def test_the_jwks_is_fetched_once_for_many_fits(served_jwks: list[str]) -> None:
    remote = Remote()  # one key for the whole process: a cached verifier keeps working

    for _ in range(3):
        remote.verify(make().headers["authorization"])

    assert served_jwks == [_keys.PROD_JWKS_URL]


def test_urlopen_gets_the_jwks_document_too(served_jwks: list[str]) -> None:
    import json

    with urllib.request.urlopen(_keys.STAGING_JWKS_URL, timeout=5) as response:
        document = json.load(response)

    assert document == _keys.jwks()


def test_an_expired_fit_is_rejected(served_jwks: list[str]) -> None:
    with pytest.raises(jwt.ExpiredSignatureError):
        Remote().verify(make(expired=True).headers["authorization"])


def test_expired_means_beyond_a_usual_leeway(served_jwks: list[str]) -> None:
    with pytest.raises(jwt.ExpiredSignatureError):
        Remote(leeway=60).verify(make(expired=True).headers["authorization"])


def test_a_wrong_audience_is_rejected(served_jwks: list[str]) -> None:
    invocation = make(audience="ari:cloud:ecosystem::app/00000000-0000-0000-0000-000000000000")

    with pytest.raises(jwt.InvalidAudienceError):
        Remote().verify(invocation.headers["authorization"])
    assert invocation.claims["app"]["id"] == APP_ID  # only aud is wrong


def test_a_bad_signature_is_rejected_after_the_kid_is_found(served_jwks: list[str]) -> None:
    invocation = make(valid_signature=False)
    remote = Remote()

    key = remote.client.get_signing_key_from_jwt(invocation.fit)  # the published key is found
    assert key.key_id == _keys.kid()
    with pytest.raises(jwt.InvalidSignatureError):
        remote.verify(invocation.headers["authorization"])


def test_a_fit_verifies_against_the_injected_public_key() -> None:
    """For remotes that take a key instead of a URL (C-CF ``verificationKey``, jose)."""
    fit = make().fit

    claims = jwt.decode(fit, _keys.public_key(), algorithms=["RS256"], audience=APP_ID)

    assert claims["iss"] == "forge/invocation-token"


def test_the_system_token_never_verifies_as_a_fit() -> None:
    """A remote that mistakes ``x-forge-oauth-system`` for the FIT fails, as against Forge."""
    system_token = make().headers["x-forge-oauth-system"]

    with pytest.raises(jwt.InvalidAlgorithmError):
        jwt.decode(system_token, _keys.public_key(), algorithms=["RS256"], audience=APP_ID)


def test_expiry_follows_the_frozen_clock(served_jwks: list[str], clock: Clock) -> None:
    invocation = make()  # minted at START, lives 25 s
    remote = Remote()
    assert invocation.claims["iat"] == invocation.claims["nbf"] == clock.epoch

    clock.advance(24)
    assert remote.verify(invocation.headers["authorization"])["jti"] == invocation.claims["jti"]

    # At now == exp PyJWT >= 2.6 rejects (exp <= now) and older releases still accept
    # (exp < now); a second later every release rejects.
    clock.advance(2)
    with pytest.raises(jwt.ExpiredSignatureError):
        remote.verify(invocation.headers["authorization"])


def test_leeway_edges_on_the_frozen_clock(served_jwks: list[str], clock: Clock) -> None:
    invocation = make()
    remote = Remote(leeway=10)

    clock.advance(34)  # exp + 9
    remote.verify(invocation.headers["authorization"])
    clock.advance(2)  # exp + 11: past the leeway
    with pytest.raises(jwt.ExpiredSignatureError):
        remote.verify(invocation.headers["authorization"])


def test_a_past_issued_at_tests_a_remote_that_accepts_late_fits(
    served_jwks: list[str], clock: Clock
) -> None:
    from datetime import timedelta

    late = make(issued_at=START - timedelta(seconds=30))  # exp 5 s ago

    with pytest.raises(jwt.ExpiredSignatureError):
        Remote().verify(late.headers["authorization"])
    assert Remote(leeway=10).verify(late.headers["authorization"])["exp"] == clock.epoch - 5


def test_a_future_issued_at_is_not_yet_valid(served_jwks: list[str], clock: Clock) -> None:
    from datetime import timedelta

    early = make(issued_at=START + timedelta(minutes=1))

    with pytest.raises(jwt.ImmatureSignatureError):
        Remote().verify(early.headers["authorization"])


def test_the_claims_pass_the_checks_real_remotes_add() -> None:
    """C-CF, C-PYA2A: the consistency checks of §1.6 hold for the default FIT."""
    from urllib.parse import urlsplit

    invocation = make()
    header = jwt.get_unverified_header(invocation.fit)
    claims = invocation.claims
    app, context = claims["app"], claims["context"]
    site = urlsplit(context["siteUrl"])

    assert header["alg"] == "RS256"
    assert isinstance(header["kid"], str)
    assert app["id"] == claims["aud"]  # C-CF
    assert app["installationId"] == app["installation"]["id"]  # C-CF
    assert app["apiBaseUrl"].rsplit("/", 1)[1] == context["cloudId"]  # C-CF
    assert all(c["apiBaseUrl"] == app["apiBaseUrl"] for c in app["installation"]["contexts"])
    assert site.scheme == "https"
    assert site.hostname is not None
    assert site.hostname.endswith(".atlassian.net")
    assert (site.path, site.query, site.port) == ("", "", None)
    assert app["module"]["key"] == "forge-remote-app-boot"  # C-PYA2A
    assert claims["principal"]  # C-PYA2A requires a user
