"""Ringline contacts (a fictional vendor for the tests): `GET people[/{id}]` under its base URL,
authenticated by the `X-Ringline-Key` header.

String ids; the list is answered whole (`{"people": [...]}`), without filters or paging, so the
gateway filters and pages it. Read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import SecretStr

from gateway.backends.base import WholeListBackend
from gateway.backends.fields import PHONE_TYPE, flag, phone_numbers, raw_phones, text, texts
from gateway.config import BackendSettings
from gateway.model import Contact, ContactFilter, ContactKind

VENDOR = "ringline"
LIST_PATH = "people"
RECORD_PATH = "people/{id}"
LIST_KEY = "people"
HEADER_KEY = "X-Ringline-Key"


class RinglineSettings(BackendSettings):
    vendor: Literal["ringline"]
    api_key: SecretStr


def to_contact(record: Mapping[str, Any], backend: str) -> Contact:
    """Map one Ringline person into the unified shape."""
    first, last = text(record.get("given")), text(record.get("family"))
    numbers = phone_numbers((record.get("tel"), PHONE_TYPE, "tel"))
    return Contact(
        backend=backend,
        vendor=VENDOR,
        native_id=str(text(record.get("id"))),
        kind=ContactKind.PERSON,
        display_name=text(record.get("fullName")) or " ".join(texts(first, last)) or None,
        first_name=first,
        last_name=last,
        emails=texts(record.get("mail")),
        phones=raw_phones(numbers),
        phone_numbers=numbers,
        company=text(record.get("org")),
        disabled=flag(record.get("inactive")),
        raw=dict(record),
    )


class RinglineBackend(WholeListBackend):
    vendor = VENDOR
    settings_model = RinglineSettings
    mapper = staticmethod(to_contact)
    write_notes = ("Ringline is read-only",)
    kinds = frozenset({ContactKind.PERSON})
    writable_kinds = frozenset()
    settings: RinglineSettings

    def auth_headers(self) -> dict[str, str]:
        return {HEADER_KEY: self.settings.api_key.get_secret_value()}

    async def fetch_records(self, flt: ContactFilter, *, fresh: bool = False) -> list[Mapping[str, Any]]:
        return self.expect_list(await self.read(LIST_PATH, fresh=fresh), LIST_KEY)

    async def get(self, native_id: str) -> Contact | None:
        payload = await self.read_or_none(self.record_path(RECORD_PATH, native_id))
        return None if payload is None else self.map_record(payload)
