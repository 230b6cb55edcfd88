"""Genesys Web Services (GWS) Contacts API: `GET/POST contacts`, `PUT/DELETE contacts/{id}` under a
base such as `https://gws.example.com/api/v2`, with Basic (username + password) or Bearer auth.

The list holds queues, users and "custom" contacts; every attribute filters it (ANDed). Only Custom
contacts can be written, and they hold just `name` and `phoneNumber`. Answers are GWS envelopes
(`{"statusCode": 0, "contacts": [...]}`): a non-zero `statusCode` is a failure even on HTTP 200.
No paging is documented, so a list is read whole and the gateway pages it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import SecretStr, model_validator

from gateway import errors, validation
from gateway.backends.base import WholeListBackend, basic_auth, bearer_auth
from gateway.backends.fields import PHONE_TYPE, phone_numbers, raw_phones, text
from gateway.backends.protocol import Capability
from gateway.backends.whole_list import ListShape
from gateway.config import BackendSettings
from gateway.model import Contact, ContactChanges, ContactFilter, ContactKind, ExternalId

VENDOR = "genesys"
LIST_PATH = "contacts"
# The document shows a list as `{contacts: [...]}`. Assumptions (GWS's general conventions; the
# contacts document is silent): every answer may carry `statusCode` (0 success) and
# `statusMessage`, and a POST answers the new `id` at the top level or inside `contact`.
CONTACTS_KEY = "contacts"
STATUS_KEY = "statusCode"
STATUS_MESSAGE_KEY = "statusMessage"
CREATED_KEY = "contact"
RECORD_PATH = "contacts/{id}"
KINDS = {"custom": ContactKind.CUSTOM, "queue": ContactKind.QUEUE, "user": ContactKind.USER}
VENDOR_TYPE = {ContactKind.CUSTOM: "Custom", ContactKind.QUEUE: "Queue", ContactKind.USER: "User"}
EMPLOYEE_ID = "employeeId"
# What a Custom contact can hold, by the gateway's field names.
WRITABLE = {"display_name", "phones", "kind"}
STORED = "Genesys Custom contacts hold only a name and one phoneNumber"
FREE_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,512}$")
# GWS "Return Values" (Web Services API basics; the contacts document names none): 0 success;
# 1 missing parameter, 2 invalid parameter, 10 validation error, 11 read-only property; 3
# forbidden, 5 no permission; 4 internal error; 6 not found; 18 already exists; 20 not
# authenticated. Anything else non-zero is a failure of the vendor's own.
STATUS_NOT_FOUND = 6
STATUS_BAD_INPUT = frozenset({1, 2, 10, 11})
STATUS_FORBIDDEN = frozenset({3, 5})
STATUS_CONFLICT = 18
STATUS_UNAUTHENTICATED = 20


class GenesysSettings(BackendSettings):
    vendor: Literal["genesys"]
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> GenesysSettings:
        basic = self.username is not None or self.password is not None
        if basic and self.token is not None:
            raise ValueError("give either username + password (Basic) or token (Bearer), not both")
        if basic and (not (self.username or "").strip() or self.password is None):
            raise ValueError("username and password: both are required for Basic auth")
        own_header = any(k.lower() == "authorization" for k in self.headers)
        if not basic and self.token is None and not own_header:
            raise ValueError("credentials: give username + password (Basic) or token (Bearer)")
        return self


# ---------------------------------------------------------------------------- pure mapping


def envelope_status(value: Any) -> int:
    """An envelope's statusCode as a number ("0" counts as 0; absent is 0); -1 when unreadable."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return -1
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return -1


def kind_of(record: Mapping[str, Any]) -> ContactKind:
    """`type` without case; a record whose type is missing or unknown is a plain PERSON (and so
    never writable)."""
    value = text(record.get("type"))
    return KINDS.get(value.casefold(), ContactKind.PERSON) if value is not None else ContactKind.PERSON


