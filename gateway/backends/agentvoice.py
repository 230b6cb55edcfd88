"""AgentVoice contacts: `contacts[/{id}]`, `contacts/crm/lookup` and `webhook/crm` under a base such as
`https://api.agentvoice.com/api`, authenticated by the `x-api-key` and `x-organization-id` headers.

Snake_case records with UUID ids; no list filters or paging, so the gateway filters the whole list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from gateway import validation
from gateway.backends.base import WholeListBackend
from gateway.backends.fields import GUID, PHONE_TYPE, phone_numbers, raw_phones, text, texts, timestamp
from gateway.backends.protocol import Capability
from gateway.config import BackendSettings
from gateway.filtering import normalize_phone
from gateway.model import Contact, ContactChanges, ContactFilter, ContactKind, ExternalId

VENDOR = "agentvoice"
LIST_PATH = "contacts"
RECORD_PATH = "contacts/{id}"
LOOKUP_PATH = "contacts/crm/lookup"
WEBHOOK_PATH = "webhook/crm"
PARAM_CRM_ID = "crm_id"
PARAM_CRM_SOURCE = "crm_source"
HEADER_API_KEY = "x-api-key"
HEADER_ORGANIZATION = "x-organization-id"

# Where each writable field goes in an AgentVoice record (the gateway field -> vendor field).
TEXT_FIELDS = {"first_name": "first_name", "last_name": "last_name", "company": "company"}
WRITABLE = {*TEXT_FIELDS, "emails", "phones", "external_ids", "kind"}
STORED = "AgentVoice stores only first_name, last_name, email, phone, company and crm_source/crm_id"


class AgentVoiceSettings(BackendSettings):
    vendor: Literal["agentvoice"]
    api_key: SecretStr
    organization_id: str = Field(min_length=1)

    @field_validator("api_key")
    @classmethod
    def _api_key_given(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("organization_id")
    @classmethod
    def _organization_given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()


# ---------------------------------------------------------------------------- pure mapping


def one_text(value: Any) -> str | None:
    """A single-valued field as text; from an array (a malformed record) the first text in it."""
    if isinstance(value, list):
        return next((t for t in (text(v) for v in value) if t is not None), None)
    return text(value)


def all_texts(value: Any) -> list[str]:
    """A field that should hold one string but may hold several (an array) as distinct texts."""
    return texts(*value) if isinstance(value, list) else texts(value)


def crm_external_ids(record: Mapping[str, Any]) -> list[ExternalId]:
    """`crm_source`/`crm_id` as an external id. A `crm_id` without its source names nothing a
    client could match on, so it is left out (it stays in `raw`)."""
    source, crm_id = one_text(record.get("crm_source")), one_text(record.get("crm_id"))
    if source is None or crm_id is None:
        return []
    return [ExternalId(system=source, value=crm_id)]


def to_contact(record: Mapping[str, Any], backend: str) -> Contact:
    """Map one AgentVoice contact (listed, fetched, looked up or written) into the unified shape."""
    first, last = one_text(record.get("first_name")), one_text(record.get("last_name"))
    numbers = phone_numbers((record.get("phone"), PHONE_TYPE, "phone"))
    return Contact(
        backend=backend,
        vendor=VENDOR,
        native_id=str(text(record.get("id"))),
        kind=ContactKind.PERSON,
        display_name=" ".join(n for n in (first, last) if n) or None,
        first_name=first,
        last_name=last,
        emails=all_texts(record.get("email")),
        phones=raw_phones(numbers),
        phone_numbers=numbers,
        company=one_text(record.get("company")),
        external_ids=crm_external_ids(record),
        created_at=timestamp(record.get("created_at")),
        updated_at=timestamp(record.get("updated_at")),
        raw=dict(record),
    )


def _unsupported_reason(field: str, backend: str) -> str:
    if field == "displayName":
        return f"backend '{backend}' has no display name: AgentVoice shows first_name + last_name (give those)"
    return f"backend '{backend}' has no place for this field ({STORED})"


def write_problems(changes: ContactChanges, backend: str, region: str) -> dict[str, str]:
    """Everything wrong with the input itself, whatever the stored record holds."""
    problems = validation.common_problems(changes, region)
    for field in validation.unsupported_fields(changes, WRITABLE, backend):
        problems[field] = _unsupported_reason(field, backend)
    kind = changes.get("kind")
    if kind is not None and kind is not ContactKind.PERSON:
        problems["kind"] = f"AgentVoice holds only PERSON contacts, not {kind.value}"
    if len(changes.get("emails") or []) > 1:
        problems["emails"] = "AgentVoice stores one email address per contact (email)"
    if len(changes.get("phones") or []) > 1:
        problems["phones"] = "AgentVoice stores one phone number per contact (phone)"
    external_ids = changes.get("external_ids") or []
    if len(external_ids) > 1:
        problems["externalIds"] = "AgentVoice stores one CRM id per contact (crm_source/crm_id)"
    if external_ids:
        if not (external_ids[0].system or "").strip():
            problems["externalIds.0.system"] = "AgentVoice requires crm_source whenever crm_id is given"
        if not (external_ids[0].value or "").strip():
            problems["externalIds.0.value"] = "AgentVoice requires crm_id (the contact's id in the CRM)"
    return problems


def required_problems(result: Mapping[str, Any]) -> dict[str, str]:
    """The vendor's required-field rules on a record as it would be after the write."""
    problems: dict[str, str] = {}
    crm_id, source = text(result.get("crm_id")), text(result.get("crm_source"))
    if crm_id is not None and source is None:
        problems["externalIds"] = "AgentVoice requires crm_source whenever crm_id is set"
    if text(result.get("first_name")) is None and (crm_id is None or source is None):
        problems["firstName"] = "AgentVoice requires first_name unless crm_id and crm_source are given (externalIds)"
    return problems


