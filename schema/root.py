"""Query (and later Mutation) root types; each field hands its work to `resolvers`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import strawberry
from graphql import ASTValidationRule, NoSchemaIntrospectionCustomRule, specified_rules
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig

from gateway.config import ServerSettings
from gateway.documents import Validation
from gateway.executor import executor_for
from gateway.model import EMPTY_FILTER
from resolvers import backends as backend_resolvers
from resolvers import contacts, merges, people, writes
from schema.people import Person, PersonConnection
from schema.types import (
    Backend,
    Contact,
    ContactConnection,
    ContactFilter,
    ContactInput,
    ContactPatch,
    Info,
    Node,
)
from schema.views import BACKEND, CONTACT, CONTACT_PAGE, PERSON, PERSON_PAGE


@strawberry.type(description="Read contacts across every configured contact-center backend.")
class Query:
    @strawberry.field(
        description=(
            "One contact by its global id `<backend>:<nativeId>`. With followMerges (default) a "
            "merged Comm100 contact resolves to the record it was merged into, to the end of the "
            "chain. Null when the vendor does not know the id; BAD_USER_INPUT when the id is "
            "malformed or names a backend that is not configured."
        )
    )
    async def contact(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="`<backend>:<nativeId>`.")],
        follow_merges: Annotated[
            bool, strawberry.argument(description="Resolve a merged contact to its survivor.")
        ] = True,
    ) -> Contact | None:
        found = await contacts.get_contact(info.context, str(id))
        return CONTACT.optional(await merges.resolve_contact(info.context, info, found, follow_merges))

    @strawberry.field(description="Any object by its global id (Relay): a Contact or a Person.")
    async def node(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="A Contact or Person id.")]
    ) -> Node | None:
        if people.is_person_id(str(id)):
            return PERSON.optional(await people.find_person(info.context, info, str(id)))
        return CONTACT.optional(await contacts.get_contact(info.context, str(id)))

    @strawberry.field(
        description=(
            "The same person across vendors: contacts joined by normalised email, E.164 phone or "
            "external id (transitively). A person is listed when any of its contacts matches the filter."
        )
    )
    async def people(
        self,
        info: Info,
        filter: Annotated[
            ContactFilter | None, strawberry.argument(description="Which people; all when omitted.")
        ] = None,
        first: Annotated[int, strawberry.argument(description="Page size, at most server.max_page_size.")] = 50,
        after: Annotated[str | None, strawberry.argument(description="Continue after this cursor.")] = None,
    ) -> PersonConnection:
        flt = filter.to_model() if filter is not None else EMPTY_FILTER
        return PERSON_PAGE(await people.list_people(info.context, info, flt, first, after))

    @strawberry.field(description="One person by id (`person~<contact id>`), or null.")
    async def person(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="`person~<contact id>`.")]
    ) -> Person | None:
        return PERSON.optional(await people.find_person(info.context, info, str(id)))

    @strawberry.field(
        description=(
            "Contacts of every selected backend as one list: configured backend order, then each "
            "vendor's order. A failing backend costs only its part; its error comes with the rest. "
            "Every backend is asked at once, but a page is answered as soon as the backends in front "
            "have filled it: a slow or failing backend after them is then not waited for (nor reported). "
            "totalCount waits for every backend (the page is built meanwhile: under @defer it comes first)."
        )
    )
    async def contacts(
        self,
        info: Info,
        filter: Annotated[
            ContactFilter | None,
            strawberry.argument(description="Which contacts; all when omitted."),
        ] = None,
        backends: Annotated[
            list[str] | None,
            strawberry.argument(description="Only these backends (by config name); all when omitted."),
        ] = None,
        first: Annotated[int, strawberry.argument(description="Page size, at most server.max_page_size.")] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(description="Continue after this cursor (an edge's cursor or endCursor)."),
        ] = None,
        include_merged: Annotated[
            bool,
            strawberry.argument(description="Also list Comm100 records that were merged away."),
        ] = False,
    ) -> ContactConnection:
        page = await contacts.list_contacts(
            info.context,
            info,
            filter.to_model() if filter is not None else EMPTY_FILTER,
            backends,
            first,
            after,
            include_merged,
        )
        return CONTACT_PAGE(page)

    @strawberry.field(description="The configured backends this caller may use, and their state.")
    async def backends(self, info: Info) -> list[Backend]:
        return BACKEND.each(await backend_resolvers.describe(info.context))


@strawberry.type(description="Create, change and delete contacts; each write goes to one backend and is never retried.")
class Mutation:
    @strawberry.mutation(
        description=(
            "Create a contact in one backend. NOT_SUPPORTED (before any call) when the backend cannot "
            "create; BAD_USER_INPUT listing the fields when the vendor's rules are not met."
        )
    )
    async def create_contact(
        self,
        info: Info,
        backend: Annotated[str, strawberry.argument(description="The backend's config name.")],
        input: Annotated[ContactInput, strawberry.argument(description="The new contact's fields.")],
    ) -> Contact:
        return CONTACT(await writes.create_contact(info.context, backend, input.to_changes()))

    @strawberry.mutation(
        description=(
            "Change the given fields of a contact; every field not given keeps its value, also on "
            "vendors that only replace whole records (the gateway reads, patches and writes back)."
        )
    )
    async def update_contact(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The contact to change.")],
        input: Annotated[ContactPatch, strawberry.argument(description="Only the fields to change.")],
    ) -> Contact:
        return CONTACT(await writes.update_contact(info.context, str(id), input.to_changes()))

    @strawberry.mutation(description="Delete a contact; returns its id.")
    async def delete_contact(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The contact to delete.")]
    ) -> strawberry.ID:
        return strawberry.ID(await writes.delete_contact(info.context, str(id)))

    @strawberry.mutation(
        description=(
            "Create or update a contact by its CRM id through the vendor's CRM webhook (AgentVoice): "
            "matched by source and crmId."
        )
    )
    async def upsert_contact_from_crm(
        self,
        info: Info,
        backend: Annotated[str, strawberry.argument(description="The backend's config name (a CRM_UPSERT one).")],
        source: Annotated[str, strawberry.argument(description="The CRM, e.g. 'salesforce'.")],
        crm_id: Annotated[str, strawberry.argument(description="The contact's id in that CRM.")],
        input: Annotated[
            ContactInput | None, strawberry.argument(description="The contact's fields; none: only the CRM id.")
        ] = None,
    ) -> Contact:
        changes = input.to_changes() if input is not None else ContactInput().to_changes()
        return CONTACT(await writes.upsert_from_crm(info.context, backend, source, crm_id, changes))


class GatewaySchema(strawberry.Schema):
    """The schema strawberry builds from the types, and the rules a document must pass to run on it
    (the spec's, and the gateway's limits). gateway/execution.py validates with them and hands
    the document to graphql-core's executor over this schema."""

    def __init__(self, *, validation_rules: Sequence[type[ASTValidationRule]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validation = Validation(self._schema, (*specified_rules, *validation_rules))
        self.executor = executor_for(self._schema)
        self.execution_context_class = self.executor


def build_schema(server: ServerSettings | None = None) -> GatewaySchema:
    """The schema, with the query limits of `server` (none when None: tests, print-schema)."""
    rules: list[type[ASTValidationRule]] = []
    if server is not None:
        rules += [
            *QueryDepthLimiter(max_depth=server.max_depth).validation_rules,
            *MaxAliasesLimiter(max_alias_count=server.max_aliases).validation_rules,
        ]
        if not server.introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        types=[Contact, Person],
        validation_rules=rules,
        # @defer and @stream: a frontend renders the fast backends' part first (gateway/incremental.py).
        config=StrawberryConfig(enable_experimental_incremental_execution=True),
    )
