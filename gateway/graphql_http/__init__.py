"""GraphQL over HTTP, per the GraphQL-over-HTTP specification, one job a module:

- `api_keys`: the caller's API key to its backend scope (`Authorization: Bearer <key>`).
- `media`: Accept negotiation, and the status a GraphQL answer gets in the chosen media type.
- `payload`: reading a GET's parameters or a POST body (one operation or a batch) and checking them.
- `reuse`: answering a clean read from the response cache, with its ETag (304 when the client has it).
- `endpoint`: the `/graphql` route tying them together; APQ documents come from
  `gateway.persisted_queries`, execution from `gateway.execution`.
"""

from gateway.graphql_http.endpoint import GraphQLEndpoint
from gateway.graphql_http.media import GRAPHQL_RESPONSE, JSON

__all__ = ["GRAPHQL_RESPONSE", "JSON", "GraphQLEndpoint"]