def to_vendor(changes: ContactChanges, region: str) -> dict[str, Any]:
    """The AgentVoice fields for exactly the fields `changes` names (null clears one).

    Phones go out in E.164, the form AgentVoice stores; `validation` has already proved they parse.
    """
    body: dict[str, Any] = {}
    for field, vendor_field in TEXT_FIELDS.items():
        if changes.has(field):
            body[vendor_field] = text(changes.get(field))
    if changes.has("emails"):
        body["email"] = text((changes.get("emails") or [None])[0])
    if changes.has("phones"):
        phone = text((changes.get("phones") or [None])[0])
        body["phone"] = None if phone is None else normalize_phone(phone, region) or phone
    if changes.has("external_ids"):
        first = (changes.get("external_ids") or [None])[0]
        body["crm_source"] = None if first is None else text(first.system)
        body["crm_id"] = None if first is None else text(first.value)
    return body


def patch_needs_record(patch: Mapping[str, Any]) -> bool:
    """Whether the required-field rules on the patched record depend on what is stored: the patch
    clears first_name (or the CRM id) without saying what the other becomes."""
    clears_name = "first_name" in patch and patch["first_name"] is None
    clears_crm = "crm_id" in patch and patch["crm_id"] is None
    return (clears_name and "crm_id" not in patch) or (clears_crm and "first_name" not in patch)


def webhook_body(source: str, crm_id: str, changes: ContactChanges, region: str) -> dict[str, Any]:
    """`POST webhook/crm` with the canonical field names. A null first_name is left out: the
    webhook cannot clear it (it defaults a new contact to "Unknown")."""
    data = {k: v for k, v in to_vendor(changes, region).items() if k not in ("crm_id", "crm_source")}
    if data.get("first_name", "") is None:
        del data["first_name"]
    return {"source": source, "data": {"crm_id": crm_id, **data}}


def upsert_problems(source: str, crm_id: str, changes: ContactChanges, backend: str, region: str) -> dict[str, str]:
    problems = write_problems(changes, backend, region)
    if not source.strip():
        problems["source"] = "required: the CRM (the webhook's source)"
    if not crm_id.strip():
        problems["crmId"] = "required: the contact's id in the CRM (data.crm_id)"
    external_ids = changes.get("external_ids") or []
    if external_ids and external_ids != [ExternalId(source.strip(), crm_id.strip())]:
        problems["externalIds"] = "an upsert's CRM id is given by source and crmId (crm_source/crm_id)"
    return problems


# ---------------------------------------------------------------------------- the backend


