"""System and user tokens: JWT-shaped, expiring on the test's clock, rotated and revoked."""

from __future__ import annotations

import base64
import json
import re
import threading
from datetime import timedelta

import jwt
import pytest

from pytest_forge_storage.router import _keys, _tokens
from pytest_forge_storage.router._tokens import TokenRegistry
from tests.invocations._support import Clock

ACCOUNT = "655362:312d3308-8954-42b0-aa38-771a10c88656"


def test_a_system_token_is_a_jwt_whose_exp_a_remote_can_read(clock: Clock) -> None:
    token = TokenRegistry().current("site-b")

    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "HS256", "typ": "JWT"}
    # C-OO parses exp without verifying (the claims are opaque but exp is documented)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iat"] == clock.epoch
    assert claims["exp"] == clock.epoch + 2 * 3600  # "a min TTL of 2 hours"
    assert len(claims["jti"]) == 32
    assert claims[_tokens.INSTALLATION_CLAIM] == "site-b"
    assert claims[_tokens.KIND_CLAIM] == "system"
    # signed with the process's HS256 secret, never with the FIT key
    assert jwt.decode(token, _keys.SYSTEM_TOKEN_SECRET, algorithms=["HS256"]) == claims


def test_the_current_token_is_reused_until_it_expires(clock: Clock) -> None:
    registry = TokenRegistry()
    token = registry.current("site-b")

    clock.advance(2 * 3600 - 1)
    assert registry.current("site-b") == token
    assert registry.lookup(token).installation == "site-b"

    clock.advance(1)  # now == exp
    refused = registry.lookup(token)
    assert (refused.installation, refused.problem, refused.issued_to) == (None, "expired", "site-b")
    assert refused.message == (
        "Unauthorized: the token expired at 2026-12-07T12:00:00Z (installation 'site-b')"
    )
    fresh = registry.current("site-b")
    assert fresh != token
    assert registry.lookup(fresh).ok
    assert registry.lookup(fresh).expires_at == clock.epoch + 2 * 3600


def test_new_rotates_and_the_older_token_lives_to_its_own_exp(clock: Clock) -> None:
    registry = TokenRegistry()
    old = registry.current("site-b")
    clock.advance(3600)

    rotated = registry.new("site-b")

    assert rotated != old
    assert registry.current("site-b") == rotated
    assert registry.lookup(old).installation == "site-b"
    clock.advance(3600)
    assert registry.lookup(old).problem == "expired"
    assert registry.lookup(rotated).installation == "site-b"


def test_revoke_ends_every_token_of_the_installation_only(clock: Clock) -> None:
    registry = TokenRegistry()
    old = registry.current("site-b")
    rotated = registry.new("site-b")
    user = registry.user("site-b", ACCOUNT)
    other = registry.current("site-a")

    registry.revoke("site-b")

    for token in (old, rotated, user):
        assert registry.lookup(token).problem == "revoked"
    assert registry.lookup(old).message == (
        "Unauthorized: the token was revoked (installation 'site-b')"
    )
    assert registry.lookup(user).message == (
        "Unauthorized: the user token was revoked (installation 'site-b')"
    )
    assert registry.lookup(other).installation == "site-a"
    fresh = registry.current("site-b")
    assert fresh not in (old, rotated)
    assert registry.lookup(fresh).installation == "site-b"
    assert registry.user("site-b", ACCOUNT) != user


def test_revoked_wins_over_expired(clock: Clock) -> None:
    registry = TokenRegistry()
    token = registry.current("site-b")
    registry.revoke("site-b")
    clock.advance(3 * 3600)

    assert registry.lookup(token).problem == "revoked"


def test_a_new_lifetime_applies_to_the_next_token(clock: Clock) -> None:
    registry = TokenRegistry()
    assert registry.lifetime == timedelta(hours=2)
    handed_out = registry.current("site-b")

    registry.lifetime = timedelta(minutes=55)  # the older docs' "at least 55 minutes"
    strict = registry.current("site-b")

    assert strict != handed_out
    assert registry.lifetime == timedelta(minutes=55)
    assert registry.lookup(strict).expires_at == clock.epoch + 55 * 60
    clock.advance(55 * 60)
    assert registry.lookup(strict).problem == "expired"
    assert registry.lookup(handed_out).ok  # keeps its own 2-hour exp


def test_the_constructor_takes_a_lifetime(clock: Clock) -> None:
    registry = TokenRegistry(lifetime=timedelta(seconds=90))

    assert registry.lookup(registry.current("a")).expires_at == clock.epoch + 90


