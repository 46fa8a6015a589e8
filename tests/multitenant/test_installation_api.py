"""``storage.installation()`` and ``storage.installations``: identity, the same object for the
same key, and misuse answered with a TypeError or ValueError that says what to write."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def test_an_installation_has_forges_identifiers(forge_storage: Any) -> None:
    site = forge_storage.installation("site-b", product="confluence", cloud_id="c0ffee")

    assert (site.key, site.product, site.cloud_id, site.environment) == (
        "site-b",
        "confluence",
        "c0ffee",
        "production",
    )
    assert site.context_ari == "ari:cloud:confluence::site/c0ffee"
    assert re.fullmatch(r"ari:cloud:ecosystem::installation/(.+)", site.installation_id)
    assert UUID.match(site.installation_id.rsplit("/", 1)[1])
    assert UUID.match(forge_storage.installation("other").cloud_id)  # generated when not given
    assert repr(site) == (
        "<Installation 'site-b' confluence site/c0ffee (production): 0 kvs, 0 calls>"
    )


def test_the_same_key_gives_the_same_object(forge_storage: Any) -> None:
    site = forge_storage.installation("site-b", environment="staging")

    assert forge_storage.installation("site-b") is site
    assert forge_storage.installation("site-b", environment="staging") is site
    assert forge_storage.installation() is forge_storage.installation("default")


def test_installations_lists_the_default_first_then_in_order_made(forge_storage: Any) -> None:
    b = forge_storage.installation("site-b")
    a = forge_storage.installation("site-a")

    installations = forge_storage.installations

    assert list(installations) == ["default", "site-b", "site-a"]
    assert installations["site-a"] is a
    assert installations["site-b"] is b
    with pytest.raises(TypeError):
        installations["x"] = a  # type: ignore[index]


def test_installations_are_distinct_sites(forge_storage: Any) -> None:
    sites = [forge_storage.installation(f"site-{i}") for i in range(5)]
    sites.append(forge_storage.installation())

    assert len({s.cloud_id for s in sites}) == 6
    assert len({s.installation_id for s in sites}) == 6
    assert len({s.token for s in sites}) == 6


def test_asking_again_with_other_details_says_to_use_another_key(forge_storage: Any) -> None:
    forge_storage.installation("site-b", product="confluence", cloud_id="c1")

    for details, shown in (
        ({"product": "jira"}, "product='confluence'"),
        ({"cloud_id": "c2"}, "cloud_id='c1'"),
        ({"environment": "staging"}, "environment='production'"),
    ):
        with pytest.raises(ValueError, match="already exists with") as raised:
            forge_storage.installation("site-b", **details)
        assert shown in str(raised.value)
        assert "use another key for another installation" in str(raised.value)


@pytest.mark.parametrize(
    ("arguments", "error", "hint"),
    [
        ({"key": ""}, ValueError, "non-empty string such as 'site-b'"),
        ({"key": 3}, TypeError, "non-empty string such as 'site-b'"),
        ({"key": "b", "product": "Jira"}, ValueError, "product name such as 'jira'"),
        ({"key": "b", "product": 3}, TypeError, "product name such as 'jira'"),
        ({"key": "b", "cloud_id": " "}, ValueError, "cloud_id must be a non-empty string"),
        ({"key": "b", "cloud_id": 7}, TypeError, "cloud_id must be a non-empty string"),
        ({"key": "b", "environment": "prod"}, ValueError, "production, staging, development"),
        ({"key": "b", "environment": 1}, TypeError, "production, staging, development"),
    ],
)
def test_bad_details_say_what_to_write(
    forge_storage: Any, arguments: dict[str, Any], error: type[Exception], hint: str
) -> None:
    key = arguments.pop("key")
    with pytest.raises(error, match=re.escape(hint)):
        forge_storage.installation(key, **arguments)
    assert list(forge_storage.installations) == ["default"]  # nothing was registered


def test_token_lifetime_and_strict_tokens_check_their_values(forge_storage: Any) -> None:
    with pytest.raises(TypeError, match=r"timedelta\(hours=2\)"):
        forge_storage.token_lifetime = 7200
    with pytest.raises(ValueError, match="positive"):
        forge_storage.token_lifetime = timedelta(0)
    assert forge_storage.token_lifetime == timedelta(hours=2)
    assert forge_storage.strict_tokens is False
    forge_storage.strict_tokens = 1
    assert forge_storage.strict_tokens is True
