"""Comm100 paging by the vendor's own `nextPage` URLs, and the guards that end a broken walk with a
coded error instead of a loop (issue 16 item 4, issue 17)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from gateway import errors
from gateway.backends.comm100 import Comm100Settings
from gateway.backends.paging import PageRequest, PageWalk, PagingError
from gateway.model import ContactFilter
from gateway.simulators import comm100
from tests.conftest import BackendFactory, Harness

pytestmark = pytest.mark.vendor("comm100", retries=0)

BASE = "https://api15.comm100.io/v4"
LIST = "/v4/global/contacts"
FIRST = PageRequest("global/contacts", {"pageIndex": "1", "pageSize": "10"}, 1)


def walk(max_pages: int = 1000) -> PageWalk:
    return PageWalk(BASE, "pageIndex", max_pages, FIRST)


# ---------------------------------------------------------------------------- the guards, pure


def test_a_next_page_on_the_same_origin_is_followed_as_given() -> None:
    following = walk().follow(f"{BASE}/global/contacts?pageSize=10&pageIndex=2&cursor=x", FIRST, 10)
    assert following == PageRequest("global/contacts", {"pageSize": "10", "pageIndex": "2", "cursor": "x"}, 2)


@pytest.mark.parametrize("end", [None, "", "  "])
def test_no_next_page_ends_the_walk(end: str | None) -> None:
    assert walk().follow(end, FIRST, 10) is None


BROKEN = {
    "another host": ("https://evil.example/v4/global/contacts?pageIndex=2", "NEXT_PAGE_FOREIGN"),
    "another scheme": ("http://api15.comm100.io/v4/global/contacts?pageIndex=2", "NEXT_PAGE_FOREIGN"),
    "another port": ("https://api15.comm100.io:8443/v4/global/contacts?pageIndex=2", "NEXT_PAGE_FOREIGN"),
    "outside the base path": ("https://api15.comm100.io/v5/global/contacts?pageIndex=2", "NEXT_PAGE_FOREIGN"),
    "the same page": (f"{BASE}/global/contacts?pageSize=10&pageIndex=1", "PAGE_REPEATED"),
    "an index going back": (f"{BASE}/global/contacts?pageSize=20&pageIndex=1", "PAGE_INDEX_NOT_ADVANCING"),
    "no index": (f"{BASE}/global/contacts?pageSize=10", "NEXT_PAGE_INVALID"),
    "not text": (42, "NEXT_PAGE_INVALID"),
    "not a URL": ("http://[::1", "NEXT_PAGE_INVALID"),
}


@pytest.mark.parametrize(("next_page", "reason"), BROKEN.values(), ids=BROKEN.keys())
def test_a_next_page_that_cannot_be_trusted_ends_the_walk(next_page: Any, reason: str) -> None:
    with pytest.raises(PagingError) as caught:
        walk().follow(next_page, FIRST, 10)
    assert caught.value.reason == reason


def test_an_empty_page_may_not_claim_more() -> None:
    with pytest.raises(PagingError) as caught:
        walk().follow(f"{BASE}/global/contacts?pageIndex=2", FIRST, 0)
    assert caught.value.reason == "EMPTY_PAGE_WITH_MORE"


def test_the_page_cap_counts_every_page_read() -> None:
    capped = walk(max_pages=3)
    for _ in range(3):
        capped.reading()
    with pytest.raises(PagingError) as caught:
        capped.reading()
    assert caught.value.reason == "PAGE_CAP"


# ---------------------------------------------------------------------------- against the simulator


async def test_every_page_after_the_first_is_the_vendors_next_page_url(
    make_backend: BackendFactory,
) -> None:
    """A vendor whose nextPage carries its own parameters (a continuation token) is followed as is."""
    asked: list[httpx.URL] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        index = int(request.url.params["pageIndex"])
        record = {"id": comm100.guid(f"paged-{index}"), "name": f"Page {index}"}
        on_the_same_base = request.url.copy_with(params={"pageIndex": index + 1, "token": f"t{index}"})
        following = str(on_the_same_base) if index < 3 else None
        return httpx.Response(200, json={"contacts": [record], "nextPage": following, "total": 3})

    backend = make_backend(transport=httpx.MockTransport(vendor))
    result = await backend.scan(ContactFilter(), None, 100)
    assert [c.display_name for c in result.contacts] == ["Page 1", "Page 2", "Page 3"]
    assert [dict(u.params) for u in asked[1:]] == [{"pageIndex": "2", "token": "t1"}, {"pageIndex": "3", "token": "t2"}]
    # A cursor names the page index the vendor gave: resuming asks for that page.
    rest = await backend.scan(ContactFilter(), result.after[1], 100)
    assert [c.display_name for c in rest.contacts] == ["Page 3"]


MODES = {
    "same-url": "PAGE_REPEATED",
    "stuck-index": "PAGE_INDEX_NOT_ADVANCING",
    "empty-with-more": "EMPTY_PAGE_WITH_MORE",
    "foreign-origin": "NEXT_PAGE_FOREIGN",
}


@pytest.mark.parametrize(("mode", "reason"), MODES.items(), ids=MODES.keys())
async def test_a_broken_next_page_is_a_bad_response_after_one_call(
    make_backend: BackendFactory, mode: comm100.PagingMode, reason: str
) -> None:
    sim = comm100.Comm100Simulator(paging=mode)
    backend = make_backend(sim, page_size=10)
    with pytest.raises(errors.BackendBadResponse) as caught:
        await backend.scan(ContactFilter(search="example"), None, 1000)
    assert caught.value.details["reason"] == reason and caught.value.backend == "support"
    assert sim.state.count("GET", LIST) == 1


async def test_endless_pages_stop_at_max_pages(make_backend: BackendFactory) -> None:
    sim = comm100.Comm100Simulator(paging="endless")
    backend = make_backend(sim, page_size=10, max_pages=7)
    with pytest.raises(errors.BackendBadResponse) as caught:
        await backend.scan(ContactFilter(search="no such person anywhere"), None, 10)
    assert caught.value.details["reason"] == "PAGE_CAP"
    assert sim.state.count("GET", LIST) == 7


def test_max_pages_defaults_to_a_sane_cap() -> None:
    settings = Comm100Settings.model_validate(comm100.demo_backend_settings("http://comm100.test"))
    assert settings.max_pages == 1000


# ---------------------------------------------------------------------------- through the gateway

QUERY = '{ contacts(first: 5, filter: {search: "nobody at all"}) { edges { node { id } } } }'


@pytest.mark.parametrize("mode", ["same-url", "endless"])
@pytest.mark.parametrize("ttl_s", [60, 0], ids=["cached", "ttl 0"])
async def test_a_looping_vendor_ends_the_request_promptly_with_a_coded_error(
    make_custom: Callable[..., Harness], mode: comm100.PagingMode, ttl_s: float
) -> None:
    sim = comm100.Comm100Simulator(paging=mode)
    settings = {**comm100.demo_backend_settings("http://comm100.test"), "ttl_s": ttl_s, "max_pages": 20}
    harness = make_custom({"support": (sim, settings)}, server={"deadline_s": 8})
    for _ in range(2):  # the second time, whatever the first left in the cache
        started = time.monotonic()
        answer = await harness.run(QUERY)
        assert time.monotonic() - started < 2.0
        error = answer["errors"][0]
        assert error["extensions"]["code"] == "BACKEND_BAD_RESPONSE", orjson.dumps(answer)
        assert error["extensions"]["backend"] == "support"
        assert error["extensions"]["reason"] == {"same-url": "PAGE_REPEATED", "endless": "PAGE_CAP"}[mode]
    assert sim.state.count("GET", LIST) <= 2 * 20


@pytest.mark.parametrize(("first", "pages"), [(1, 1), (4, 2), (5, 2), (8, 2), (9, 3), (10, 3), (24, 5), (30, 5)])
async def test_a_list_reads_only_the_pages_its_answer_needs(
    make_backend: BackendFactory, first: int, pages: int
) -> None:
    """`first` + 1 contacts (what the resolver asks for) and one more to know there is a next page:
    never a page past that, even when the next page is asked for early (while one is mapped)."""
    records: list[dict[str, Any]] = [
        {"id": comm100.guid(f"p-{k}"), "name": f"P {k}", "mergeToContactId": None, "contactIdentities": []}
        for k in range(25)
    ]
    sim = comm100.Comm100Simulator(records=records)
    backend = make_backend(sim, page_size=5)
    result = await backend.scan(ContactFilter(), None, first + 1)
    assert [c.display_name for c in result.contacts] == [f"P {k}" for k in range(min(first + 1, 25))]
    assert sim.state.count("GET") == pages


# ---------------------------------------------------------------------------- pages asked for at once


class IndexedVendor:
    """A Comm100 list of `size` records whose `nextPage` names the next page by index alone (or
    with a token, when `token`); each answer takes `delay_s`, and the most calls in flight at
    once is recorded."""

    def __init__(self, size: int, delay_s: float = 0.02, token: bool = False) -> None:
        self.size, self.delay_s, self.token = size, delay_s, token
        self.asked: list[int] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        index, size = int(request.url.params["pageIndex"]), int(request.url.params["pageSize"])
        self.asked.append(index)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        start = (index - 1) * size
        records = [
            {"id": comm100.guid(f"indexed-{n}"), "name": f"Contact {n}"}
            for n in range(start, min(start + size, self.size))
        ]
        more = start + size < self.size
        params = {"include": "contactIdentity", "pageSize": size, "pageIndex": index + 1}
        if self.token:
            params["token"] = f"t{index}"
        following = str(request.url.copy_with(params=params))
        return httpx.Response(
            200, json={"contacts": records, "nextPage": following if more else None, "total": self.size}
        )


async def test_the_pages_an_unfiltered_list_needs_are_asked_for_at_once(
    make_backend: BackendFactory,
) -> None:
    """1,000 contacts in pages of 100: after the first page (which gives the total), the other
    nine are asked for together; then, the vendor having shown index paging, all ten at once.
    No page beyond what the request and its hasNextPage need."""
    vendor = IndexedVendor(1200)
    backend = make_backend(transport=httpx.MockTransport(vendor), page_size=100)
    first = await backend.scan(ContactFilter(), None, 1000)
    assert len(first.contacts) == 1000
    assert first.contacts[-1].display_name == "Contact 999"
    assert sorted(vendor.asked) == [*range(1, 10 + 1), 11]  # page 11 holds the 1,001st: a next page
    assert vendor.most_in_flight >= 8
    vendor.asked.clear()
    vendor.most_in_flight = 0
    again = await backend.scan(ContactFilter(), None, 250)
    assert [c.display_name for c in again.contacts] == [f"Contact {n}" for n in range(250)]
    assert sorted(vendor.asked) == [1, 2, 3]
    assert vendor.most_in_flight == 3


async def test_a_short_list_costs_at_most_a_few_empty_answers(make_backend: BackendFactory) -> None:
    vendor = IndexedVendor(150)
    backend = make_backend(transport=httpx.MockTransport(vendor), page_size=100)
    await backend.scan(ContactFilter(), None, 10)  # learns that pages are named by index
    vendor.asked.clear()
    result = await backend.scan(ContactFilter(), None, 1000)
    assert len(result.contacts) == 150
    assert result.total == 150
    assert len(vendor.asked) <= 8


async def test_a_vendor_paging_with_tokens_is_read_one_page_ahead_only(
    make_backend: BackendFactory,
) -> None:
    vendor = IndexedVendor(500, token=True)
    backend = make_backend(transport=httpx.MockTransport(vendor), page_size=100)
    for _ in range(2):
        vendor.asked.clear()
        result = await backend.scan(ContactFilter(), None, 450)
        assert len(result.contacts) == 450
        assert vendor.asked == [1, 2, 3, 4, 5]  # each page once, in order, none named by us
        assert vendor.most_in_flight == 1


@pytest.mark.parametrize(("size", "next_page"), [(1200, True), (1000, False)])
async def test_a_counted_list_reads_no_page_only_to_prove_a_next_one(
    make_custom: Callable[..., Harness], size: int, next_page: bool
) -> None:
    """With merged records included every record is listed and Comm100's `total` counts them all:
    1,000 contacts in pages of 100 are ten pages, the count proving (or not) that more follow,
    and the next page starts right after the last edge."""
    records = [{"id": comm100.guid(f"c-{n}"), "name": f"C {n}", "contactIdentities": []} for n in range(size)]
    sim = comm100.Comm100Simulator(records=records)
    settings = {**comm100.demo_backend_settings("https://support.test"), "page_size": 100, "retries": 0}
    harness = make_custom({"support": (sim, settings)}, server={"max_page_size": 1000}, cache={"ttl_s": 0})
    query = """query($after: String, $first: Int!) {
      contacts(first: $first, after: $after, includeMerged: true) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { displayName } } } }"""
    for _ in range(2):  # the second time the vendor is known to page by index: pages asked at once
        sim.state.reset()
        page = (await harness.run(query, {"first": 1000}))["data"]["contacts"]
        assert [e["node"]["displayName"] for e in page["edges"]] == [f"C {n}" for n in range(1000)]
        assert page["pageInfo"]["hasNextPage"] is next_page
        assert page["totalCount"] == size
        assert harness.calls("support") == 10
    rest = (await harness.run(query, {"first": 5, "after": page["pageInfo"]["endCursor"]}))["data"]["contacts"]
    assert [e["node"]["displayName"] for e in rest["edges"]] == [f"C {n}" for n in range(1000, min(size, 1005))]
    assert rest["pageInfo"]["hasNextPage"] is (size > 1005)
