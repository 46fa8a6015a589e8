"""The bug installations exist for: installation A's token used for installation B's data.

On Forge each installation has its own storage partition, chosen by the token alone (reference:
remote-invocation §2.2, §2.4), so a remote rightly stores ``settings`` under one plain key. A
remote that caches "the" system token (a module global, a cache keyed by something other than
the installation) then calls storage for B with A's token: B reads A's settings, and B's
writes overwrite A's. Production data leaks between customers.

With installations the user's ordinary test (two sites, each sees its own settings) fails for
the buggy remote and passes for the correct one. Under 0.1.0 every token reached one shared
store; :func:`test_under_one_shared_store_as_in_0_1_the_bug_passes_silently` runs the same
remotes that way (tokens the fake did not issue all reach the one default installation, which
is exactly 0.1.0's model) and shows the store cannot tell the two remotes apart.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.multitenant._doors import REST, bearer


class SettingsRemote:
    """A remote's storage code: one ``settings`` value per installation, with the system
    token of the invocation (``x-forge-oauth-system``). ``cache_token=True`` is the bug: the
    first token seen is kept and reused for every later invocation, whoever it is from."""

    def __init__(self, *, cache_token: bool) -> None:
        self.cache_token = cache_token
        self._cached: str | None = None

    def _token(self, headers: dict[str, str]) -> str:
        token = headers["x-forge-oauth-system"]
        if not self.cache_token:
            return token
        if self._cached is None:
            self._cached = token
        return self._cached

    def save(self, headers: dict[str, str], settings: Any) -> None:
        body = {"key": "settings", "value": settings}
        answer = requests.post(REST + "set", json=body, headers=bearer(self._token(headers)))
        answer.raise_for_status()

    def load(self, headers: dict[str, str]) -> Any:
        body = {"key": "settings"}
        answer = requests.post(REST + "get", json=body, headers=bearer(self._token(headers)))
        return answer.json()["value"] if answer.status_code == 200 else None


def users_test(remote: SettingsRemote, site_a: dict[str, str], site_b: dict[str, str]) -> None:
    """What a user writes: two sites save settings, each reads back its own."""
    remote.save(site_a, {"theme": "dark"})
    remote.save(site_b, {"theme": "light"})
    assert remote.load(site_a) == {"theme": "dark"}, "site A sees another site's settings"
    assert remote.load(site_b) == {"theme": "light"}, "site B sees another site's settings"


def test_with_installations_the_users_test_catches_the_cached_token(forge_storage: Any) -> None:
    a = forge_storage.installation("site-a")
    b = forge_storage.installation("site-b", product="confluence")
    remote = SettingsRemote(cache_token=True)

    with pytest.raises(AssertionError, match="site A sees another site's settings"):
        users_test(remote, a.invocation().headers, b.invocation().headers)

    # What happened: B's write went to A's partition with A's cached token.
    assert dict(a.kvs) == {"settings": {"theme": "light"}}
    assert dict(b.kvs) == {}
    b.assert_not_called()
    a.assert_called("set", key="settings", times=2)


def test_with_installations_the_correct_remote_passes(forge_storage: Any) -> None:
    a = forge_storage.installation("site-a")
    b = forge_storage.installation("site-b", product="confluence")

    users_test(SettingsRemote(cache_token=False), a.invocation().headers, b.invocation().headers)

    assert dict(a.kvs) == {"settings": {"theme": "dark"}}
    assert dict(b.kvs) == {"settings": {"theme": "light"}}


def test_a_cached_token_shows_in_the_calls_of_the_wrong_installation(forge_storage: Any) -> None:
    a = forge_storage.installation("site-a")
    b = forge_storage.installation("site-b")
    remote = SettingsRemote(cache_token=True)
    remote.load(a.invocation().headers)

    remote.load(b.invocation().headers)  # an invocation for B...

    assert [call.installation for call in forge_storage.calls] == ["site-a", "site-a"]  # ...A's


def test_under_one_shared_store_as_in_0_1_the_bug_passes_silently(forge_storage: Any) -> None:
    """0.1.0 had one store for every token. Tokens this fake did not issue all reach the
    default installation: the same single store, so the same code sees what 0.1.0 showed."""
    site_a = {"x-forge-oauth-system": "system-token-of-site-a"}
    site_b = {"x-forge-oauth-system": "system-token-of-site-b"}
    outcomes = {}
    for cache_token in (True, False):
        forge_storage.reset()
        remote = SettingsRemote(cache_token=cache_token)
        # A one-site test, the only kind a single store allows, passes for both remotes...
        remote.save(site_a, {"theme": "dark"})
        assert remote.load(site_a) == {"theme": "dark"}
        # ...and the two-site test fails for both (the correct one too): it cannot be written.
        with pytest.raises(AssertionError, match="site A sees another site's settings"):
            users_test(remote, site_a, site_b)
        outcomes[cache_token] = (
            dict(forge_storage.kvs),
            [c.installation for c in forge_storage.calls],
        )

    assert outcomes[True] == outcomes[False]  # the store cannot tell the buggy remote apart
    assert outcomes[True] == (
        {"settings": {"theme": "light"}},
        ["default"] * 5,
    )  # save, load, save, save, load
