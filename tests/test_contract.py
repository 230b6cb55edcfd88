"""One contract, every vendor: the same questions asked of each adapter against its simulator.

Filters are checked against an oracle: the gateway's own filter over the vendor's whole list. A
backend that pushes a filter down must return exactly what the oracle keeps, so pushdown can
never lose a record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr

from gateway import errors
from gateway.backends.base import HttpBackend
from gateway.backends.registry import VENDORS
from gateway.filtering import matches
from gateway.model import Contact, ContactFilter, ContactKind, ExternalIdFilter
from gateway.simulators.common import Fault
from gateway.simulators.registry import DEMO_BACKENDS, DemoBackend, Simulator
from tests.conftest import build_backend

EVERYTHING = 100_000
CANDIDATE_UNKNOWN_IDS = ("00000000-0000-4000-8000-0000000000ff", "987654321", "no-such-contact-id")


@dataclass
class Subject:
    demo: DemoBackend
    sim: Simulator
    backend: HttpBackend
    make: Callable[..., HttpBackend]

    async def everything(self) -> list[Contact]:
        return list((await self.backend.scan(ContactFilter(), None, EVERYTHING, include_merged=True)).contacts)


@pytest.fixture(params=DEMO_BACKENDS, ids=lambda d: d.name)
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    demo: DemoBackend = request.param
    sim = demo.make()
    made: list[HttpBackend] = []

    def make(**changes: Any) -> HttpBackend:
        backend = build_backend(demo, sim, retries=0, **changes)
        made.append(backend)
        return backend

    yield Subject(demo, sim, make(), make)
    for backend in made:
        await backend.aclose()


async def test_list_returns_every_record_mapped(subject: Subject) -> None:
    contacts = await subject.everything()
    assert len(contacts) >= 20
    assert len({c.id for c in contacts}) == len(contacts)
    assert all(c.backend == subject.demo.name and c.vendor == subject.backend.vendor for c in contacts)
    assert all(c.raw for c in contacts)


async def test_get_by_id_matches_the_listed_record(subject: Subject) -> None:
    for listed in (await subject.everything())[:5]:
        fetched = await subject.backend.get(listed.native_id)
        assert fetched is not None
        assert (fetched.id, fetched.display_name, fetched.emails, fetched.kind) == (
            listed.id,
            listed.display_name,
            listed.emails,
            listed.kind,
        )


async def test_unknown_id_is_none(subject: Subject) -> None:
    known = {c.native_id for c in await subject.everything()}
    pattern = subject.backend.native_id_pattern
    unknown = next(i for i in CANDIDATE_UNKNOWN_IDS if pattern.match(i) and i not in known)
    assert await subject.backend.get(unknown) is None


def filters_for(contacts: list[Contact]) -> list[ContactFilter]:
    """Filters built from the data itself, written the way a client might (other case, format)."""
    found: list[ContactFilter] = []
    with_email = next((c for c in contacts if c.emails), None)
    if with_email:
        found.append(ContactFilter(email=f"  {with_email.emails[0].upper()} "))
        local = with_email.emails[0].split("@")[0]
        found.append(ContactFilter(search=local[: max(3, len(local) // 2)].upper()))
    with_phone = next((c for c in contacts if c.phones), None)
    if with_phone:
        digits = "".join(ch for ch in with_phone.phones[0] if ch.isdigit())
        found.append(ContactFilter(phone=digits[-10:]))
    with_first = next((c for c in contacts if c.first_name), None)
    if with_first:
        found.append(ContactFilter(first_name=with_first.first_name.lower()))  # type: ignore[union-attr]
    with_last = next((c for c in contacts if c.last_name), None)
    if with_last:
        found.append(ContactFilter(last_name=with_last.last_name.upper()))  # type: ignore[union-attr]
    with_company = next((c for c in contacts if c.company), None)
    if with_company:
        found.append(ContactFilter(company=with_company.company.swapcase()))  # type: ignore[union-attr]
    for kind in {c.kind for c in contacts}:
        found.append(ContactFilter(kinds=frozenset({kind})))
    found.append(ContactFilter(disabled=False))
    if any(c.disabled for c in contacts):
        found.append(ContactFilter(disabled=True))
    with_ext = next((c for c in contacts if c.external_ids), None)
    if with_ext:
        ext = with_ext.external_ids[0]
        found.append(ContactFilter(external_id=ExternalIdFilter(ext.system.upper(), ext.value)))
        found.append(ContactFilter(external_id=ExternalIdFilter(None, ext.value)))
    if with_email and with_first:
        found.append(ContactFilter(first_name=with_email.first_name, email=with_email.emails[0]))
    return found


async def test_every_filter_means_the_same_as_the_gateways_own(subject: Subject) -> None:
    everything = await subject.everything()
    region = subject.backend.region
    for flt in filters_for(everything):
        expected = [c.id for c in everything if matches(c, flt, region)]
        assert expected, f"the filter {flt} should match something in the sample data"
        got = await subject.backend.scan(flt, None, EVERYTHING, include_merged=True)
        assert [c.id for c in got.contacts] == expected, flt


async def test_filter_on_a_kind_the_vendor_lacks_makes_no_call(subject: Subject) -> None:
    missing = [k for k in ContactKind if k not in subject.backend.kinds]
    if not missing:
        pytest.skip("this vendor can hold every kind")
    subject.sim.state.reset()
    result = await subject.backend.scan(ContactFilter(kinds=frozenset(missing)), None, 10)
    assert result.contacts == [] and subject.sim.state.calls == []


async def test_wrong_credentials_are_backend_unauthorized(subject: Subject) -> None:
    settings = subject.backend.settings
    wrong = {
        name: SecretStr("wrong-credential")
        for name in type(settings).model_fields
        if isinstance(getattr(settings, name), SecretStr)
    }
    backend = subject.make(**wrong)
    with pytest.raises(errors.BackendUnauthorized) as caught:
        await backend.scan(ContactFilter(), None, 5)
    assert caught.value.backend == subject.demo.name
    assert "wrong-credential" not in str(caught.value.extensions()) + caught.value.message


async def test_server_error_is_backend_unavailable(subject: Subject) -> None:
    subject.sim.state.inject(Fault("status", status=503))
    with pytest.raises(errors.BackendUnavailable):
        await subject.backend.scan(ContactFilter(), None, 5)


async def test_timeout_is_backend_timeout(subject: Subject) -> None:
    backend = subject.make(timeout_s=0.2)
    subject.sim.state.inject(Fault("hang"))
    with pytest.raises(errors.BackendTimeout):
        await backend.scan(ContactFilter(), None, 5)


async def test_undecodable_body_is_backend_bad_response(subject: Subject) -> None:
    subject.sim.state.inject(Fault("garbage"))
    with pytest.raises(errors.BackendBadResponse):
        await subject.backend.scan(ContactFilter(), None, 5)


async def test_json_of_the_wrong_shape_is_backend_bad_response(subject: Subject) -> None:
    subject.sim.state.inject(Fault("garbage", body=b'"just a string"'))
    with pytest.raises(errors.BackendBadResponse):
        await subject.backend.scan(ContactFilter(), None, 5)


ODD_RECORDS: list[dict[str, Any]] = [
    {"id": "odd-1"},
    {"id": 42, "name": None, "email": 7, "phone": ["+14155550100", None], "createdAt": "not a date"},
    {"id": "odd-3", "first_name": {"x": 1}, "firstName": [], "type": 3, "isAgent": "maybe", "crm_id": 5},
    {"id": "odd-4", "contactIdentities": [None, 1, {"contactIdentityType": None}], "displayName": [{"id": 1}]},
]


@pytest.mark.parametrize("demo", DEMO_BACKENDS, ids=lambda d: d.name)
def test_odd_records_map_without_crashing(demo: DemoBackend) -> None:
    mapper = VENDORS[demo.vendor].mapper
    for record in ODD_RECORDS:
        contact = mapper(record, demo.name)
        assert contact.native_id == str(record["id"])
        assert contact.raw == record
