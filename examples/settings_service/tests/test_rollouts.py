"""Feature-flag rollouts: records of the ``flag-rollout`` custom entity, queried by index.

The entity comes from the app's ``manifest.yml``: ``forge_storage_manifest = "manifest.yml"``
in the example's ``pyproject.toml`` loads it for every test, so nothing here declares it.
"""

from __future__ import annotations

import pytest
from forge_settings_service import ROLLOUT_ENTITY

from pytest_forge_storage import ForgeStorageError

EDITOR = {
    "site": "acme",
    "flag": "new-editor",
    "owner": "team-editor",
    "percentage": 25,
    "enabled": True,
    "errorRate": 0.012,
    "rules": {"include": ["beta-testers"], "exclude": []},
}


@pytest.fixture
def rollouts(forge_storage):
    """The entity's records, as a mapping: seed and inspect without HTTP calls."""
    return forge_storage.entity(ROLLOUT_ENTITY)


def rollout(site: str, flag: str, percentage: int, **fields):
    return {"site": site, "flag": flag, "percentage": percentage, **fields}


# -- one record ------------------------------------------------------------------------
def test_reads_a_seeded_rollout(forge_storage, rollouts, client, headers):
    rollouts["acme:new-editor"] = EDITOR

    response = client.get("/rollouts/acme/new-editor", headers=headers)

    assert response.status_code == 200
    assert response.json == {"rollout": EDITOR}
    forge_storage.assert_called("entity/get", key="acme:new-editor", entity_name=ROLLOUT_ENTITY)


def test_put_stores_a_record(forge_storage, rollouts, client, headers):
    fields = {k: v for k, v in EDITOR.items() if k not in ("site", "flag")}

    response = client.put("/rollouts/acme/new-editor", json=fields, headers=headers)

    assert response.status_code == 200
    assert rollouts["acme:new-editor"] == EDITOR  # site and flag come from the URL
    (call,) = forge_storage.calls_to("entity/set", entity_name=ROLLOUT_ENTITY)
    assert call.request == {"entityName": "flag-rollout", "key": "acme:new-editor", "value": EDITOR}
    assert (call.api, call.key, call.status) == ("rest", "acme:new-editor", 204)


def test_a_float_attribute_accepts_an_integer(rollouts, client, headers):
    response = client.put(
        "/rollouts/acme/new-editor", json={"percentage": 0, "errorRate": 0}, headers=headers
    )

    assert response.status_code == 200
    assert rollouts["acme:new-editor"]["errorRate"] == 0


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"percentage": "50"}, id="string-for-integer"),
        pytest.param({"percentage": 12.5}, id="float-for-integer"),
        pytest.param({"percentage": 2**31}, id="integer-over-32-bits"),
        pytest.param({"enabled": "yes"}, id="string-for-boolean"),
        pytest.param({"errorRate": True}, id="boolean-for-float"),
        pytest.param({"owner": "   "}, id="blank-string"),
        pytest.param({"rules": None}, id="null-for-any"),
        pytest.param({"percent": 50}, id="undeclared-attribute"),
    ],
)
def test_forge_rejects_a_bad_field_and_the_service_answers_400(
    fields, forge_storage, rollouts, client, headers
):
    response = client.put("/rollouts/acme/new-editor", json=fields, headers=headers)

    assert response.status_code == 400
    assert response.json["error"] == "invalid rollout"
    assert response.json["code"] == "INVALID_ENTITY_VALUE"
    (call,) = forge_storage.calls_to("entity/set")
    assert (call.status, call.error_code) == (400, "INVALID_ENTITY_VALUE")
    assert "acme:new-editor" not in rollouts


def test_seeding_is_validated_like_entity_set(rollouts):
    with pytest.raises(ForgeStorageError) as error:
        rollouts["acme:new-editor"] = {"percentage": "50"}

    assert (error.value.code, error.value.status) == ("INVALID_ENTITY_VALUE", 400)


