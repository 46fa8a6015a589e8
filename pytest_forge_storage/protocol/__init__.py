"""Wire protocols: REST (with its OpenAPI spec) and GraphQL, mapped onto the engine."""
