"""The paging loop the paged JSON APIs share (SDG, UCDP): a page limit, each record checked to be
an object and named for errors, and the records received checked against the count the source
announced on its first page, so a listing that changed or lost pages while being read fails
instead of loading partly.

How a page is asked for, where its records and count are, and whether another page follows
differ by API: each connector's ``fetch`` answers that for one page number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from earlywarn.ingest.errors import RemoteSourceError


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Page:
    """One page as its connector read it. ``what`` names the page in errors ("S page 3");
    ``total`` is the listing's announced size (the first page's counts); ``more`` says another
    page follows; ``follow`` runs after the page's records were handed on and before the next
    page is asked for (checks of the link to it, which the API reports after the records)."""

    what: str
    records: list[Any]
    total: int
    more: bool
    follow: Callable[[], None] = _nothing


@dataclass(frozen=True)
class Listing:
    """What the errors say: ``label`` the API, ``subject`` the listing (a series, a release),
    ``record`` what one record is called ("row", "event")."""

    label: str
    subject: str
    record: str
    max_pages: int


def walk_pages(
    listing: Listing,
    fetch: Callable[[int], Page],
    report: Callable[[int, int, int], None],
    mismatch: Callable[[int, int], str],
) -> Iterator[tuple[dict[str, Any], str]]:
    """Each record of pages 1, 2, ... with where it came from. ``report(page, received,
    total)`` after each page is read; ``mismatch(received, total)`` is the error when the
    counts differ at the end."""
    total: int | None = None
    received = 0
    number = 0
    while True:
        number += 1
        if number > listing.max_pages:
            raise RemoteSourceError(
                f"{listing.label}, {listing.subject}: more than {listing.max_pages} pages; stopping"
            )
        page = fetch(number)
        if total is None:
            total = page.total
        report(number, received + len(page.records), total)
        for position, record in enumerate(page.records, start=1):
            where = f"{listing.label}, {page.what} {listing.record} {position}"
            if not isinstance(record, dict):
                raise RemoteSourceError(f"{where}: not an object")
            yield record, where
        received += len(page.records)
        if not page.more:
            break
        page.follow()
    if received != total:
        raise RemoteSourceError(mismatch(received, total))
