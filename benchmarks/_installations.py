"""Served calls with installations, beside the same calls without any (issue 14: <= 1.05x).

Both sides are the fake, activated as the fixture activates it (``mock_forge_storage()``), and
send the same request through one reused ``requests.Session``:

* baseline: no installation defined; the token is one the fake did not issue, so the call
  reaches the default installation, as every 0.1 suite's calls do;
* figure: three installations besides the default one (``site-a``, ``site-b``, ``site-c``),
  the call carrying ``site-b``'s system token, so it pays what multi-tenancy adds to a call:
  the token's lookup (a dict hit, a revocation generation and a clock read) and the switch to
  that installation's partition.

The value is seeded in the partition each side reads, so both answers are the same bytes. A
GraphQL ``appStoredEntity`` with the installation's ``contextAri`` (checked against its site
on every call) is measured the same way, beside the default installation's own ``contextAri``.
FIT minting after the first is measured in ``_invocations.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from _served import BASE, BODIES, EXPECTED_STATUS, GRAPHQL_URL, KEY, VALUE, _check
from _timing import Config, Row, Side, at_most, median, paired, us

from pytest_forge_storage import ForgeStorage, mock_forge_storage

#: The installations defined on the figure's side; the calls carry the token of ``CALLER``.
OTHERS = ("site-a", "site-b", "site-c")
CALLER = "site-b"
#: A token the fake did not issue: the default installation (the 0.1 path).
UNISSUED = "Bearer benchmark-token"
BUDGET = 1.05
#: ``UntypedQueries.get`` with a ``contextAri``, as ``@forge/storage@2.0.3`` builds it (ref §12.3).
GRAPHQL_ARI_GET = """
      query forge_app_getApplicationStorageEntity($contextAri: ID!, $key: ID!, $encrypted: Boolean!) {
        appStoredEntity(contextAri: $contextAri, key: $key, encrypted: $encrypted) {
          key
          value
        }
      }
    """  # noqa: E501 - verbatim

#: The headers a call sends, read from the activated storage.
Credentials = Callable[[ForgeStorage], dict[str, str]]
#: The operation to time, bound to the activated storage.
Sender = Callable[[ForgeStorage], Callable[[], Any]]


def _unissued(storage: ForgeStorage) -> dict[str, str]:
    return {"Authorization": UNISSUED}


def _caller_token(storage: ForgeStorage) -> dict[str, str]:
    # Read once per batch, as a remote reads x-forge-oauth-system once per invocation.
    return {"Authorization": f"Bearer {storage.installation(CALLER).token}"}


@contextlib.contextmanager
def _side(tenants: bool, send: Sender, status: int) -> Iterator[Callable[[], Any]]:
    with mock_forge_storage() as storage:
        if tenants:
            for key in OTHERS:
                storage.installation(key)
        partition = storage.installation(CALLER if tenants else "default")
        partition.kvs[KEY] = VALUE
        op = send(storage)
        _check(op(), status)
        yield op


def _poster(session: Any, url: str, body: Any, credentials: Credentials) -> Sender:
    def bind(storage: ForgeStorage) -> Callable[[], Any]:
        headers = credentials(storage)
        return lambda: session.post(url, json=body, headers=headers)

    return bind


def _rest_rows(config: Config, session: Any) -> list[Row]:
    rows = []
    for operation, body in BODIES.items():
        url, status = BASE + operation, EXPECTED_STATUS[operation]
        plain = _poster(session, url, body, _unissued)
        tenant = _poster(session, url, body, _caller_token)
        sides: dict[str, Side] = {
            "baseline": lambda send=plain, status=status: _side(False, send, status),
            "fake": lambda send=tenant, status=status: _side(True, send, status),
        }
        rows.append(_row(f"REST {operation} via requests, {CALLER}'s token", paired(sides, config)))
    return rows


def _row(figure: str, samples: dict[str, list[float]]) -> Row:
    """A served call with installations beside the same call without them."""
    return Row(
        "installations",
        figure,
        us(median(samples["fake"])),
        "us",
        "same call, no installations",
        us(median(samples["baseline"])),
        at_most(BUDGET),
        samples=samples,
    )


def _graphql_row(config: Config, session: Any) -> Row:
    def sender(tenants: bool) -> Sender:
        def bind(storage: ForgeStorage) -> Callable[[], Any]:
            caller = storage.installation(CALLER if tenants else "default")
            headers = _caller_token(storage) if tenants else _unissued(storage)
            variables = {"key": KEY, "encrypted": False, "contextAri": caller.context_ari}
            body = {"query": GRAPHQL_ARI_GET, "variables": variables}
            if tenants:  # the check runs: another site's contextAri is refused
                wrong = {**variables, "contextAri": storage.installation("site-a").context_ari}
                refused = session.post(
                    GRAPHQL_URL, json={**body, "variables": wrong}, headers=headers
                ).json()
                if refused["errors"][0]["extensions"]["errorType"] != "CONTEXT_INVALID":
                    raise RuntimeError(f"another site's contextAri was served: {refused}")
            return lambda: session.post(GRAPHQL_URL, json=body, headers=headers)

        return bind

    @contextlib.contextmanager
    def side(tenants: bool) -> Iterator[Callable[[], Any]]:
        with _side(tenants, sender(tenants), 200) as op:
            answer = op().json()
            if answer != {"data": {"appStoredEntity": {"key": KEY, "value": VALUE}}}:
                raise RuntimeError(f"unexpected GraphQL answer: {answer}")
            yield op

    samples = paired({"baseline": lambda: side(False), "fake": lambda: side(True)}, config)
    return _row(f"GraphQL appStoredEntity via requests, {CALLER}'s token and contextAri", samples)


def installation_rows(config: Config) -> list[Row]:
    import requests

    with requests.Session() as session:
        return [*_rest_rows(config, session), _graphql_row(config, session)]
