"""Concurrency: many threads, both HTTP clients, one storage.

Eight threads each send a seeded random mix of operations through ``requests`` and
``httpx`` (alternating, in the same thread) to one fake — intercepted in process, and over
real HTTP with :class:`ForgeStorageServer` and keep-alive sessions. Every thread owns a key
range, keeps its own model of it and checks every answer exactly; shared counters are
bumped by transactions with an optimistic ``check`` on a version attribute; readers walk a
stable prefix with cursors while others overwrite its keys and insert new ones. At the end
the store must hold exactly what the successful answers imply.

``FORGE_CONCURRENCY_OPS`` sets the operations per thread over real HTTP (CI: 500; the
in-process run always does 2,000). The same mix runs on four installations at once, each
request with one installation's token, every installation's state checked on its own;
``FORGE_TENANT_OPS`` sets its operations per thread (default 2,000).
"""

from __future__ import annotations

import functools
import os
import random
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests

from pytest_forge_storage import ForgeStorage

THREADS = 8
IN_PROCESS_OPS = 2000
SERVER_OPS = int(os.environ.get("FORGE_CONCURRENCY_OPS", "500"))
TENANT_OPS = int(os.environ.get("FORGE_TENANT_OPS", "2000"))
INSTALLATIONS = ("site-a", "site-b", "site-c", "site-d")
COUNTERS = [f"counter-{n}" for n in range(3)]
STABLE = [f"stable:{n:03d}" for n in range(60)]
STABLE_RECORDS = [f"stable:{n:03d}" for n in range(40)]
REST = "/forge/storage/kvs/v1/"
HEADERS = {"Authorization": "Bearer concurrency"}
MISSING = object()

Post = Callable[[str, Any], tuple[int, Any]]


