"""A `ContactFilter` as a WHERE clause over the index, meaning exactly what
`gateway.filtering.matches` means (the live path's filter), so both paths agree."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, false, func, select, true

from gateway.filtering import normalize_phone
from gateway.index import records
from gateway.index.tables import contacts, keys
from gateway.model import ContactFilter, normalize_email


def _escaped(text: str) -> str:
    """`text` as a LIKE pattern that matches itself only."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _has_key(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(select(keys.c.key).where(keys.c.contact_id == contacts.c.id, condition))


def matching(flt: ContactFilter, region: str) -> ColumnElement[bool]:
    """Rows of `index_contacts` that satisfy every field of `flt`."""
    clauses: list[ColumnElement[bool]] = []
    if flt.kinds is not None:
        clauses.append(contacts.c.kind.in_(sorted(k.value for k in flt.kinds)))
    if flt.disabled is not None:
        clauses.append(func.coalesce(contacts.c.disabled, false()) == flt.disabled)
    for wanted, column in (
        (flt.first_name, contacts.c.first_name_key),
        (flt.last_name, contacts.c.last_name_key),
        (flt.company, contacts.c.company_key),
    ):
        if wanted is not None:
            clauses.append(column == records.folded(wanted))
    if flt.email is not None:
        clauses.append(_has_key(keys.c.key == records.email_key(normalize_email(flt.email))))
    if flt.phone is not None:
        e164 = normalize_phone(flt.phone, region)
        clauses.append(false() if e164 is None else _has_key(keys.c.key == records.phone_key(e164)))
    if flt.external_id is not None:
        system, value = flt.external_id.system, flt.external_id.value
        if system is not None and value is not None:
            clauses.append(_has_key(keys.c.key == records.external_key(system, value)))
        elif system is not None:
            prefix = _escaped(records.external_key(system, ""))
            clauses.append(_has_key(keys.c.key.like(prefix + "%", escape="\\")))
        elif value is not None:
            clauses.append(_has_key(keys.c.key.like("ext:%:" + _escaped(value), escape="\\")))
        else:
            clauses.append(_has_key(keys.c.key.like("ext:%")))
    if flt.search is not None and flt.search.strip():
        needle = _escaped(flt.search.strip().casefold())
        clauses.append(contacts.c.search_text.like("%" + needle + "%", escape="\\"))
    return and_(true(), *clauses)


def listed(flt: ContactFilter, include_merged: bool) -> ColumnElement[bool]:
    """What a list shows, as `HttpBackend.listed` decides: merged-away records only with
    `include_merged`, or under a filter (the resolver then puts their survivor in their place)."""
    if include_merged or not flt.is_empty():
        return true()
    return contacts.c.merged_into.is_(None)
