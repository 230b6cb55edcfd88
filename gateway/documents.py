"""GraphQL documents: parsed once per text (a shared LRU), never past `server.max_tokens` tokens,
the operation to run chosen as the spec says (several operations need an operationName), and
validated once per text and schema.

The HTTP layer parses first: a document that is too big or malformed is refused before any
validation (the expensive step), and the parsed document is what both the response cache and
execution use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    parse,
    validate,
)

from gateway import errors

PARSED_DOCUMENTS = 512


# What `parse_document` and `chosen_operation` raise: the document cannot be run at all.
DocumentError = (errors.GraphQLParseFailed, errors.BadUserInput)


@lru_cache(maxsize=PARSED_DOCUMENTS)
def _parse(query: str, max_tokens: int) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


def parse_document(query: str, max_tokens: int) -> DocumentNode:
    """The parsed document, or GRAPHQL_PARSE_FAILED (with line and column) when it cannot be parsed."""
    try:
        return _parse(query, max_tokens)
    except GraphQLSyntaxError as exc:
        where = [{"line": loc.line, "column": loc.column} for loc in exc.locations or []]
        message = exc.message
        if "more than" in message and "tokens" in message:
            message += " (server.max_tokens)"
        raise errors.GraphQLParseFailed(message, locations=where) from None


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: a cheap cache key
class Validation:
    """What a document is validated against: a schema and the rules it must pass."""

    schema: GraphQLSchema
    rules: tuple[type[ASTValidationRule], ...]


@lru_cache(maxsize=PARSED_DOCUMENTS)
def validation_errors(query: str, max_tokens: int, validation: Validation) -> tuple[GraphQLError, ...]:
    """Why the document `query` (parsed by `parse_document` with the same `max_tokens`) cannot run;
    empty when it can. Keyed by the text, not the parsed tree (hashing a tree walks all of it)."""
    return tuple(validate(validation.schema, _parse(query, max_tokens), list(validation.rules)))


def operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def chosen_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode:
    """The operation to run: the named one, or the only one (GraphQL spec, GetOperation)."""
    found = operations(document)
    if operation_name is None:
        if len(found) == 1:
            return found[0]
        raise errors.BadUserInput(
            "the document has several operations: give operationName"
            if found
            else "the document has no operation to run"
        )
    for operation in found:
        if operation.name is not None and operation.name.value == operation_name:
            return operation
    raise errors.BadUserInput(f"the document has no operation named '{operation_name}'")