@pytest.fixture(autouse=True)
def _switch_often() -> Iterator[None]:
    """Switch threads every 100 µs instead of 5 ms: more interleavings per request."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(before)


def clients(base: str) -> Iterator[Post]:
    """One keep-alive ``requests.Session`` and one ``httpx.Client``, taking turns."""
    with requests.Session() as session, httpx.Client(timeout=30) as client:

        def via_requests(operation: str, body: Any, headers: Any = HEADERS) -> tuple[int, Any]:
            r = session.post(base + REST + operation, json=body, headers=headers, timeout=30)
            return r.status_code, r.json() if r.content else None

        def via_httpx(operation: str, body: Any, headers: Any = HEADERS) -> tuple[int, Any]:
            r = client.post(base + REST + operation, json=body, headers=headers)
            return r.status_code, r.json() if r.content else None

        while True:
            yield via_requests
            yield via_httpx


def prepare(storage: ForgeStorage) -> None:
    storage.define_entity("counter", {"version": "integer"})
    storage.define_entity("record", {"owner": "string", "n": "integer"}, indexes=["owner"])
    seed(storage)


def seed(storage: Any) -> None:
    """The counters, stable keys and stable records, in ``storage`` or an installation."""
    for counter in COUNTERS:
        storage.entity("counter")[counter] = {"version": 0}
    for key in STABLE:
        storage.kvs[key] = {"v": 0}
    for key in STABLE_RECORDS:
        storage.entity("record")[key] = {"owner": "seed", "n": 0}


@dataclass
class Worker:
    """One thread's operations and its model of the keys it owns."""

    number: int
    operations: int
    post: Iterator[Post]
    #: The random seed (default: ``number``); workers of one thread on several installations
    #: use the same keys (so a request in the wrong partition shows) with their own mixes.
    seed: int | None = None
    rng: random.Random = field(init=False)
    choices: list[Callable[[], None]] = field(init=False, repr=False)
    kvs: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict)
    records: dict[str, Any] = field(default_factory=dict)
    markers: dict[str, bool] = field(default_factory=dict)
    bumps: Counter[str] = field(default_factory=Counter)
    inserted: list[str] = field(default_factory=list)
    walks: int = 0
    requests: int = 0
    conflicts: int = 0
    walk: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(self.number if self.seed is None else self.seed)
        actions = [
            (self.kvs_op, 24),
            (self.secret_op, 8),
            (self.entity_op, 14),
            (self.batch_op, 8),
            (self.counter_op, 14),
            (self.stable_write, 12),
            (self.walk_step, 20),
        ]
        self.choices = [action for action, weight in actions for _ in range(weight)]

    # -- plumbing ------------------------------------------------------------------------
    def call(self, operation: str, body: Any) -> tuple[int, Any]:
        self.requests += 1
        return next(self.post)(operation, body)

    def expect(self, operation: str, body: Any, status: int, answer: Any = MISSING) -> Any:
        got_status, got = self.call(operation, body)
        assert got_status == status, (operation, body, got_status, got)
        if answer is not MISSING:
            assert got == answer, (operation, body, got)
        return got

    def own(self, prefix: str) -> str:
        return f"t{self.number}:{prefix}{self.rng.randrange(12)}"

    # -- the mix -------------------------------------------------------------------------
    def step(self) -> None:
        """One operation of the mix, chosen by weight."""
        self.rng.choice(self.choices)()

    def run(self) -> None:
        while self.requests < self.operations:
            self.step()
        self.finish()

    def finish(self) -> None:
        while self.walk is not None:  # finish the walk in progress
            self.walk_step()

    def kvs_op(self) -> None:
        key = self.own("k")
        roll = self.rng.random()
        if roll < 0.5:
            value = {"t": self.number, "n": self.requests}
            self.expect("set", {"key": key, "value": value}, 204)
            self.kvs[key] = value
        elif roll < 0.8:
            if key in self.kvs:
                self.expect("get", {"key": key}, 200, {"key": key, "value": self.kvs[key]})
            else:
                self.expect("get", {"key": key}, 404)
        else:
            self.expect("delete", {"key": key}, 204 if key in self.kvs else 404)
            self.kvs.pop(key, None)

    def secret_op(self) -> None:
        key = self.own("s")
        if self.rng.random() < 0.5:
            value = f"secret-{self.requests}"
            previous = self.secrets.get(key)
            body = {"key": key, "value": value, "options": {"returnValue": "PREVIOUS"}}
            if previous is None:
                self.expect("secret/set", body, 204)
            else:
                self.expect("secret/set", body, 200, {"key": key, "value": previous})
            self.secrets[key] = value
        elif key in self.secrets:
            self.expect("secret/get", {"key": key}, 200, {"key": key, "value": self.secrets[key]})
        else:
            self.expect("secret/get", {"key": key}, 404)

    def entity_op(self) -> None:
        key = self.own("r")
        ref = {"entityName": "record", "key": key}
        roll = self.rng.random()
        if roll < 0.5:
            value = {"owner": f"t{self.number}", "n": self.requests}
            self.expect("entity/set", {**ref, "value": value}, 204)
            self.records[key] = value
        elif roll < 0.8:
            if key in self.records:
                answer = {**ref, "value": self.records[key]}
                self.expect("entity/get", ref, 200, answer)
            else:
                self.expect("entity/get", ref, 404)
        else:
            self.expect("entity/delete", ref, 204 if key in self.records else 404)
            self.records.pop(key, None)

    def batch_op(self) -> None:
        keys = sorted({self.own("k") for _ in range(3)})
        if self.rng.random() < 0.5:
            items = [{"key": key, "value": {"batch": self.requests}} for key in keys]
            answer = {"successfulKeys": [{"key": key} for key in keys], "failedKeys": []}
            self.expect("batch/set", items, 200, answer)
            for item in items:
                self.kvs[item["key"]] = item["value"]
            return
        got = self.expect("batch/get", [{"key": key} for key in keys], 200)
        found = {item["key"]: item["value"] for item in got["successfulKeys"]}
        assert found == {key: self.kvs[key] for key in keys if key in self.kvs}, got
        missing = [item["key"] for item in got["failedKeys"]]
        assert missing == [key for key in keys if key not in self.kvs], got
        assert all(item["error"]["code"] == "KEY_NOT_FOUND" for item in got["failedKeys"])

    def counter_op(self) -> None:
        """Read a counter, then bump it in a transaction that checks the version read,
        together with a marker key: both or neither must be written."""
        counter = self.rng.choice(COUNTERS)
        ref = {"entityName": "counter", "key": counter}
        version = self.expect("entity/get", ref, 200)["value"]["version"]
        marker = f"t{self.number}:tx{self.requests}"
        body = {
            "set": [
                {
                    **ref,
                    "value": {"version": version + 1},
                    "conditions": {
                        "and": [
                            {"property": "version", "condition": "EQUAL_TO", "values": [version]}
                        ]
                    },
                },
                {"key": marker, "value": counter},
            ]
        }
        status, got = self.call("transaction", body)
        if status == 204:
            self.bumps[counter] += 1
            self.markers[marker] = True
        else:
            assert (status, got["code"]) == (400, "CONDITIONAL_CHECK_FAILED"), (status, got)
            self.conflicts += 1
            self.markers[marker] = False

    def stable_write(self) -> None:
        """Overwrite a stable key or record (never deleted), or insert a new stable key."""
        roll = self.rng.random()
        if roll < 0.45:
            key = self.rng.choice(STABLE)
            self.expect("set", {"key": key, "value": {"v": self.requests}}, 204)
        elif roll < 0.9:
            ref = {"entityName": "record", "key": self.rng.choice(STABLE_RECORDS)}
            value = {"owner": "seed", "n": self.requests}
            self.expect("entity/set", {**ref, "value": value}, 204)
        else:
            key = f"stable:t{self.number}-{self.requests}"
            self.expect("set", {"key": key, "value": {"v": -1}}, 204)
            self.inserted.append(key)

    def walk_step(self) -> None:
        """One page of a walk through the stable prefix (KVS or entity), checked at the end:
        every key that existed before the walk is seen exactly once, in order."""
        if self.walk is None:
            entity = self.rng.random() < 0.5
            self.walk = {
                "entity": entity,
                "seen": [],
                "cursor": None,
                "limit": 1 + self.rng.randrange(9),
            }
        walk = self.walk
        where = {"condition": "BEGINS_WITH", "values": ["stable:"]}
        if walk["entity"]:
            body: dict[str, Any] = {
                "entityName": "record",
                "indexName": "by-key",
                "range": where,
                "limit": walk["limit"],
            }
            if walk["cursor"] is not None:
                body["cursor"] = walk["cursor"]
            page = self.expect("entity/query", body, 200)
        else:
            body = {"where": [{"property": "key", **where}], "limit": walk["limit"]}
            if walk["cursor"] is not None:
                body["after"] = walk["cursor"]
            page = self.expect("query", body, 200)
        walk["seen"] += [item["key"] for item in page["data"]]
        walk["cursor"] = page.get("cursor")
        if walk["cursor"] is None:
            seen = walk["seen"]
            expected = STABLE_RECORDS if walk["entity"] else STABLE
            assert seen == sorted(set(seen)), "a key was seen twice or out of order"
            assert set(expected) <= set(seen), f"skipped: {sorted(set(expected) - set(seen))}"
            self.walks += 1
            self.walk = None


