"""MotionCX contacts: `GET crm/external/v1/contacts` under the tenant's base URL, with the
`TenantID` query parameter and `Authorization: apikey <token>` (the scheme is assumed, and
configurable). Read-only: no writes are documented.

Records have integer ids; `isAgent` tells agents from customers. The list takes filters as query
parameters and answers a bare JSON array, with no paging documented. The document's own example is
malformed (`displayName` holds an array of whole records): the mapper takes the first name it can
find there and never fails on an odd field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from gateway.backends.base import WholeListBackend
from gateway.backends.fields import PHONE_TYPE, flag, phone_numbers, raw_phones, text, texts, timestamp
from gateway.config import BackendSettings
from gateway.model import Address, Contact, ContactFilter, ContactKind, ExternalId

VENDOR = "motioncx"
LIST_PATH = "crm/external/v1/contacts"
# The document's parameter names, spelled as it spells them (`IsDidabled` included).
PARAM_TENANT = "TenantID"
PARAM_ID = "ID"
PARAM_EMAIL = "Email"
PARAM_FIRST_NAME = "FirstName"
PARAM_LAST_NAME = "LastName"
PARAM_ORGANIZATION = "Organization"
PARAM_IS_AGENT = "IsAgent"
PARAM_EXTERNAL_ID = "ExternalID"
PARAM_DISABLED = "IsDidabled"  # sic: the document's spelling
# What MotionCX's `externalId` is called among a contact's external ids: an id in the customer's
# own external system, which the document does not name.
EXTERNAL_SYSTEM = "external"
INTEGER_ID = re.compile(r"^[0-9]{1,18}$")
# Assumption (the document says only that an Authorization header is used, not its scheme): the
# token goes as `Authorization: apikey <token>`. The `auth_scheme` setting changes the word.
ASSUMED_AUTH_SCHEME = "apikey"


class MotionCXSettings(BackendSettings):
    vendor: Literal["motioncx"]
    tenant_id: int = Field(ge=0)
    token: SecretStr | None = None
    auth_scheme: str = Field(default=ASSUMED_AUTH_SCHEME, pattern=r"^[A-Za-z][A-Za-z0-9._~+/-]{0,63}$")

    @model_validator(mode="after")
    def _credentials_given(self) -> MotionCXSettings:
        own_header = any(k.lower() == "authorization" for k in self.headers)
        if not own_header and (self.token is None or not self.token.get_secret_value().strip()):
            raise ValueError("token: required (or give an Authorization header in headers)")
        return self


# ---------------------------------------------------------------------------- pure mapping


def display_name(record: Mapping[str, Any]) -> str | None:
    """`displayName`, or from an array there (the document's example) the first name found in it,
    then `name`, then first and last name."""
    value = record.get("displayName")
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                found = text(item)
            elif isinstance(item, Mapping):
                found = text(item.get("displayName")) or text(item.get("name"))
            else:
                found = None
            if found is not None:
                return found
        value = None
    first, last = text(record.get("firstName")), text(record.get("lastName"))
    return text(value) or text(record.get("name")) or " ".join(n for n in (first, last) if n) or None


def address(record: Mapping[str, Any]) -> Address | None:
    found = Address(
        line1=text(record.get("address1")),
        line2=text(record.get("address2")),
        city=text(record.get("city")),
        region=text(record.get("state")),
        postal_code=text(record.get("postCode")),
    )
    return None if found.is_empty() else found


def to_contact(record: Mapping[str, Any], backend: str) -> Contact:
    """Map one MotionCX contact into the unified shape."""
    external = text(record.get("externalId"))
    numbers = phone_numbers((record.get("phone"), PHONE_TYPE, "phone"))
    return Contact(
        backend=backend,
        vendor=VENDOR,
        native_id=str(text(record.get("id"))),
        kind=ContactKind.AGENT if flag(record.get("isAgent")) else ContactKind.PERSON,
        display_name=display_name(record),
        first_name=text(record.get("firstName")),
        last_name=text(record.get("lastName")),
        emails=texts(record.get("email")),
        phones=raw_phones(numbers),
        phone_numbers=numbers,
        company=text(record.get("organization")),
        title=text(record.get("title")),
        alias=text(record.get("alias")),
        address=address(record),
        external_ids=[ExternalId(EXTERNAL_SYSTEM, external)] if external is not None else [],
        disabled=flag(record.get("isDisabled")),
        created_at=timestamp(record.get("createdAt")),
        raw=dict(record),
    )


def pushdown(flt: ContactFilter) -> dict[str, str]:
    """The filter as MotionCX parameters, where the vendor can narrow the list without losing a
    record the gateway's own filter would keep (that filter is applied afterwards anyway): only the
    flags (`IsAgent` from one wanted kind, `IsDidabled`).

    Text is never sent: the document does not say whether `Email`, `FirstName`, `LastName`,
    `Organization` or `ExternalID` match without case or surrounding spaces as the gateway does,
    nor gives a format for `Phone`; `search` has no vendor counterpart."""
    params: dict[str, str] = {}
    if flt.kinds is not None:
        wanted = flt.kinds & {ContactKind.AGENT, ContactKind.PERSON}
        if len(wanted) == 1:
            params[PARAM_IS_AGENT] = "true" if ContactKind.AGENT in wanted else "false"
    if flt.disabled is not None:
        params[PARAM_DISABLED] = "true" if flt.disabled else "false"
    return params


# ---------------------------------------------------------------------------- the backend


class MotionCXBackend(WholeListBackend):
    list_path = LIST_PATH
    vendor = VENDOR
    settings_model = MotionCXSettings
    mapper = staticmethod(to_contact)
    write_notes = ("MotionCX documents no writes: read-only",)
    native_id_pattern = INTEGER_ID
    has_disabled_flag = True
    # What `pushdown` sends: the flags only.
    pushed_fields = frozenset({"kinds", "disabled"})
    kinds = frozenset({ContactKind.PERSON, ContactKind.AGENT})
    writable_kinds = frozenset()
    settings: MotionCXSettings

    def auth_headers(self) -> dict[str, str]:
        token = self.settings.token
        if token is None:
            return {}
        return {"Authorization": f"{self.settings.auth_scheme} {token.get_secret_value()}"}

    def base_params(self) -> dict[str, str]:
        return {PARAM_TENANT: str(self.settings.tenant_id)}

    async def fetch_records(self, flt: ContactFilter, *, fresh: bool = False) -> list[Mapping[str, Any]]:
        return self.expect_list(await self.read(LIST_PATH, pushdown(flt), fresh=fresh))

    async def get(self, native_id: str) -> Contact | None:
        self.check_native_id(native_id)
        records = self.expect_list(await self.read(LIST_PATH, {PARAM_ID: native_id}))
        found = [r for r in records if text(r.get("id")) == native_id]
        return self.map_one(found[0]) if found else None
