"""A remote's inbound FIT verification, run unchanged against the fake.

``verify`` is how Python remotes verify Forge Invocation Tokens (reference §1.5, §1.6, C-PYJWK):
``jwt.PyJWKClient`` on Forge's real JWKS URL, then ``jwt.decode`` with RS256, the app ARI as
audience and Forge's issuer. While the fake is active that URL serves the fake's public key:
to urllib (what PyJWKClient uses), and to requests and httpx for remotes that fetch it
themselves. Nothing here patches anything: the ``forge_storage`` fixture is all there is.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
import pytest

from tests._clock import Clock
from tests.multitenant._doors import REST, USER, bearer

PROD_JWKS = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"
STAGING_JWKS = "https://forge.cdn.stg.atlassian-dev.net/.well-known/jwks.json"


def verify(headers: dict[str, str], app_id: str, url: str = PROD_JWKS) -> dict[str, Any]:
    """Production verification code, as a remote writes it."""
    scheme, _, token = headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    key = jwt.PyJWKClient(url).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=app_id,
        issuer="forge/invocation-token",
        options={"require": ["exp", "iat", "nbf", "iss", "aud", "jti"]},
    )
    return claims


@pytest.mark.parametrize("url", [PROD_JWKS, STAGING_JWKS], ids=["prod", "staging"])
def test_pyjwkclient_on_forges_jwks_url_verifies_the_installations_fit(
    forge_storage: Any, url: str
) -> None:
    site = forge_storage.installation("site-b", product="confluence")
    invocation = site.invocation(principal=USER, module_key="settings-panel")

    claims = verify(invocation.headers, forge_storage.app_id, url)

    assert claims == invocation.claims
    assert claims["aud"] == claims["app"]["id"] == forge_storage.app_id
    assert claims["app"]["installationId"] == site.installation_id
    assert claims["app"]["installation"]["id"] == site.installation_id
    assert claims["context"]["cloudId"] == site.cloud_id
    assert claims["context"]["siteUrl"] == "https://site-b.atlassian.net"
    assert claims["app"]["module"] == {"type": "xen:macro", "key": "settings-panel"}
    assert claims["principal"] == USER


def test_the_fits_system_token_reaches_the_installation_that_was_invoked(
    forge_storage: Any,
) -> None:
    import requests

    a = forge_storage.installation("site-a")
    b = forge_storage.installation("site-b")
    b.kvs["settings"] = "b"

    headers = b.invocation().headers
    verify(headers, forge_storage.app_id)
    answer = requests.post(
        REST + "get", json={"key": "settings"}, headers=bearer(headers["x-forge-oauth-system"])
    )

    assert answer.json() == {"key": "settings", "value": "b"}
    assert headers["x-forge-oauth-system"] == b.token
    assert a.calls == []


def test_a_manifests_app_id_is_the_audience(forge_storage: Any, tmp_path: Any) -> None:
    manifest = tmp_path / "manifest.yml"
    app_id = "ari:cloud:ecosystem::app/8db33809-1f32-48bb-8c52-5877dab48107"
    manifest.write_text(f"app:\n  id: {app_id}\n", encoding="utf-8")
    forge_storage.load_manifest(manifest)

    claims = verify(forge_storage.installation("site-b").invocation().headers, app_id)

    assert forge_storage.app_id == app_id
    assert claims["aud"] == app_id


@pytest.mark.parametrize("kind", ["requests", "httpx", "httpx-async"])
def test_a_remote_fetching_the_jwks_itself_gets_the_fakes_key(
    forge_storage: Any, kind: str
) -> None:
    import anyio
    import httpx
    import requests

    invocation = forge_storage.installation("site-b").invocation()
    if kind == "requests":
        document = requests.get(PROD_JWKS, timeout=5).json()
    elif kind == "httpx":
        document = httpx.get(STAGING_JWKS).json()
    else:

        async def fetch() -> Any:
            async with httpx.AsyncClient() as client:
                return (await client.get(PROD_JWKS)).json()

        document = anyio.run(fetch)

    keys = jwt.PyJWKSet.from_dict(document)
    kid = jwt.get_unverified_header(invocation.fit)["kid"]
    (key,) = [k for k in keys.keys if k.key_id == kid]
    claims = jwt.decode(
        invocation.fit, key.key, algorithms=["RS256"], audience=forge_storage.app_id
    )
    assert claims["app"]["installationId"] == invocation.claims["app"]["installationId"]
    assert forge_storage.calls == []  # the JWKS is not a storage call


def test_the_negative_variants_are_rejected_by_pyjwt(forge_storage: Any) -> None:
    site = forge_storage.installation("site-b")
    app_id = forge_storage.app_id
    other_app = "ari:cloud:ecosystem::app/00000000-0000-0000-0000-000000000000"

    with pytest.raises(jwt.ExpiredSignatureError):
        verify(site.invocation(expired=True).headers, app_id)
    with pytest.raises(jwt.InvalidAudienceError):
        verify(site.invocation(audience=other_app).headers, app_id)
    with pytest.raises(jwt.InvalidSignatureError):
        verify(site.invocation(valid_signature=False).headers, app_id)
    with pytest.raises(jwt.InvalidAudienceError):
        verify(site.invocation().headers, other_app)  # a remote configured for another app


def test_a_fit_expires_25_seconds_after_it_was_issued(forge_storage: Any, clock: Clock) -> None:
    site = forge_storage.installation("site-b")
    invocation = site.invocation(principal=USER)
    clock.advance(timedelta(seconds=24))
    verify(invocation.headers, forge_storage.app_id)

    clock.advance(timedelta(seconds=1))  # now == exp: PyJWT >= 2.6 rejects it

    with pytest.raises(jwt.ExpiredSignatureError):
        verify(invocation.headers, forge_storage.app_id)
    verify(site.invocation(principal=USER).headers, forge_storage.app_id)  # a new one is fine


def test_a_system_token_is_never_mistaken_for_a_fit(forge_storage: Any) -> None:
    headers = forge_storage.installation("site-b").invocation().headers

    with pytest.raises(jwt.PyJWTError):
        verify({"authorization": f"Bearer {headers['x-forge-oauth-system']}"}, forge_storage.app_id)


@pytest.mark.parametrize(
    ("environment", "expected"),
    [("production", "PRODUCTION"), ("staging", "STAGING"), ("development", "DEVELOPMENT")],
)
def test_the_environment_is_the_installations(
    forge_storage: Any, environment: str, expected: str
) -> None:
    site = forge_storage.installation("site-b", environment=environment)

    claims = verify(site.invocation().headers, forge_storage.app_id)

    assert claims["app"]["environment"]["type"] == expected
    assert "context" not in claims  # a backend invocation: "no context is currently provided"


@pytest.mark.parametrize(
    ("arguments", "error", "hint"),
    [
        ({"user_token": True}, ValueError, "needs a principal"),
        ({"expires_in": 25}, TypeError, "positive datetime.timedelta"),
        ({"expires_in": timedelta(0)}, ValueError, "positive datetime.timedelta"),
        ({"expired": True, "issued_at": None, "audience": ""}, ValueError, "audience"),
        ({"principal": ""}, ValueError, "principal must be a non-empty string"),
        ({"module_key": 3}, TypeError, "module_key must be a non-empty string"),
        ({"valid_signature": "no"}, TypeError, "True or False"),
        ({"extra_claims": {"x": object()}}, TypeError, "extra_claims must be JSON"),
        ({"nonsense": 1}, TypeError, "invocation() got unexpected keyword argument(s) nonsense"),
        ({"site_url": "https://x"}, TypeError, "it accepts user_token, valid_signature"),
    ],
)
def test_impossible_invocation_arguments_say_what_to_write(
    forge_storage: Any, arguments: dict[str, Any], error: type[Exception], hint: str
) -> None:
    site = forge_storage.installation("site-b")

    with pytest.raises(error) as raised:
        site.invocation(**arguments)

    assert hint in str(raised.value)


def test_a_module_level_verifier_keeps_working_across_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import jwt, pytest

        JWKS = jwt.PyJWKClient("https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json")

        def verify(headers, app_id):
            token = headers["authorization"].removeprefix("Bearer ")
            key = JWKS.get_signing_key_from_jwt(token)
            return jwt.decode(token, key.key, algorithms=["RS256"], audience=app_id)

        @pytest.mark.parametrize("n", range(3))
        def test_each_test_has_a_fresh_fake_and_the_same_key(forge_storage, n):
            site = forge_storage.installation(f"site-{n}")
            claims = verify(site.invocation().headers, forge_storage.app_id)
            assert claims["app"]["installationId"] == site.installation_id
        """
    )

    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)
