"""One snapshot listing over several sites: a cross-site page and a status per site.

A de.NBI user has a project on several compute centers; :func:`federated_page` shows their
snapshots side by side. It knows no client: it gets ``fetch(site, query)``, which answers one
site's page as that site's listing does (one Glance request per page, or its loaded index).

Paging across sites, exactly:

- Cross-site page N with ``per_page`` P and sort S is page N of **every** site (each asked for
  P snapshots sorted by S, with the same filter), merged and sorted by S. A page therefore holds
  up to P × (number of sites) rows, at most P of them from one site.
- Each site goes on from where its own page N ended: its client remembers the marker that
  starts its page N+1, so page N+1 costs one request per site, never a walk. A site whose
  pages have ended adds no rows (its status says so); :attr:`FederatedPage.has_next` is true
  while any site that answered has a next page.
- The order holds within a page and, across pages, within a site; it does not hold between
  sites across pages (site A's page 2 may hold a newer snapshot than site B's page 1). The
  exact global order would cost every page before N from every site.
- :attr:`FederatedPage.total` is the sum of the sites' totals when every site knows its total.

Sites are asked in parallel, one daemon thread each, and the page waits at most ``timeout``
seconds: a site that has not answered by then is :attr:`SiteState.LOADING` ("still loading"),
one that failed is :attr:`SiteState.FAILED` with the words of its error ("bielefeld: 503
Service Unavailable"); neither keeps the other sites' rows from being shown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus

from denbi_jupyter.cloud.index import sort_snapshots, validate_query
from denbi_jupyter.cloud.types import Page, Snapshot, SnapshotQuery
from denbi_jupyter.errors import DenbiError, UserInputError

__all__ = [
    "FederatedPage",
    "SiteFetch",
    "SiteSnapshot",
    "SiteState",
    "SiteStatus",
    "federated_page",
    "merge_pages",
    "site_status",
]

#: One site's page for a query: ``fetch(site, query)``; raises our errors.
SiteFetch = Callable[[str, SnapshotQuery], Page[Snapshot]]
#: What one site gave: its page, the error it raised, or None while it has not answered.
SiteResult = Page[Snapshot] | BaseException | None


class SiteState(StrEnum):
    """How one site's part of a cross-site page went."""

    OK = "ok"
    FAILED = "failed"
    LOADING = "still loading"


@dataclass(frozen=True, slots=True)
class SiteSnapshot:
    """A snapshot and the site it lives on (a row of the cross-site view)."""

    site: str
    snapshot: Snapshot

    @property
    def key(self) -> str:
        """A key unique across sites: ``site/id``."""
        return f"{self.site}/{self.snapshot.id}"


@dataclass(frozen=True, slots=True)
class SiteStatus:
    """One site's part of a cross-site page.

    Attributes:
        site: The site's ``clouds.yaml`` entry.
        state: Answered, failed, or still loading.
        rows: Rows the site gave for this page.
        has_next: The site has a next page.
        total: The site's number of matching snapshots, when known.
        message: Why it failed (the error's own words), else "".
        status: The HTTP status of the failure, when the cloud answered.
    """

    site: str
    state: SiteState
    rows: int = 0
    has_next: bool = False
    total: int | None = None
    message: str = ""
    status: int | None = None

    @property
    def text(self) -> str:
        """Short words: ``bielefeld: 12 shown``, ``bielefeld: 503 Service Unavailable``."""
        if self.state is SiteState.LOADING:
            return f"{self.site}: still loading"
        if self.state is SiteState.FAILED:
            if self.status is not None:
                return f"{self.site}: {self.status} {_phrase(self.status)}".rstrip()
            return f"{self.site}: {self.message or 'failed'}"
        more = ", more on the next page" if self.has_next else ""
        return f"{self.site}: {self.rows:,} shown{more}"


