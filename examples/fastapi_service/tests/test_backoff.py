"""429 backoff: Forge's rate limits are retried with growing delays, then given up."""

from __future__ import annotations


def test_rate_limited_calls_are_retried_with_backoff(client, forge_storage, sleeps):
    forge_storage.fail("set", code="RATE_LIMIT_EXCEEDED", times=2)

    r = client.put("/config/acme", json={"freeze": True})

    assert r.status_code == 200
    assert [call.status for call in forge_storage.calls_to("set")] == [429, 429, 204]
    assert sleeps == [0.5, 1.0]
    assert forge_storage.kvs["config:acme"] == {"freeze": True}


def test_a_rate_limited_page_is_retried_with_the_same_cursor(client, forge_storage, sleeps):
    for n in range(5):
        forge_storage.entity("deployment")[f"acme:d{n}"] = {"site": "acme", "startedAt": n}
    forge_storage.fail("entity/query", code="RATE_LIMIT_EXCEEDED", after=1)  # the second page

    r = client.get("/sites/acme/deployments", params={"page_size": 2})

    assert [d["id"] for d in r.json()["deployments"]] == ["d4", "d3", "d2", "d1", "d0"]
    first, limited, retried, last = forge_storage.calls_to("entity/query")
    assert limited.status == 429
    assert limited.request["cursor"] == retried.request["cursor"] == first.response["cursor"]
    assert last.request["cursor"] == retried.response["cursor"]
    assert "cursor" not in last.response
    assert sleeps == [0.5]


def test_still_rate_limited_after_every_attempt_is_503(client, forge_storage, sleeps):
    forge_storage.fail("get", code="RATE_LIMIT_EXCEEDED", times=None)

    r = client.get("/config/acme")

    assert r.status_code == 503
    assert r.headers["retry-after"] == "4"
    assert r.json() == {"error": "storage is rate-limited", "code": "RATE_LIMIT_EXCEEDED"}
    forge_storage.assert_called("get", times=4)
    assert sleeps == [0.5, 1.0, 2.0]


def test_other_errors_are_not_retried(client, forge_storage, sleeps):
    forge_storage.fail("get", code="INTERNAL_SERVER_ERROR")

    r = client.get("/config/acme")

    assert r.status_code == 502
    assert r.json() == {"error": "storage failed", "code": "INTERNAL_SERVER_ERROR", "status": 500}
    forge_storage.assert_called("get", times=1)
    assert sleeps == []