def test_delete_then_404(forge_storage, rollouts, client, headers):
    rollouts["acme:new-editor"] = EDITOR

    assert client.delete("/rollouts/acme/new-editor", headers=headers).status_code == 204
    assert "acme:new-editor" not in rollouts
    assert client.delete("/rollouts/acme/new-editor", headers=headers).status_code == 404
    assert [(c.status, c.error_code) for c in forge_storage.calls_to("entity/delete")] == [
        (204, None),
        (404, "KEY_NOT_FOUND"),
    ]


def test_same_key_in_kvs_and_in_the_entity_do_not_collide(forge_storage, rollouts, client, headers):
    forge_storage.kvs["acme:new-editor"] = "a plain KVS value"
    assert client.get("/rollouts/acme/new-editor", headers=headers).status_code == 404

    forge_storage.set("acme:new-editor", EDITOR, entity=ROLLOUT_ENTITY)
    assert client.get("/rollouts/acme/new-editor", headers=headers).json == {"rollout": EDITOR}
    assert forge_storage.kvs["acme:new-editor"] == "a plain KVS value"


# -- queries ---------------------------------------------------------------------------
@pytest.fixture
def two_sites(forge_storage):
    """Rollouts on acme and globex, seeded with ``set(..., entity=...)``."""
    for site, flag, percentage, enabled, owner in [
        ("acme", "new-editor", 25, True, "team-editor"),
        ("acme", "dark-mode", 100, True, "team-ui"),
        ("acme", "ai-summary", 10, False, "team-ai"),
        ("acme", "fast-search", 50, True, "team-search"),
        ("acme", "beta-export", 0, False, "team-ui"),
        ("globex", "new-editor", 30, True, "team-editor"),
        ("globex", "dark-mode", 60, False, "team-ui"),
    ]:
        forge_storage.set(
            f"{site}:{flag}",
            rollout(site, flag, percentage, enabled=enabled, owner=owner),
            entity=ROLLOUT_ENTITY,
        )