def hammer(storage: ForgeStorage, base: str, operations: int) -> list[Worker]:
    """Run the workers in parallel; re-raise the first failure of any thread."""
    start = threading.Barrier(THREADS)

    def work(number: int) -> Worker:
        post = clients(base)
        worker = Worker(number, operations, post)
        start.wait()
        try:
            worker.run()
        finally:
            post.close()
        return worker

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(work, n) for n in range(THREADS)]
        workers = [future.result() for future in futures]
    check_final_state(storage, workers)
    return workers


def check_final_state(storage: Any, workers: list[Worker]) -> None:
    """``storage`` (or one installation) holds exactly what the workers' answers imply."""
    for worker in workers:
        prefix = f"t{worker.number}:"
        kvs = {k: v for k, v in storage.kvs.items() if k.startswith(prefix + "k")}
        assert kvs == worker.kvs
        secrets = {k: v for k, v in storage.secrets.items() if k.startswith(prefix)}
        assert secrets == worker.secrets
        records = {k: v for k, v in storage.entity("record").items() if k.startswith(prefix)}
        assert records == worker.records
        for marker, written in worker.markers.items():
            assert (marker in storage.kvs) is written, marker
        for key in worker.inserted:
            assert storage.kvs[key] == {"v": -1}
    bumps = sum((worker.bumps for worker in workers), Counter())
    for counter in COUNTERS:
        assert storage.entity("counter")[counter] == {"version": bumps[counter]}
    assert sum(bumps.values()) == sum(sum(w.markers.values()) for w in workers)
    assert set(STABLE) <= set(storage.kvs)
    assert set(STABLE_RECORDS) <= set(storage.entity("record"))


def report(workers: list[Worker]) -> str:
    sent = sum(worker.requests for worker in workers)
    bumps = sum(sum(worker.bumps.values()) for worker in workers)
    conflicts = sum(worker.conflicts for worker in workers)
    walks = sum(worker.walks for worker in workers)
    return (
        f"{THREADS} threads, {sent} requests, {bumps} counter transactions committed, "
        f"{conflicts} lost the race, {walks} cursor walks"
    )


def test_threads_through_requests_and_httpx(forge_storage: ForgeStorage) -> None:
    prepare(forge_storage)
    workers = hammer(forge_storage, "https://api.atlassian.com", IN_PROCESS_OPS)
    assert len(forge_storage.calls) == sum(worker.requests for worker in workers)
    assert all(call.status in (200, 204, 400, 404) for call in forge_storage.calls)
    print(report(workers))


def test_threads_through_a_real_server(forge_storage_server: Any) -> None:
    storage = forge_storage_server.storage
    prepare(storage)
    workers = hammer(storage, forge_storage_server.url, SERVER_OPS)
    assert len(storage.calls) == sum(worker.requests for worker in workers)
    print(report(workers))