@dataclass(frozen=True, slots=True)
class FederatedPage:
    """One cross-site page: merged rows and how each site did (semantics: module docstring).

    Attributes:
        items: The rows of every site that answered, sorted by the query's order.
        page: 1-based page number (the same page number on every site).
        per_page: Rows asked for from each site.
        sites: One status per site asked, in the order asked.
        total: The sum of the sites' totals when every site answered with one, else None.
        has_next: Some site that answered has a next page.
    """

    items: tuple[SiteSnapshot, ...]
    page: int
    per_page: int
    sites: tuple[SiteStatus, ...]
    total: int | None
    has_next: bool

    @property
    def complete(self) -> bool:
        """Every site answered (none failed or is still loading)."""
        return all(status.state is SiteState.OK for status in self.sites)

    def status(self, site: str) -> SiteStatus | None:
        """The status of one site, or None when it was not asked."""
        return next((s for s in self.sites if s.site == site), None)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def site_status(site: str, result: SiteResult) -> SiteStatus:
    """The status of ``site`` from what it gave (a page, an error, or nothing yet)."""
    if result is None:
        return SiteStatus(site, SiteState.LOADING)
    if isinstance(result, BaseException):
        status = result.status if isinstance(result, DenbiError) else None
        message = str(result).strip() or type(result).__name__
        return SiteStatus(site, SiteState.FAILED, message=message, status=status)
    return SiteStatus(
        site, SiteState.OK, rows=len(result.items), has_next=result.has_next, total=result.total
    )


def merge_pages(query: SnapshotQuery, results: Mapping[str, SiteResult]) -> FederatedPage:
    """The cross-site page of ``query`` from each site's result (pure).

    Args:
        query: The query every site was asked (its page, per-page size and sort).
        results: Site name → its page, the error it raised, or None (not answered yet), in
            the order the sites are shown.
    """
    statuses = tuple(site_status(site, result) for site, result in results.items())
    by_id: dict[int, str] = {}
    snapshots: list[Snapshot] = []
    for site, result in results.items():
        if isinstance(result, Page):
            for snapshot in result.items:
                by_id[id(snapshot)] = site
                snapshots.append(snapshot)
    ordered = sort_snapshots(snapshots, query.sort)
    items = tuple(SiteSnapshot(by_id[id(s)], s) for s in ordered)
    totals = [s.total for s in statuses]
    known = all(s.state is SiteState.OK for s in statuses) and None not in totals
    return FederatedPage(
        items=items,
        page=query.page,
        per_page=query.per_page,
        sites=statuses,
        total=sum(t or 0 for t in totals) if known else None,
        has_next=any(s.has_next for s in statuses),
    )


def federated_page(
    sites: Sequence[str],
    fetch: SiteFetch,
    query: SnapshotQuery,
    *,
    timeout: float,
    on_site: Callable[[FederatedPage], None] | None = None,
) -> FederatedPage:
    """Page ``query.page`` of every site in ``sites``, asked in parallel and merged.

    Args:
        sites: The sites to ask, in the order to show them (duplicates are asked once).
        fetch: ``fetch(site, query)``: one site's page (called in a thread per site).
        query: The query; every site gets the same one.
        timeout: Seconds to wait for the sites; later ones are "still loading".
        on_site: Called with the page so far each time a site answers (in its thread).

    Raises:
        UserInputError: No site named, a bad query, or a timeout that is not positive.
    """
    names = tuple(dict.fromkeys(sites))
    if not names:
        raise UserInputError("Name at least one site to list snapshots of.")
    if timeout <= 0:
        raise UserInputError(f"The per-site timeout must be positive, not {timeout}.")
    validate_query(query)
    results: dict[str, SiteResult] = dict.fromkeys(names)
    answered = threading.Condition()

    def ask(site: str) -> None:
        result: SiteResult
        try:
            result = fetch(site, query)
        except Exception as exc:  # noqa: BLE001 - the site's status shows it; others go on
            result = exc
        with answered:
            results[site] = result
            so_far = merge_pages(query, dict(results))
            answered.notify_all()
        if on_site is not None:
            on_site(so_far)

    for site in names:
        threading.Thread(target=ask, args=(site,), name=f"denbi-sites-{site}", daemon=True).start()
    deadline = time.monotonic() + timeout
    with answered:
        while any(r is None for r in results.values()):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            answered.wait(left)
        return merge_pages(query, dict(results))