def flags(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [r["flag"] for r in response.json["rollouts"]]


def test_lists_a_sites_rollouts_widest_first(forge_storage, two_sites, client, headers):
    response = client.get("/rollouts/acme", headers=headers)

    assert flags(response) == [
        "dark-mode",
        "fast-search",
        "new-editor",
        "ai-summary",
        "beta-export",
    ]
    (call,) = forge_storage.calls_to("entity/query", entity_name=ROLLOUT_ENTITY)
    assert call.request == {
        "entityName": "flag-rollout",
        "indexName": "by-site-percentage",
        "partition": ["acme"],
        "sort": "DESC",
        "limit": 100,
    }
    assert call.key is None  # queries have no key


def test_between_is_inclusive(forge_storage, two_sites, client, headers):
    response = client.get("/rollouts/acme?min=10&max=50", headers=headers)

    assert flags(response) == ["fast-search", "new-editor", "ai-summary"]
    (call,) = forge_storage.calls_to("entity/query")
    assert call.request["range"] == {"condition": "BETWEEN", "values": [10, 50]}


def test_above_is_greater_than(forge_storage, two_sites, client, headers):
    response = client.get("/rollouts/acme?above=25", headers=headers)

    assert flags(response) == ["dark-mode", "fast-search"]
    (call,) = forge_storage.calls_to("entity/query")
    assert call.request["range"] == {"condition": "GREATER_THAN", "values": [25]}


def test_filters_on_enabled_and_owner(forge_storage, two_sites, client, headers):
    response = client.get("/rollouts/acme?enabled=true&owner=team-ui", headers=headers)

    assert flags(response) == ["dark-mode"]
    (call,) = forge_storage.calls_to("entity/query")
    assert call.request["filters"] == {
        "and": [
            {"property": "enabled", "condition": "EQUAL_TO", "values": [True]},
            {"property": "owner", "condition": "EQUAL_TO", "values": ["team-ui"]},
        ]
    }


def test_every_site_with_a_flag_uses_the_simple_index(forge_storage, two_sites, client, headers):
    response = client.get("/flags/new-editor/sites", headers=headers)

    assert [(r["site"], r["percentage"]) for r in response.json["rollouts"]] == [
        ("acme", 25),
        ("globex", 30),
    ]
    (call,) = forge_storage.calls_to("entity/query")
    assert (call.request["indexName"], call.request["range"]) == (
        "flag",
        {"condition": "EQUAL_TO", "values": ["new-editor"]},
    )
    assert "partition" not in call.request  # a simple index has none

    response = client.get("/flags/dark-mode/sites?enabled=true", headers=headers)
    assert [r["site"] for r in response.json["rollouts"]] == ["acme"]


@pytest.mark.forge_storage(
    data={"entities": {"flag-rollout": {"acme:new-editor": EDITOR}}},
)
def test_the_marker_seeds_records(client, headers):
    # The ini option declared the entity, the marker seeded it: no fixture needed.
    response = client.get("/rollouts/acme?enabled=true", headers=headers)

    assert flags(response) == ["new-editor"]


# -- pagination ------------------------------------------------------------------------
@pytest.fixture
def many_rollouts(rollouts):
    """250 rollouts on acme, percentages 0..99 with repeats, every tenth one enabled; and
    one on globex that must never show up."""
    for i in range(250):
        rollouts[f"acme:flag-{i:03}"] = rollout(
            "acme", f"flag-{i:03}", i % 100, enabled=i % 10 == 0
        )
    rollouts["globex:flag-000"] = rollout("globex", "flag-000", 50, enabled=True)


def test_pages_through_250_rollouts_collecting_each_once(
    forge_storage, many_rollouts, client, headers
):
    response = client.get("/rollouts/acme", headers=headers)

    found = response.json["rollouts"]
    assert len(found) == 250
    assert sorted(r["flag"] for r in found) == [f"flag-{i:03}" for i in range(250)]
    percentages = [r["percentage"] for r in found]
    assert percentages == sorted(percentages, reverse=True)  # DESC across pages

    # 100 + 100 + 50: the last page has no cursor, so there is no fourth, empty request.
    forge_storage.assert_called("entity/query", entity_name=ROLLOUT_ENTITY, times=3)
    pages = forge_storage.calls_to("entity/query")
    assert [len(c.response["data"]) for c in pages] == [100, 100, 50]
    assert "cursor" not in pages[0].request
    assert pages[1].request["cursor"] == pages[0].response["cursor"]
    assert pages[2].request["cursor"] == pages[1].response["cursor"]
    assert "cursor" not in pages[2].response


def test_filtered_pages_can_be_empty_and_the_service_keeps_going(
    forge_storage, many_rollouts, client, headers
):
    # Forge filters each page after cutting it from the index: 100 records are read per
    # request, whatever the filter keeps. The enabled ones are 90, 80, ..., 0 (twice or
    # three times each); only 25 of the 250 pass.
    response = client.get("/rollouts/acme?min=85&enabled=true", headers=headers)

    assert [(r["flag"], r["percentage"]) for r in response.json["rollouts"]] == [
        ("flag-190", 90),
        ("flag-090", 90),
    ]
    (call,) = forge_storage.calls_to("entity/query")  # 30 records in range: one page
    assert call.request["range"] == {"condition": "BETWEEN", "values": [85, 100]}

    response = client.get("/rollouts/acme?enabled=true&owner=nobody", headers=headers)
    assert response.json["rollouts"] == []
    pages = forge_storage.calls_to("entity/query")[1:]
    assert [len(c.response["data"]) for c in pages] == [0, 0, 0]  # empty, yet cursors led on


def test_a_rate_limited_page_is_retried_with_the_same_cursor(
    forge_storage, many_rollouts, client, headers, sleeps
):
    forge_storage.fail("entity/query", code="RATE_LIMIT_EXCEEDED", after=1)  # the 2nd page

    response = client.get("/rollouts/acme", headers=headers)

    assert len(response.json["rollouts"]) == 250
    pages = forge_storage.calls_to("entity/query", entity_name=ROLLOUT_ENTITY)
    assert [c.status for c in pages] == [200, 429, 200, 200]
    assert pages[1].request == pages[2].request
    assert sleeps == [0.1]
