"""Real clients for the multi-tenant tests, and the clock they freeze (imported by tests)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

REST = "https://api.atlassian.com/forge/storage/kvs/v1/"
GRAPHQL = "https://api.atlassian.com/graphql"
START = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
USER = "655362:312d3308-8954-42b0-aa38-771a10c88656"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Answer:
    """Status and decoded body of one response, whichever client sent it."""

    def __init__(self, status: int, text: str, body: Any) -> None:
        self.status = status
        self.text = text
        self.body = body

    def error(self) -> tuple[int, str, str]:
        """``(status, code, message)`` of a REST error, after checking Forge's shape."""
        assert isinstance(self.body, dict), self.text
        assert set(self.body) == {"code", "message"}, self.body
        return self.status, self.body["code"], self.body["message"]

    @property
    def data(self) -> Any:
        """``data`` of a GraphQL answer that has no errors."""
        assert self.status == 200, self.text
        assert "errors" not in self.body, self.body
        return self.body["data"]


class Door:
    """Posts to any URL through one real client: ``requests``, ``httpx`` or httpx async."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._httpx: Any = None  # one httpx.Client per door: its SSL set-up costs ~30 ms

    def close(self) -> None:
        if self._httpx is not None:
            self._httpx.close()

    def rest(self, operation: str, body: Any, token: str) -> Answer:
        return self.post(REST + operation, body, bearer(token))

    def graphql(self, query: str, variables: Any, token: str) -> Answer:
        return self.post(GRAPHQL, {"query": query, "variables": variables}, bearer(token))

    def post(self, url: str, body: Any, headers: dict[str, str]) -> Answer:
        if self.kind == "requests":
            import requests

            r = requests.post(url, json=body, headers=headers, timeout=5)
            return Answer(r.status_code, r.text, r.json() if r.content else None)
        import anyio
        import httpx

        if self.kind == "httpx":
            if self._httpx is None:
                self._httpx = httpx.Client()
            got = self._httpx.post(url, json=body, headers=headers)
            return Answer(got.status_code, got.text, got.json() if got.content else None)

        async def send() -> httpx.Response:
            async with httpx.AsyncClient() as client:
                return await client.post(url, json=body, headers=headers)

        got = anyio.run(send)
        return Answer(got.status_code, got.text, got.json() if got.content else None)


# -- GraphQL documents, in the shapes @forge/storage sends (tests/protocol has them verbatim) --
_PAYLOAD = "success errors { message extensions { statusCode errorType } }"
GET = """query get($key: ID!, $encrypted: Boolean, $contextAri: ID) {
  appStoredEntity(contextAri: $contextAri, key: $key, encrypted: $encrypted) { key value }
}"""
SET = f"""mutation set($input: SetAppStoredEntityMutationInput!) {{
  appStorage {{ setAppStoredEntity(input: $input) {{ {_PAYLOAD} }} }}
}}"""
DELETE = f"""mutation delete($input: DeleteAppStoredEntityMutationInput!) {{
  appStorage {{ deleteAppStoredEntity(input: $input) {{ {_PAYLOAD} }} }}
}}"""
LIST = """query list(
  $contextAri: ID, $where: [AppStoredEntityFilter!], $after: String, $first: Int
) {
  appStoredEntities(contextAri: $contextAri, where: $where, after: $after, first: $first) {
    edges { cursor node { key value } }
    pageInfo { hasNextPage }
  }
}"""
CE_GET = """query ceGet($contextAri: ID, $entityName: String!, $key: ID!) {
  appStoredCustomEntity(contextAri: $contextAri, entityName: $entityName, key: $key) {
    key value
  }
}"""
CE_SET = f"""mutation ceSet($input: SetAppStoredCustomEntityMutationInput!) {{
  appStorageCustomEntity {{ setAppStoredCustomEntity(input: $input) {{ {_PAYLOAD} }} }}
}}"""
CE_DELETE = f"""mutation ceDelete($input: DeleteAppStoredCustomEntityMutationInput!) {{
  appStorageCustomEntity {{ deleteAppStoredCustomEntity(input: $input) {{ {_PAYLOAD} }} }}
}}"""
CE_LIST = """query ceList(
  $contextAri: ID, $entityName: String!, $indexName: String!,
  $partition: [AppStoredCustomEntityFieldValue!], $limit: Int, $cursor: String
) {
  appStoredCustomEntities(
    contextAri: $contextAri, entityName: $entityName, indexName: $indexName,
    partition: $partition, limit: $limit, cursor: $cursor
  ) { cursor nodes { key value } }
}"""
#: A mutation payload that succeeded.
SUCCESS = {"success": True, "errors": None}
