"""System tokens as a remote meets them: expiry on the test's clock, rotation, revocation,
strict tokens, ``allowed_tokens`` and user tokens, through real clients.

Forge's system token is a JWT with an ``exp`` (reference §1.7); the current docs guarantee
"a min TTL of 2 hours", older pages "at least 55 minutes" (``token_lifetime``). A storage call
with an expired or revoked token is 401 ``UNAUTHORIZED`` whose message says which.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests._clock import Clock
from tests.multitenant._doors import GET, Door


def expired(inst: Any, when: str) -> tuple[int, str, str]:
    return (
        401,
        "UNAUTHORIZED",
        f"Unauthorized: the token expired at {when} (installation {inst.key!r})",
    )


def revoked(inst: Any) -> tuple[int, str, str]:
    return 401, "UNAUTHORIZED", f"Unauthorized: the token was revoked (installation {inst.key!r})"


def test_a_token_expires_after_two_hours_on_the_frozen_clock(
    door: Door, forge_storage: Any, clock: Clock
) -> None:
    site = forge_storage.installation("site-b")
    site.kvs["k"] = "b"
    token = site.token

    clock.advance(timedelta(hours=2) - timedelta(seconds=1))
    assert door.rest("get", {"key": "k"}, token).status == 200
    assert site.token == token  # still the current one
    clock.advance(timedelta(seconds=1))

    assert door.rest("get", {"key": "k"}, token).error() == expired(site, "2026-12-07T12:00:00Z")
    fresh = site.token  # a fresh one once the current one expired
    assert fresh != token
    assert door.rest("get", {"key": "k"}, fresh).body == {"key": "k", "value": "b"}
    # the 401 is recorded under the installation whose token it was
    assert [(c.status, c.installation) for c in site.calls] == [
        (200, "site-b"),
        (401, "site-b"),
        (200, "site-b"),
    ]


def test_an_expired_token_is_401_over_graphql_too(
    door: Door, forge_storage: Any, clock: Clock
) -> None:
    site = forge_storage.installation("site-b")
    token = site.token
    clock.advance(timedelta(hours=3))

    answer = door.graphql(GET, {"key": "k"}, token)

    assert answer.status == 401
    (error,) = answer.body["errors"]
    assert error["message"] == expired(site, "2026-12-07T12:00:00Z")[2]
    assert error["extensions"]["errorType"] == "UNAUTHORIZED"


def test_token_lifetime_55_minutes_the_older_docs_guarantee(
    door: Door, forge_storage: Any, clock: Clock
) -> None:
    site = forge_storage.installation("site-b")
    before = site.token  # minted under the 2-hour default: keeps its exp
    forge_storage.token_lifetime = timedelta(minutes=55)
    token = site.token
    assert token != before  # a new lifetime applies from the next token

    clock.advance(timedelta(minutes=55))

    assert door.rest("get", {"key": "k"}, token).error() == expired(site, "2026-12-07T10:55:00Z")
    assert door.rest("get", {"key": "k"}, before).status == 404  # still valid: served, not there
    assert forge_storage.token_lifetime == timedelta(minutes=55)


def test_new_token_keeps_the_older_ones_until_their_exp(
    door: Door, forge_storage: Any, clock: Clock
) -> None:
    site = forge_storage.installation("site-b")
    first = site.token
    clock.advance(timedelta(minutes=30))
    second = site.new_token()
    assert site.token == second

    assert door.rest("set", {"key": "k", "value": 1}, first).status == 204
    assert door.rest("get", {"key": "k"}, second).body["value"] == 1  # one partition
    clock.advance(timedelta(minutes=90))  # first: 10:00 + 2h; second: 10:30 + 2h
    assert door.rest("get", {"key": "k"}, first).error() == expired(site, "2026-12-07T12:00:00Z")
    assert door.rest("get", {"key": "k"}, second).status == 200


def test_revoke_tokens_ends_every_token_of_one_installation(door: Door, forge_storage: Any) -> None:
    site_a = forge_storage.installation("site-a")
    site_b = forge_storage.installation("site-b")
    old = [site_b.token, site_b.new_token()]
    user = site_b.invocation(principal="u1", user_token=True).headers["x-forge-oauth-user"]

    site_b.revoke_tokens()

    for token in old:
        assert door.rest("get", {"key": "k"}, token).error() == revoked(site_b)
    user_refused = door.rest("get", {"key": "k"}, user).error()
    assert user_refused[2] == "Unauthorized: the user token was revoked (installation 'site-b')"
    assert site_b.token not in old
    assert door.rest("get", {"key": "k"}, site_b.token).status == 404  # the fresh one works
    assert door.rest("get", {"key": "k"}, site_a.token).status == 404  # A was not touched


def test_strict_tokens_refuses_tokens_the_fake_did_not_issue(
    door: Door, forge_storage: Any
) -> None:
    site = forge_storage.installation("site-b")
    forge_storage.strict_tokens = True

    status, code, message = door.rest("get", {"key": "k"}, "made-up").error()

    assert (status, code) == (401, "UNAUTHORIZED")
    assert message == (
        "Unauthorized: the token was not issued for any installation of this fake; send "
        "installation.token (strict_tokens is on)"
    )
    assert door.graphql(GET, {"key": "k"}, "made-up").status == 401
    assert door.rest("get", {"key": "k"}, site.token).status == 404  # issued: served
    assert door.rest("get", {"key": "k"}, forge_storage.installation().token).status == 404
    forge_storage.strict_tokens = False
    assert door.rest("get", {"key": "k"}, "made-up").status == 404


def test_allowed_tokens_still_restricts_the_tokens_the_fake_did_not_issue(
    door: Door, forge_storage: Any
) -> None:
    site = forge_storage.installation("site-b")
    forge_storage.allowed_tokens = {"t1"}
    forge_storage.kvs["k"] = "default"
    site.kvs["k"] = "b"

    assert door.rest("get", {"key": "k"}, "t1").body["value"] == "default"
    assert door.rest("get", {"key": "k"}, "t2").error() == (
        401,
        "UNAUTHORIZED",
        "Unauthorized: the request provided an invalid or expired token",
    )
    # An installation's own token is not a 0.1 token: it proves its installation.
    assert door.rest("get", {"key": "k"}, site.token).body["value"] == "b"
    site.revoke_tokens()
    assert door.rest("get", {"key": "k"}, site.token).body["value"] == "b"


def test_a_user_token_reaches_its_installation(door: Door, forge_storage: Any) -> None:
    site = forge_storage.installation("site-b")
    site.kvs["prefs:u1"] = {"lang": "en"}
    headers = site.invocation(principal="u1", user_token=True).headers

    answer = door.rest("get", {"key": "prefs:u1"}, headers["x-forge-oauth-user"])

    assert answer.body == {"key": "prefs:u1", "value": {"lang": "en"}}
    assert site.calls[0].installation == "site-b"


def test_with_auth_off_an_expired_token_still_picks_its_partition(
    door: Door, forge_storage: Any, clock: Clock
) -> None:
    forge_storage.auth = False
    site = forge_storage.installation("site-b")
    site.kvs["k"] = "b"
    token = site.token
    clock.advance(timedelta(hours=5))

    assert door.rest("get", {"key": "k"}, token).body == {"key": "k", "value": "b"}
    site.revoke_tokens()
    assert door.rest("get", {"key": "k"}, token).body == {"key": "k", "value": "b"}
    assert door.rest("get", {"key": "k"}, "unissued").status == 404  # the default installation


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not.a-jwt",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.",
        "Bearer ....",
        "Bearer " + "x" * 5000,
    ],
    ids=["two-parts", "three-junk", "unsigned", "dots", "huge"],
)
def test_malformed_tokens_are_unknown_never_an_error(
    door: Door, forge_storage: Any, authorization: str
) -> None:
    forge_storage.kvs["k"] = "default"
    headers = {"Authorization": authorization}
    url = "https://api.atlassian.com/forge/storage/kvs/v1/get"

    assert door.post(url, {"key": "k"}, headers).body["value"] == "default"
    forge_storage.strict_tokens = True
    assert door.post(url, {"key": "k"}, headers).error()[:2] == (401, "UNAUTHORIZED")


def test_a_forged_token_with_an_installations_claims_is_unknown(
    door: Door, forge_storage: Any
) -> None:
    import base64
    import json

    site = forge_storage.installation("site-b")
    site.kvs["k"] = "b"
    header, payload, signature = site.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] += 3600  # a remote "extending" its token
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = f"{header}.{forged_payload}.{signature}"

    assert door.rest("get", {"key": "k"}, forged).status == 404  # the default installation
    forge_storage.strict_tokens = True
    assert door.rest("get", {"key": "k"}, forged).error()[:2] == (401, "UNAUTHORIZED")
