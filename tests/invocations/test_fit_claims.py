"""The FIT's claims and headers: exactly the names of reference §1.4 and D3, nothing more."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
import pytest

from pytest_forge_storage.router import _keys
from pytest_forge_storage.storage import _fit
from tests.invocations._support import APP_ID, START, Clock

APP_UUID = APP_ID.rsplit("/", 1)[1]
INSTALLATION_UUID = "0a3a7799-53ae-4a5b-9e7e-03338980abb5"
INSTALLATION_ID = f"ari:cloud:ecosystem::installation/{INSTALLATION_UUID}"
CLOUD_ID = "d0d52620-3203-4cfa-8db5-f2587155f0dd"
ACCOUNT = "655362:312d3308-8954-42b0-aa38-771a10c88656"
HEX = re.compile(r"[0-9a-f]+\Z")


def claims(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "app_id": APP_ID,
        "installation_id": INSTALLATION_ID,
        "product": "jira",
        "cloud_id": CLOUD_ID,
        "site_url": "https://site-b.atlassian.net",
    }
    arguments.update(overrides)
    return _fit.fit_claims(**arguments)


def test_a_ui_invocation_has_exactly_the_documented_claims(clock: Clock) -> None:
    found = claims(principal=ACCOUNT, module_key="issue-panel", app_version="2.0.0")

    api = f"https://api.atlassian.com/ex/jira/{CLOUD_ID}"
    environment = found["app"]["environment"]["id"]
    assert found == {
        "app": {
            "id": APP_ID,
            "appVersion": "2.0.0",
            "installationId": INSTALLATION_ID,
            "apiBaseUrl": api,
            "environment": {"type": "PRODUCTION", "id": environment},
            "module": {"type": "jira:issuePanel", "key": "issue-panel"},
            "installation": {
                "id": INSTALLATION_ID,
                "contexts": [{"name": "jira", "apiBaseUrl": api}],
            },
        },
        "context": {
            "cloudId": CLOUD_ID,
            "siteUrl": "https://site-b.atlassian.net",
            "moduleKey": "issue-panel",
        },
        "principal": ACCOUNT,
        "aud": APP_ID,
        "iss": "forge/invocation-token",
        "iat": clock.epoch,
        "nbf": clock.epoch,
        "exp": clock.epoch + 25,
        "jti": found["jti"],
    }
    # the two-segment form of the payload examples: environment/<appUuid>/<envUuid>
    prefix, app_uuid, env_uuid = environment.rsplit("/", 2)
    assert (prefix, app_uuid) == ("ari:cloud:ecosystem::environment", APP_UUID)
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", env_uuid)


def test_without_a_principal_it_is_a_backend_invocation_with_no_context() -> None:
    found = claims()

    assert "context" not in found
    assert "principal" not in found
    assert found["app"]["module"] == {"type": "core:endpoint", "key": "remote-endpoint"}


def test_no_undocumented_claim_by_default() -> None:
    found = claims(principal=ACCOUNT)

    for absent in ("sub", "icLabel", "invocationId", "installationId"):
        assert absent not in found
    assert "version" not in found["app"]  # deprecated, removal announced for 2025-09-24
    assert "license" not in found["app"]
    assert "cloudId" not in found["app"]["installation"]["contexts"][0]


def test_confluence_ui_module_type_and_explicit_module_type() -> None:
    assert claims(product="confluence", principal=ACCOUNT)["app"]["module"]["type"] == "xen:macro"
    assert claims(product="bitbucket", principal=ACCOUNT)["app"]["module"]["type"] == (
        "core:endpoint"
    )
    explicit = claims(principal=ACCOUNT, module_type="jira:globalPage")
    assert explicit["app"]["module"]["type"] == "jira:globalPage"


def test_jti_is_40_lowercase_hex_and_unique() -> None:
    first, second = claims()["jti"], claims()["jti"]

    assert len(first) == 40
    assert HEX.match(first)
    assert first != second


def test_bare_uuids_become_aris_and_environment_case_is_free() -> None:
    found = claims(app_id=APP_UUID, installation_id=INSTALLATION_UUID, environment="Development")

    assert found["app"]["id"] == found["aud"] == APP_ID
    assert found["app"]["installationId"] == found["app"]["installation"]["id"] == INSTALLATION_ID
    assert found["app"]["environment"]["type"] == "DEVELOPMENT"


def test_the_environment_id_is_stable_per_app_and_type() -> None:
    def env(kind: str) -> str:
        result: str = claims(environment=kind)["app"]["environment"]["id"]
        return result

    assert env("production") == env("PRODUCTION")
    assert len({env("development"), env("staging"), env("production")}) == 3
    given = "ari:cloud:ecosystem::environment/aa911f10-c54b-4b93-9e27-dd2947840b9e"
    assert claims(environment_id=given)["app"]["environment"]["id"] == given  # one-segment form


def test_api_base_url_can_be_given_for_staging_realism() -> None:
    staging = f"https://api.stg.atlassian.com/ex/confluence/{CLOUD_ID}"
    found = claims(product="confluence", api_base_url=staging)

    assert found["app"]["apiBaseUrl"] == staging
    assert found["app"]["installation"]["contexts"] == [
        {"name": "confluence", "apiBaseUrl": staging}
    ]


def test_audience_override_changes_only_aud() -> None:
    found = claims(audience="ari:cloud:ecosystem::app/other")

    assert found["aud"] == "ari:cloud:ecosystem::app/other"
    assert found["app"]["id"] == APP_ID


def test_expires_in_and_expired(clock: Clock) -> None:
    assert claims(expires_in=timedelta(minutes=1))["exp"] == clock.epoch + 60
    assert claims(expires_in=timedelta(milliseconds=1500))["exp"] == clock.epoch + 2  # rounded up

    expired = claims(expired=True)
    assert expired["exp"] == clock.epoch - 300  # 5 minutes ago: past any usual leeway
    assert expired["exp"] - expired["iat"] == 25


def test_issued_at_sets_the_time_claims() -> None:
    found = claims(issued_at=START - timedelta(seconds=40))

    start = int(START.timestamp())
    assert (found["iat"], found["nbf"], found["exp"]) == (start - 40, start - 40, start - 15)


def test_extra_claims_are_merged_deeply() -> None:
    found = claims(
        extra_claims={"sub": "someone", "app": {"version": "16", "module": {"key": "x"}}}
    )

    assert found["sub"] == "someone"
    assert found["app"]["version"] == "16"
    assert found["app"]["module"] == {"type": "core:endpoint", "key": "x"}
    assert found["app"]["id"] == APP_ID


def test_extra_claims_are_copied() -> None:
    extra: dict[str, Any] = {"app": {"license": {"isActive": True}}}
    found = claims(extra_claims=extra)
    found["app"]["license"]["isActive"] = False

    assert extra["app"]["license"]["isActive"] is True


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"principal": 655362}, TypeError, "principal must be a non-empty string such as '655362:"),
        ({"principal": " "}, ValueError, "principal must be a non-empty string"),
        (
            {"environment": "prod"},
            ValueError,
            "environment must be one of 'development', 'staging', 'prod",
        ),
        ({"environment": None}, TypeError, "environment must be one of"),
        (
            {"expires_in": 25},
            TypeError,
            "expires_in must be a positive datetime.timedelta, such as timedel",
        ),
        (
            {"expires_in": timedelta(0)},
            ValueError,
            "For an expired FIT pass expired=True, or a past issued_at",
        ),
        ({"expires_in": timedelta(seconds=-5)}, ValueError, "expires_in must be a positive"),
        (
            {"issued_at": datetime(2026, 12, 7, 10)},
            ValueError,
            "issued_at must be a timezone-aware datetime",
        ),
        ({"issued_at": 1796637600}, TypeError, "datetime.now(timezone.utc) - timedelta(minutes=1)"),
        (
            {"issued_at": START, "expired": True},
            ValueError,
            "pass either expired=True or issued_at=..., not",
        ),
        ({"expired": "yes"}, TypeError, "expired must be True or False"),
        (
            {"product": "Jira"},
            ValueError,
            "product must be a lower-case name such as 'jira'; got 'Jira'",
        ),
        ({"product": ""}, ValueError, "product must be a lower-case name"),
        (
            {"app_id": "ari:cloud:jira::site/x"},
            ValueError,
            "app_id must be ari:cloud:ecosystem::app/<uuid> o",
        ),
        (
            {"app_id": None},
            TypeError,
            "app_id must be a non-empty string such as 'ari:cloud:ecosystem::app/",
        ),
        ({"installation_id": ""}, ValueError, "installation_id must be a non-empty string"),
        (
            {"environment_id": "env/1"},
            ValueError,
            "environment_id must be ari:cloud:ecosystem::environment/",
        ),
        ({"cloud_id": ""}, ValueError, "cloud_id must be a non-empty string"),
        ({"site_url": "site-b.atlassian.net"}, ValueError, "site_url must be an https:// URL"),
        ({"module_key": ""}, ValueError, "module_key must be a non-empty string"),
        (
            {"module_type": 3},
            TypeError,
            "module_type must be a non-empty string such as 'jira:issuePanel'",
        ),
        ({"audience": ""}, ValueError, "audience must be a non-empty string"),
        ({"app_version": 2}, TypeError, "app_version must be a non-empty string"),
        ({"extra_claims": [("sub", "x")]}, TypeError, "extra_claims must be a dict of claims"),
        (
            {"extra_claims": {"when": START}},
            TypeError,
            "extra_claims must be JSON (str keys, JSON values)",
        ),
    ],
)
def test_impossible_arguments_say_what_to_write(
    overrides: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)) as info:
        claims(**overrides)
    assert type(info.value) is error  # a wrong type is a TypeError, a wrong value a ValueError


def invocation(**overrides: Any) -> _fit.Invocation:
    user_token = overrides.pop("user_token", None)
    return _fit.invocation(
        claims(**overrides), system_token="system.token.value", user_token=user_token
    )


def test_headers_are_what_forge_sends() -> None:
    found = invocation(principal=ACCOUNT, user_token="user.token.value")

    headers = found.headers
    assert set(headers) == {
        "authorization",
        "x-forge-oauth-system",
        "x-forge-oauth-user",
        "x-b3-traceid",
        "x-b3-spanid",
    }
    assert headers["authorization"] == f"Bearer {found.fit}"
    assert headers["x-forge-oauth-system"] == "system.token.value"  # raw, no Bearer prefix
    assert headers["x-forge-oauth-user"] == "user.token.value"
    assert len(headers["x-b3-traceid"]) == 32
    assert HEX.match(headers["x-b3-traceid"])
    assert len(headers["x-b3-spanid"]) == 16
    assert HEX.match(headers["x-b3-spanid"])


def test_no_user_header_without_a_user_token_and_no_system_header_without_one() -> None:
    assert "x-forge-oauth-user" not in invocation(principal=ACCOUNT).headers
    bare = _fit.invocation(claims(), system_token=None)
    assert set(bare.headers) == {"authorization", "x-b3-traceid", "x-b3-spanid"}


def test_a_user_token_needs_a_principal() -> None:
    with pytest.raises(ValueError, match=r"a user token needs a principal: pass principal="):
        invocation(user_token="user.token.value")


def test_each_invocation_has_its_own_trace_ids() -> None:
    first, second = invocation().headers, invocation().headers

    assert first["x-b3-traceid"] != second["x-b3-traceid"]
    assert first["x-b3-spanid"] != second["x-b3-spanid"]


def test_the_jose_header_is_rs256_with_the_process_kid() -> None:
    assert jwt.get_unverified_header(invocation().fit) == {
        "alg": "RS256",
        "kid": _keys.kid(),
        "typ": "JWT",
    }


def test_claims_are_the_signed_payload_and_copies_are_independent() -> None:
    found = invocation(principal=ACCOUNT)

    signed = jwt.decode(found.fit, options={"verify_signature": False})
    assert found.claims == signed
    found.claims["principal"] = "tampered"
    found.headers["authorization"] = "tampered"
    assert found.claims["principal"] == ACCOUNT
    assert found.headers["authorization"] == f"Bearer {found.fit}"


def test_an_invocation_is_frozen_and_its_repr_shows_no_token() -> None:
    found = invocation(principal=ACCOUNT, user_token="user.token.value")

    with pytest.raises(dataclasses.FrozenInstanceError):
        found.fit = "other"  # type: ignore[misc]
    text = repr(found)
    assert text == (
        f"Invocation(installation_id={INSTALLATION_ID!r}, module_key='remote-endpoint', "
        f"principal={ACCOUNT!r}, exp={found.claims['exp']}, user_token=True)"
    )
    assert found.fit not in text
    assert "system.token.value" not in text


def test_sign_fit_resigns_edited_claims() -> None:
    edited = invocation().claims
    del edited["jti"]  # a negative case D3 lists: a FIT without jti

    fit = _fit.sign_fit(edited)

    assert "jti" not in jwt.decode(fit, _keys.public_key(), algorithms=["RS256"], audience=APP_ID)
    with pytest.raises(TypeError, match="valid_signature must be True or False"):
        _fit.sign_fit(edited, valid_signature="no")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("site-b", "https://site-b.atlassian.net"),
        ("Site B", "https://site-b.atlassian.net"),
        ("default", "https://default.atlassian.net"),
        ("__", "https://site.atlassian.net"),
        ("x" * 80, f"https://{'x' * 63}.atlassian.net"),
    ],
)
def test_site_url_for_an_installation_key(name: str, url: str) -> None:
    assert _fit.site_url_for(name) == url


def test_times_are_integer_seconds_of_a_fractional_clock() -> None:
    import time_machine

    with time_machine.travel(datetime(2026, 12, 7, 10, 0, 0, 900_000, tzinfo=timezone.utc)):
        found = claims()

    assert all(isinstance(found[name], int) for name in ("iat", "nbf", "exp"))
    assert found["exp"] - found["iat"] == 25
