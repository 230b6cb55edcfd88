"""Walking a vendor's pages by the next-page URLs it returns, with the guards that keep a walk
finite: the URL stays on the configured base URL's origin and path, no page is asked for twice, the
page index always advances, an empty page may not claim more, and at most `max_pages` pages are read.

Pure bookkeeping, no I/O: the backend reads each page and reports a broken guard as the vendor's
bad answer (BACKEND_BAD_RESPONSE).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx


class PagingError(Exception):
    """A page walk cannot go on; `reason` is a stable code for the error's extensions."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One page to read: a path relative to the backend's base URL, its parameters, its index."""

    path: str
    params: Mapping[str, str]
    index: int

    def key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        """What makes two requests the same page, whatever the order of the parameters."""
        return self.path, tuple(sorted(self.params.items()))


@dataclass(slots=True)
class PageWalk:
    """The pages of one walk so far, starting at `first`."""

    base_url: str
    index_param: str
    max_pages: int
    first: PageRequest
    pages_read: int = 0
    _seen: set[tuple[str, tuple[tuple[str, str], ...]]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._seen.add(self.first.key())

    def reading(self) -> None:
        """Count a page about to be read; refuse one past the cap."""
        if self.pages_read >= self.max_pages:
            raise PagingError(f"the list goes on past {self.max_pages} pages (max_pages)", "PAGE_CAP")
        self.pages_read += 1

    def follow(self, next_page: Any, current: PageRequest, records_on_page: int) -> PageRequest | None:
        """The page `next_page` names after `current`, or None at the end of the list."""
        if next_page is None or (isinstance(next_page, str) and not next_page.strip()):
            return None
        if records_on_page == 0:
            raise PagingError("an empty page claims there is a next page", "EMPTY_PAGE_WITH_MORE")
        following = self._request_for(next_page)
        if following.key() in self._seen:
            raise PagingError("nextPage names a page already read", "PAGE_REPEATED")
        if following.index <= current.index:
            raise PagingError(
                f"nextPage does not advance ({self.index_param} {following.index} after {current.index})",
                "PAGE_INDEX_NOT_ADVANCING",
            )
        self._seen.add(following.key())
        return following

    def _request_for(self, next_page: Any) -> PageRequest:
        if not isinstance(next_page, str):
            raise PagingError("nextPage is not a URL", "NEXT_PAGE_INVALID")
        try:
            url = httpx.URL(next_page.strip())
        except httpx.InvalidURL:
            raise PagingError("nextPage is not a URL", "NEXT_PAGE_INVALID") from None
        base = httpx.URL(self.base_url)
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            # Following it would send this backend's credentials to someone else.
            raise PagingError("nextPage points outside the backend's configured origin", "NEXT_PAGE_FOREIGN")
        prefix = base.path.rstrip("/") + "/"
        if not url.path.startswith(prefix) or url.path == prefix:
            raise PagingError("nextPage points outside the backend's base URL", "NEXT_PAGE_FOREIGN")
        params = dict(url.params.multi_items())
        index = params.get(self.index_param, "")
        if not index.isdigit():
            raise PagingError(f"nextPage names no {self.index_param}", "NEXT_PAGE_INVALID")
        return PageRequest(url.path[len(prefix) :], params, int(index))