@pytest.mark.parametrize(
    ("lifetime", "error"),
    [
        (3600, TypeError),
        (3600.0, TypeError),
        (None, TypeError),
        (timedelta(0), ValueError),
        (timedelta(seconds=-1), ValueError),
    ],
)
def test_a_lifetime_must_be_a_positive_timedelta(lifetime: object, error: type[Exception]) -> None:
    registry = TokenRegistry()
    message = (
        "token_lifetime must be a positive datetime.timedelta, such as timedelta(hours=2) or "
        "timedelta(minutes=55); got "
    )
    with pytest.raises(error, match=f"^{re.escape(message)}"):
        registry.lifetime = lifetime  # type: ignore[assignment]
    with pytest.raises(error, match=f"^{re.escape(message)}"):
        TokenRegistry(lifetime)  # type: ignore[arg-type]
    assert registry.lifetime == timedelta(hours=2)


@pytest.mark.parametrize(("key", "error"), [("", ValueError), (None, TypeError), (3, TypeError)])
def test_an_installation_key_must_be_a_non_empty_string(
    key: object, error: type[Exception]
) -> None:
    registry = TokenRegistry()
    for method in (registry.current, registry.new, registry.revoke):
        with pytest.raises(error, match="installation key must be a non-empty string"):
            method(key)  # type: ignore[arg-type]
    with pytest.raises(error, match="accountId must be a non-empty string"):
        registry.user("site-b", key)  # type: ignore[arg-type]


def test_user_tokens_are_bound_to_installation_and_account(clock: Clock) -> None:
    registry = TokenRegistry()
    user = registry.user("site-b", ACCOUNT)

    assert user != registry.current("site-b")
    assert registry.user("site-b", ACCOUNT) == user
    assert registry.user("site-b", "557058:other") != user
    assert registry.user("site-a", ACCOUNT) != user
    found = registry.lookup(user)
    assert (found.installation, found.is_user, found.account_id) == ("site-b", True, ACCOUNT)
    assert not registry.lookup(registry.current("site-b")).is_user
    claims = jwt.decode(user, options={"verify_signature": False})
    assert claims[_tokens.ACCOUNT_CLAIM] == ACCOUNT
    assert claims[_tokens.KIND_CLAIM] == "user"
    clock.advance(2 * 3600)
    assert registry.lookup(user).message == (
        "Unauthorized: the user token expired at 2026-12-07T12:00:00Z (installation 'site-b')"
    )


def test_a_token_of_another_registry_is_unknown_and_says_so() -> None:
    earlier = TokenRegistry().current("site-b")  # an earlier test's fake

    found = TokenRegistry().lookup(earlier)

    assert (found.installation, found.problem, found.issued_to, found.foreign) == (
        None,
        "unknown",
        "site-b",
        True,
    )
    assert found.message is not None
    assert "issued by another fake" in found.message
    assert "installation 'site-b'" in found.message


def test_claims_are_never_trusted() -> None:
    registry = TokenRegistry()
    token = registry.current("site-b")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims[_tokens.INSTALLATION_CLAIM] = "site-a"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = f"{header}.{forged_payload}.{signature}"
    other_secret = jwt.encode(claims, "not-the-secret-of-this-process-32b", algorithm="HS256")

    for token in (forged, other_secret):
        found = registry.lookup(token)
        assert (found.problem, found.foreign, found.issued_to) == ("unknown", False, None)
        assert found.message == (
            "Unauthorized: the token was not issued for any installation of this fake; "
            "send installation.token"
        )


@pytest.mark.parametrize(
    "token",
    ["", "test-token", "a.b.c", "..", "ä.ö.ü", "x" * 100_000, "eyJ9.eyJ9.", "a.b.c.d", "=.=.="],
)
def test_lookup_of_anything_is_an_answer_never_an_error(token: str) -> None:
    found = TokenRegistry().lookup(token)

    assert (found.installation, found.problem, found.foreign) == (None, "unknown", False)


def test_a_usable_token_has_no_message() -> None:
    registry = TokenRegistry()

    assert registry.lookup(registry.current("site-b")).message is None


def test_eight_threads_mint_and_look_up_without_crossing_installations() -> None:
    registry = TokenRegistry()
    shared: list[str] = []
    minted: dict[str, set[str]] = {}
    errors: list[str] = []
    barrier = threading.Barrier(8)

    def work(index: int) -> None:
        own = f"site-{index}"
        tokens: set[str] = set()
        barrier.wait()
        shared.append(registry.current("shared"))  # all at once: one token for all
        for step in range(300):
            token = registry.new(own) if step % 3 == 0 else registry.current(own)
            tokens.add(token)
            if step % 5 == 0:
                tokens.add(registry.user(own, f"account-{index}"))
            found = registry.lookup(token)
            if found.installation != own:
                errors.append(f"{own}: {found}")
        minted[own] = tokens

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    assert len(set(shared)) == 1
    assert len(shared) == 8
    assert len(minted) == 8
    everything = [token for tokens in minted.values() for token in tokens]
    assert len(everything) == len(set(everything))  # no token belongs to two installations
    for own, tokens in minted.items():
        assert {registry.lookup(token).installation for token in tokens} == {own}