def to_contact(record: Mapping[str, Any], backend: str) -> Contact:
    """Map one GWS contact (Custom, Queue or User) into the unified shape."""
    first, last = text(record.get("firstName")), text(record.get("lastName"))
    employee = text(record.get(EMPLOYEE_ID))
    numbers = phone_numbers((record.get("phoneNumber"), PHONE_TYPE, "phoneNumber"))
    return Contact(
        backend=backend,
        vendor=VENDOR,
        native_id=str(text(record.get("id"))),
        kind=kind_of(record),
        display_name=text(record.get("name")) or " ".join(n for n in (first, last) if n) or None,
        first_name=first,
        last_name=last,
        phones=raw_phones(numbers),
        phone_numbers=numbers,
        alias=text(record.get("userName")),
        external_ids=[ExternalId(EMPLOYEE_ID, employee)] if employee is not None else [],
        raw=dict(record),
    )


def pushdown(flt: ContactFilter) -> dict[str, str]:
    """Attribute filters the vendor applies without losing a record the gateway would keep: only
    the type (from one wanted kind), which the document shows matching without case
    (`type=custom` finds "Custom"). It says nothing of case for names or the employee id (the
    gateway ignores case in names), and the phone number is free text: those are applied by the
    gateway to the whole list."""
    params: dict[str, str] = {}
    if flt.kinds is not None:
        wanted = [VENDOR_TYPE[k] for k in flt.kinds if k in VENDOR_TYPE]
        if len(wanted) == 1 and ContactKind.PERSON not in flt.kinds:
            params["type"] = wanted[0]
    return params


def write_problems(changes: ContactChanges, backend: str, region: str) -> dict[str, str]:
    """Everything wrong with a write of a Custom contact, before any call."""
    problems = validation.phone_problems(changes, region)
    for name, why in validation.unsupported_fields(changes, WRITABLE, backend).items():
        problems[name] = f"{why} ({STORED})"
    if len(changes.get("phones") or []) > 1:
        problems["phones"] = "Genesys stores one phoneNumber per contact"
    return problems


def custom_body(current: Mapping[str, Any], changes: ContactChanges) -> dict[str, Any]:
    """The whole Custom record to PUT: the attributes the document makes writable (`name`,
    `phoneNumber`; `type` is GET-only), current values with the changes applied. A phone that is
    absent or cleared is left out rather than sent as null: PUT replaces the record."""
    body: dict[str, Any] = {"name": text(current.get("name"))}
    phone = text(current.get("phoneNumber"))
    if changes.has("display_name"):
        body["name"] = text(changes.get("display_name"))
    if changes.has("phones"):
        phone = text((changes.get("phones") or [None])[0])
    if phone is not None:
        body["phoneNumber"] = phone
    return body


def create_body(changes: ContactChanges) -> dict[str, Any]:
    """A new Custom contact, shaped like the document's own POST example (which names the type)."""
    return {**custom_body({}, changes), "type": VENDOR_TYPE[ContactKind.CUSTOM]}


# ---------------------------------------------------------------------------- the backend


