"""What a `ContactFilter` means, applied by the gateway itself so it means the same on every vendor.

Emails compare case-folded and trimmed; phones compare as E.164 (`phonenumbers`, with a default
region for numbers written without a country code); names and company compare case-insensitively;
`search` is a case-insensitive substring of names, company, alias or any email; `disabled: false`
keeps contacts of vendors without a disabled flag.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from gateway import errors
from gateway.model import Contact, ContactFilter, normalize_email

# Longer than any name, company or address a vendor stores (an email is at most 320): a longer
# value matches nothing, and would not fit in a vendor's request URL.
MAX_FILTER_TEXT = 320


# North American numbers written the common ways ("+1 415 555 0100", "(415) 555-0100",
# "415.555.0100"): their E.164 form is plain, and the index normalises one or two per contact,
# where phonenumbers' parse costs ~70 us each. A first national digit of 2-9 rules out the
# trunk prefix "1" that phonenumbers would strip. Anything else goes through phonenumbers.
_NANP_INTERNATIONAL = re.compile(r"\+1[ .-]?\(?([2-9]\d{2})\)?[ .-]?(\d{3})[ .-]?(\d{4})", re.ASCII)
_NANP_NATIONAL = re.compile(r"\(?([2-9]\d{2})\)?[ .-]?(\d{3})[ .-]?(\d{4})", re.ASCII)
_NANP_REGIONS = frozenset({"US", "CA"})


@lru_cache(maxsize=4096)
def normalize_phone(value: str, region: str = "US") -> str | None:
    """E.164 form of a phone number, or None when it cannot be read as one."""
    text = value.strip()
    if not text:
        return None
    plain = _NANP_INTERNATIONAL.fullmatch(text) or (_NANP_NATIONAL.fullmatch(text) if region in _NANP_REGIONS else None)
    if plain is not None:
        return "+1" + "".join(plain.groups())
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _same_text(a: str | None, b: str) -> bool:
    return a is not None and a.strip().casefold() == b.strip().casefold()


def search_haystack(contact: Contact) -> list[str | None]:
    """The texts `search` looks in (the live filter and the index read the same)."""
    return [
        contact.display_name,
        contact.first_name,
        contact.last_name,
        contact.company,
        contact.alias,
        *contact.emails,
    ]


def matches(contact: Contact, flt: ContactFilter, region: str = "US") -> bool:
    """True when `contact` satisfies every field of `flt`."""
    if flt.kinds is not None and contact.kind not in flt.kinds:
        return False
    if flt.disabled is not None and bool(contact.disabled) != flt.disabled:
        return False
    if flt.first_name is not None and not _same_text(contact.first_name, flt.first_name):
        return False
    if flt.last_name is not None and not _same_text(contact.last_name, flt.last_name):
        return False
    if flt.company is not None and not _same_text(contact.company, flt.company):
        return False
    if flt.email is not None:
        wanted = normalize_email(flt.email)
        if not any(normalize_email(e) == wanted for e in contact.emails):
            return False
    if flt.phone is not None:
        wanted_phone = normalize_phone(flt.phone, region)
        if wanted_phone is None:
            return False
        if not any(normalize_phone(p, region) == wanted_phone for p in contact.phones):
            return False
    if flt.external_id is not None:
        system, value = flt.external_id.system, flt.external_id.value
        if not any(
            (system is None or _same_text(x.system, system)) and (value is None or x.value == value)
            for x in contact.external_ids
        ):
            return False
    if flt.search is not None:
        needle = flt.search.strip().casefold()
        if needle and not any(h is not None and needle in h.casefold() for h in search_haystack(contact)):
            return False
    return True


def checked(flt: ContactFilter) -> ContactFilter:
    """`flt`, or BAD_USER_INPUT naming every text too long to mean anything (before any call)."""
    values = {
        "search": flt.search,
        "email": flt.email,
        "phone": flt.phone,
        "firstName": flt.first_name,
        "lastName": flt.last_name,
        "company": flt.company,
        "externalId.system": flt.external_id.system if flt.external_id else None,
        "externalId.value": flt.external_id.value if flt.external_id else None,
    }
    problems = {
        f"filter.{name}": f"longer than {MAX_FILTER_TEXT} characters"
        for name, value in values.items()
        if value is not None and len(value) > MAX_FILTER_TEXT
    }
    if problems:
        raise errors.BadUserInput("the filter has values too long to match anything", fields=problems)
    return flt