# -- four installations at once -------------------------------------------------------------


def with_token(post: Iterator[Post], token: str) -> Iterator[Post]:
    """The thread's clients, sending ``token`` instead of the shared one."""
    headers = {"Authorization": f"Bearer {token}"}
    for send in post:
        yield functools.partial(send, headers=headers)


@dataclass
class Tenant:
    """One thread's share of the mix on every installation: a :class:`Worker` (its model and
    its operations) per installation, each sending that installation's token; every step
    picks an installation at random, so one thread's requests interleave all of them."""

    number: int
    operations: int
    post: Iterator[Post]
    tokens: dict[str, str]
    workers: dict[str, Worker] = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(-1 - self.number)
        self.workers = {
            key: Worker(self.number, self.operations, with_token(self.post, token), seed=seed)
            for seed, (key, token) in enumerate(self.tokens.items(), 100 * (self.number + 1))
        }

    @property
    def requests(self) -> int:
        return sum(worker.requests for worker in self.workers.values())

    def run(self) -> None:
        keys = list(self.workers)
        while self.requests < self.operations:
            self.workers[self.rng.choice(keys)].step()
        for worker in self.workers.values():
            worker.finish()


def test_threads_on_four_installations_never_cross_partitions(
    forge_storage: ForgeStorage,
) -> None:
    """8 threads, each mixing requests for 4 installations (the same keys in each): every
    answer matches that installation's model, and at the end each installation holds exactly
    what its successful answers imply; the default installation got nothing."""
    forge_storage.define_entity("counter", {"version": "integer"})
    forge_storage.define_entity("record", {"owner": "string", "n": "integer"}, indexes=["owner"])
    installations = {key: forge_storage.installation(key) for key in INSTALLATIONS}
    for installation in installations.values():
        seed(installation)
    tokens = {key: installation.token for key, installation in installations.items()}
    start = threading.Barrier(THREADS)

    def work(number: int) -> Tenant:
        post = clients("https://api.atlassian.com")
        tenant = Tenant(number, TENANT_OPS, post, tokens)
        start.wait()
        try:
            tenant.run()
        finally:
            post.close()
        return tenant

    with ThreadPoolExecutor(THREADS) as pool:
        tenants = [future.result() for future in [pool.submit(work, n) for n in range(THREADS)]]

    for key, installation in installations.items():
        workers = [tenant.workers[key] for tenant in tenants]
        check_final_state(installation, workers)
        assert len(installation.calls) == sum(worker.requests for worker in workers) > 0
    assert len(forge_storage.kvs) == len(forge_storage.secrets) == 0
    assert forge_storage.installation().calls == []
    assert len(forge_storage.calls) == sum(tenant.requests for tenant in tenants)
    print(report([worker for tenant in tenants for worker in tenant.workers.values()]))


@pytest.mark.parametrize("threads", [THREADS])
def test_transactions_are_atomic_under_contention(
    forge_storage: ForgeStorage, threads: int
) -> None:
    """Every thread moves units between two counters in one transaction, checking both
    versions: however the races go, the sum never changes and no version is skipped."""
    forge_storage.define_entity("account", {"balance": "integer", "version": "integer"})
    accounts = forge_storage.entity("account")
    accounts["x"] = {"balance": 1000, "version": 0}
    accounts["y"] = {"balance": 1000, "version": 0}
    committed = Counter[int]()
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def move(number: int) -> None:
        post = clients("https://api.atlassian.com")
        rng = random.Random(number)
        start.wait()
        for _ in range(100):
            x = next(post)("entity/get", {"entityName": "account", "key": "x"})[1]["value"]
            y = next(post)("entity/get", {"entityName": "account", "key": "y"})[1]["value"]
            amount = rng.randrange(1, 10)

            def item(key: str, value: dict[str, int], delta: int) -> dict[str, Any]:
                condition = {"property": "version", "condition": "EQUAL_TO"}
                return {
                    "entityName": "account",
                    "key": key,
                    "value": {"balance": value["balance"] + delta, "version": value["version"] + 1},
                    "conditions": {"and": [{**condition, "values": [value["version"]]}]},
                }

            body = {"set": [item("x", x, -amount), item("y", y, amount)]}
            status, got = next(post)("transaction", body)
            if status == 204:
                with lock:
                    committed[number] += 1
            else:
                assert got["code"] == "CONDITIONAL_CHECK_FAILED", got
        post.close()

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(move, n) for n in range(threads)]:
            future.result()
    x, y = accounts["x"], accounts["y"]
    assert x["balance"] + y["balance"] == 2000
    assert x["version"] == y["version"] == sum(committed.values()) > 0
