"""The GraphQL type of one phone number as a vendor keeps it (Contact.phoneNumbers)."""

from __future__ import annotations

import strawberry

from gateway import model
from gateway.distinct import shown_phone
from gateway.filtering import normalize_phone


@strawberry.type(description="One phone number of a contact, as the vendor keeps it and as the gateway reads it.")
class PhoneNumber:
    number: str = strawberry.field(
        description="The number as Contact.phones shows it: E.164 where it can be read, else as written."
    )
    e164: str | None = strawberry.field(
        description="The number in E.164 (region from server.default_region); null when it cannot be read."
    )
    raw: str = strawberry.field(description="The number exactly as the vendor wrote it.")
    type: str = strawberry.field(
        description="The kind of number: 'phone' for a plain phone field, else a Comm100 identity's channel "
        "as the vendor names it (e.g. 'WhatsApp')."
    )
    source: str = strawberry.field(
        description="The vendor field it came from: 'phone' (Comm100, MotionCX, AgentVoice), "
        "'phoneNumber' (Genesys) or 'contactIdentities' (a Comm100 identity)."
    )

    @classmethod
    def of(cls, number: model.PhoneNumber, region: str) -> PhoneNumber:
        return cls(
            number=shown_phone(number.raw, region),
            e164=normalize_phone(number.raw, region),
            raw=number.raw,
            type=number.type,
            source=number.source,
        )