class GenesysBackend(WholeListBackend):
    list_path = LIST_PATH
    # The records are under `contacts`; the envelope's status says whether the answer is a failure.
    list_shape = ListShape(f"{CONTACTS_KEY}.item", (STATUS_KEY, STATUS_MESSAGE_KEY))
    vendor = VENDOR
    mapper = staticmethod(to_contact)
    # What `pushdown` sends: the type, from one wanted kind.
    pushed_fields = frozenset({"kinds"})
    settings_model = GenesysSettings
    # The document types `id` as a free String (its own example is "Some unique id"): anything but
    # control characters, percent-encoded in paths (dot segments are refused by the base).
    native_id_pattern = FREE_ID
    capabilities = frozenset({Capability.READ, Capability.CREATE, Capability.UPDATE, Capability.DELETE})
    write_notes = ("writes only kind CUSTOM (name, phoneNumber); queues and users are read-only",)
    kinds = frozenset({ContactKind.CUSTOM, ContactKind.QUEUE, ContactKind.USER, ContactKind.PERSON})
    writable_kinds = frozenset({ContactKind.CUSTOM})
    settings: GenesysSettings

    def auth_headers(self) -> dict[str, str]:
        if self.settings.token is not None:
            return bearer_auth(self.settings.token.get_secret_value())
        if self.settings.username is not None and self.settings.password is not None:
            return basic_auth(self.settings.username, self.settings.password.get_secret_value())
        return {}

    def check_payload(self, payload: Any) -> None:
        """A GWS envelope with a non-zero statusCode is a failure, whatever the HTTP status said."""
        if not isinstance(payload, Mapping):
            return
        status = envelope_status(payload.get(STATUS_KEY))
        if status == 0:
            return
        message = text(payload.get(STATUS_MESSAGE_KEY)) or errors.vendor_message(payload)
        said = (f": {message}" if message else "") + f" (GWS statusCode {status})"
        name = self.name
        if status == STATUS_NOT_FOUND:
            raise errors.NotFound(f"backend '{name}' has no such record{said}", backend=name)
        if status == STATUS_UNAUTHENTICATED:
            raise errors.BackendUnauthorized(f"backend '{name}' refused the gateway's credentials{said}", backend=name)
        if status in STATUS_FORBIDDEN:
            raise errors.Forbidden(f"backend '{name}' forbids this operation{said}", backend=name)
        if status in STATUS_BAD_INPUT:
            raise errors.BadUserInput(f"backend '{name}' rejected the input{said}", backend=name)
        if status == STATUS_CONFLICT:
            raise errors.Conflict(f"backend '{name}' reports a conflict{said}", backend=name)
        raise errors.BackendUnavailable(
            f"backend '{name}' reported a failure{said}", backend=name, details={"statusCode": status}
        )

    def could_match(self, flt: ContactFilter) -> bool:
        # GWS contacts have no email and no company: such a filter can match nothing here.
        return super().could_match(flt) and flt.email is None and flt.company is None

    async def fetch_records(self, flt: ContactFilter, *, fresh: bool = False) -> list[Mapping[str, Any]]:
        return self.expect_list(await self.read(LIST_PATH, pushdown(flt), fresh=fresh), CONTACTS_KEY)

    async def get(self, native_id: str) -> Contact | None:
        record = await self._record(native_id)
        return None if record is None else self.map_one(record)

    async def _record(self, native_id: str, *, fresh: bool = False) -> Mapping[str, Any] | None:
        self.check_native_id(native_id)
        payload = await self.read_or_none(LIST_PATH, {"id": native_id}, fresh=fresh)
        if payload is None:  # "not found" as an envelope or HTTP 404 rather than an empty list
            return None
        records = self.expect_list(payload, CONTACTS_KEY)
        return next((r for r in records if text(r.get("id")) == native_id), None)

    async def create(self, changes: ContactChanges) -> Contact:
        problems = write_problems(changes, self.name, self.region)
        body = create_body(changes)
        if not body["name"]:
            problems["displayName"] = "Genesys requires a name: give displayName"
        validation.raise_if_any(problems, self.name)
        answer = self.expect_record(await self.write("POST", LIST_PATH, body))
        nested = answer.get(CREATED_KEY)
        created: Mapping[str, Any] = nested if isinstance(nested, Mapping) else answer
        if text(created.get("id")) is None:
            raise errors.bad_response(self.name, "the created contact has no id")
        return self.to_contact({**body, **{k: v for k, v in created.items() if k != STATUS_KEY}})

    async def update(self, native_id: str, changes: ContactChanges) -> Contact:
        """GWS has only PUT (full replacement): read, check it is Custom, apply the patch, PUT it all."""
        self.check_native_id(native_id)
        validation.raise_if_any(write_problems(changes, self.name, self.region), self.name)
        current = await self._writable(native_id, "update")
        body = custom_body(current, changes)
        if not body["name"]:
            validation.raise_if_any({"displayName": "Genesys requires a name: it cannot be cleared"}, self.name)
        await self.write("PUT", self.record_path(RECORD_PATH, native_id), body)
        kept = {k: v for k, v in current.items() if k != "phoneNumber"}
        return self.to_contact({**kept, **body})

    async def delete(self, native_id: str) -> None:
        await self._writable(native_id, "delete")
        await self.write("DELETE", self.record_path(RECORD_PATH, native_id))

    async def _writable(self, native_id: str, operation: str) -> Mapping[str, Any]:
        """The current record, when it is one this gateway may write (Custom); else a coded refusal."""
        record = await self._record(native_id, fresh=True)
        if record is None:
            raise self.no_such_contact(native_id)
        kind = kind_of(record)
        if kind is not ContactKind.CUSTOM:
            raise errors.NotSupported(
                f"backend '{self.name}' (genesys) cannot {operation} a {kind.value} contact;"
                " only CUSTOM contacts are writable (queues and users are read-only)",
                backend=self.name,
                details={"kind": kind.value, "writableKinds": ["CUSTOM"]},
            )
        return record
