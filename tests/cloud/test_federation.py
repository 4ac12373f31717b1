"""One snapshot listing over both local-cloud sites: merge, paging, failing and slow sites."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from denbi_jupyter.cloud import OpenStackCloud, SnapshotQuery, SnapshotSort
from denbi_jupyter.cloud.federation import (
    FederatedPage,
    SiteState,
    federated_page,
    merge_pages,
)
from denbi_jupyter.cloud.index import sort_snapshots
from denbi_jupyter.errors import CloudUnavailableError, UserInputError

pytestmark = pytest.mark.timeout(120)

Record = Callable[[OpenStackCloud], Any]


@pytest.fixture
def clients(bielefeld: OpenStackCloud, heidelberg: OpenStackCloud) -> dict[str, OpenStackCloud]:
    for client in (bielefeld, heidelberg):
        client.project_names()  # authenticated, names cached: only page requests follow
    return {"bielefeld": bielefeld, "heidelberg": heidelberg}


def _fetch(clients: dict[str, OpenStackCloud]) -> Callable[[str, SnapshotQuery], Any]:
    return lambda site, query: clients[site].list_snapshots(query)


@pytest.fixture
def logs(clients: dict[str, OpenStackCloud], record: Record) -> Iterator[dict[str, Any]]:
    with ExitStack() as stack:
        yield {site: stack.enter_context(record(c)) for site, c in clients.items()}


def _page_requests(log: Any) -> int:
    return int(log.count(path_suffix="/v2/images", method="GET"))


def test_a_cross_site_page_merges_every_sites_page_in_order(
    clients: dict[str, OpenStackCloud], logs: dict[str, Any]
) -> None:
    query = SnapshotQuery(per_page=3, sort=SnapshotSort.NAME)
    page = federated_page(list(clients), _fetch(clients), query, timeout=30)
    assert page.complete
    assert {row.site for row in page.items} == {"bielefeld", "heidelberg"}
    for site, client in clients.items():
        own = [row.snapshot.id for row in page.items if row.site == site]
        assert own == [s.id for s in client.list_snapshots(query).items]
        assert 0 < len(own) <= 3
    names = [row.snapshot.name.lower() for row in page.items]
    assert names == sorted(names)
    assert [s.site for s in page.sites] == ["bielefeld", "heidelberg"]
    assert page.sites[0].text.startswith("bielefeld: ")
    assert len({row.key for row in page.items}) == len(page.items)


def test_each_page_costs_one_request_per_site(
    clients: dict[str, OpenStackCloud], logs: dict[str, Any]
) -> None:
    pages: list[FederatedPage] = []
    for number in (1, 2, 3):
        query = SnapshotQuery(page=number, per_page=2)
        pages.append(federated_page(list(clients), _fetch(clients), query, timeout=30))
        assert [_page_requests(logs[site]) for site in clients] == [number, number]
    assert pages[0].has_next
    keys = [row.key for page in pages for row in page.items]
    assert len(keys) == len(set(keys))  # a site's next page goes on where its page ended
    for site in clients:
        created = [r.snapshot.created_at for p in pages for r in p.items if r.site == site]
        assert created == sorted(created, reverse=True)


def test_a_failing_site_shows_its_status_and_the_other_sites_rows(
    clients: dict[str, OpenStackCloud], faults: Callable[..., None]
) -> None:
    faults(kind="error", site="bielefeld", path="/v2/images", method="GET", status=503)
    page = federated_page(list(clients), _fetch(clients), SnapshotQuery(), timeout=30)
    failed, fine = page.sites
    assert failed.state is SiteState.FAILED
    assert failed.text == "bielefeld: 503 Service Unavailable"
    assert "bielefeld" in failed.message
    assert fine.state is SiteState.OK and fine.rows > 0
    assert page.items and {row.site for row in page.items} == {"heidelberg"}
    assert page.total is None and not page.complete


def test_a_slow_site_is_still_loading_and_arrives_later(
    clients: dict[str, OpenStackCloud], faults: Callable[..., None]
) -> None:
    faults(kind="latency", site="heidelberg", service="image", seconds=3.0)
    arrived = threading.Event()
    later: list[FederatedPage] = []

    def on_site(page: FederatedPage) -> None:
        if page.complete:
            later.append(page)
            arrived.set()

    first = federated_page(
        list(clients), _fetch(clients), SnapshotQuery(), timeout=0.5, on_site=on_site
    )
    assert first.status("heidelberg") is not None
    assert first.sites[1].state is SiteState.LOADING
    assert first.sites[1].text == "heidelberg: still loading"
    assert first.items and {row.site for row in first.items} == {"bielefeld"}
    assert arrived.wait(60), "heidelberg never answered"
    assert {row.site for row in later[0].items} == {"bielefeld", "heidelberg"}


def test_merge_sums_totals_only_when_every_site_knows_one(
    clients: dict[str, OpenStackCloud],
) -> None:
    query = SnapshotQuery(per_page=1000, sort=SnapshotSort.SIZE)
    pages = {site: c.snapshot_index() for site, c in clients.items()}
    for index in pages.values():
        index.load()
    answered = {site: index.query(query) for site, index in pages.items()}
    merged = merge_pages(query, answered)
    assert merged.total == sum(p.total or 0 for p in answered.values())
    everything = [s for p in answered.values() for s in p.items]
    assert [r.snapshot.id for r in merged.items] == [
        s.id for s in sort_snapshots(everything, SnapshotSort.SIZE)
    ]
    down = CloudUnavailableError("heidelberg is down", site="heidelberg")
    partial = merge_pages(query, {"bielefeld": answered["bielefeld"], "heidelberg": down})
    assert partial.total is None
    assert partial.sites[1].text == "heidelberg: heidelberg is down"


@pytest.mark.parametrize(
    ("sites", "timeout", "words"),
    [([], 1.0, "at least one site"), (["bielefeld"], 0.0, "must be positive")],
)
def test_bad_input_is_refused_with_words(sites: list[str], timeout: float, words: str) -> None:
    with pytest.raises(UserInputError, match=words):
        federated_page(sites, lambda _s, _q: pytest.fail("asked"), SnapshotQuery(), timeout=timeout)