class AgentVoiceBackend(WholeListBackend):
    list_path = LIST_PATH
    vendor = VENDOR
    settings_model = AgentVoiceSettings
    mapper = staticmethod(to_contact)
    capabilities = frozenset(
        {Capability.READ, Capability.CREATE, Capability.UPDATE, Capability.DELETE, Capability.CRM_UPSERT}
    )
    write_notes = (
        "one email, one phone and one CRM id (externalIds[0] -> crm_source/crm_id) per contact",
        "firstName is required unless externalIds gives the CRM id",
    )
    native_id_pattern = GUID
    kinds = frozenset({ContactKind.PERSON})
    writable_kinds = frozenset({ContactKind.PERSON})
    settings: AgentVoiceSettings

    def auth_headers(self) -> dict[str, str]:
        return {
            HEADER_API_KEY: self.settings.api_key.get_secret_value(),
            HEADER_ORGANIZATION: self.settings.organization_id,
        }

    async def fetch_records(self, flt: ContactFilter, *, fresh: bool = False) -> list[Mapping[str, Any]]:
        """The whole list: AgentVoice documents no list filters, and its CRM lookup cannot stand in
        for an external-id filter (the document does not say it ignores the source's case, as the
        gateway does, and it answers one contact where several may match)."""
        return self.expect_list(await self.read(LIST_PATH, fresh=fresh))

    async def get(self, native_id: str) -> Contact | None:
        self.check_native_id(native_id)
        payload = await self.read_or_none(self.record_path(RECORD_PATH, native_id))
        if payload is None:
            return None
        return self.map_record(payload)

    async def create(self, changes: ContactChanges) -> Contact:
        body = {k: v for k, v in to_vendor(changes, self.region).items() if v is not None}
        problems = write_problems(changes, self.name, self.region)
        # The vendor's rules on the record as sent, unless the input's own problems already name the field.
        problems.update(
            {k: v for k, v in required_problems(body).items() if not any(p.startswith(k) for p in problems)}
        )
        validation.raise_if_any(problems, self.name)
        return self._written(await self.write("POST", LIST_PATH, body))

    async def update(self, native_id: str, changes: ContactChanges) -> Contact:
        """A PATCH of only the fields given; the required-field rules hold for the patched record."""
        self.check_native_id(native_id)
        validation.raise_if_any(write_problems(changes, self.name, self.region), self.name)
        patch = to_vendor(changes, self.region)
        if "first_name" in patch and "crm_id" in patch:
            validation.raise_if_any(required_problems(patch), self.name)
        current: Mapping[str, Any] | None = None
        if not patch or patch_needs_record(patch):
            current = await self._current(native_id)
            validation.raise_if_any(required_problems({**current, **patch}), self.name)
        if not patch:
            # Nothing AgentVoice stores was named (say, only `kind: PERSON`): no write to send.
            return self.to_contact(current or {})
        return self._written(await self.write("PATCH", self.record_path(RECORD_PATH, native_id), patch))

    async def delete(self, native_id: str) -> None:
        self.check_native_id(native_id)
        await self.write("DELETE", self.record_path(RECORD_PATH, native_id))

    async def upsert_from_crm(self, source: str, crm_id: str, changes: ContactChanges) -> Contact:
        """Create or update the contact known to `source` as `crm_id`, through the CRM webhook."""
        validation.raise_if_any(upsert_problems(source, crm_id, changes, self.name, self.region), self.name)
        body = webhook_body(source.strip(), crm_id.strip(), changes, self.region)
        if "first_name" not in body["data"]:
            # The webhook puts "Unknown" in a first_name not provided, on an update too: an
            # existing contact's own name (read fresh) is sent back instead.
            current = await self.read_or_none(
                LOOKUP_PATH, {PARAM_CRM_ID: crm_id.strip(), PARAM_CRM_SOURCE: source.strip()}, fresh=True
            )
            first_name = None if current is None else one_text(self.expect_record(current).get("first_name"))
            if first_name is not None:
                body["data"]["first_name"] = first_name
        payload = self.expect_record(await self.write("POST", WEBHOOK_PATH, body))
        return self._written(payload.get("contact"))

    async def _current(self, native_id: str) -> Mapping[str, Any]:
        found = await self.read_or_none(self.record_path(RECORD_PATH, native_id), fresh=True)
        if found is None:
            raise self.no_such_contact(native_id)
        return self.expect_record(found)

    def _written(self, payload: Any) -> Contact:
        """The contact a write answered with; a write that answers no addressable record is unusable."""
        return self.map_record(payload)
