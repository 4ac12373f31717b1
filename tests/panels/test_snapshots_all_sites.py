"""The snapshot browser's "All sites" view on the real local cloud (two sites, real widgets)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from denbi_jupyter.cloud import OpenStackCloud, SnapshotQuery, open_site
from denbi_jupyter.cloud.federation import FederatedPage, SiteState
from denbi_jupyter.localcloud import LocalCloud
from denbi_jupyter.panels import Shared, SiteClients, SnapshotPanel
from tests.panels._support import wait_until
from tests.support.request_log import RequestLog
from tests.support.sdk import sdk_connection

pytestmark = pytest.mark.timeout(180)

SITES = ("bielefeld", "heidelberg")
RUN = f"all-sites-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def clients(local_cloud: LocalCloud, clouds_yaml: Path) -> Iterator[SiteClients]:
    sites = [site.name for site in local_cloud.config.sites]
    made = SiteClients(lambda name: open_site(name, config_file=clouds_yaml), sites)
    yield made
    made.close()


@pytest.fixture
def panel_of(clients: SiteClients) -> Iterator[Callable[..., SnapshotPanel]]:
    made: list[SnapshotPanel] = []

    def make(runner: Any = None, **options: Any) -> SnapshotPanel:
        shared = Shared(clients, runner=runner, debounce_s=0.0, warm_up=False)
        panel = SnapshotPanel(shared, **options)
        made.append(panel)
        assert panel.wait_idle(60)
        return panel

    yield make
    for panel in made:
        panel.close()


def _page(panel: SnapshotPanel) -> FederatedPage:
    current = panel.sites_table.current
    assert isinstance(current, FederatedPage), "no cross-site page shown"
    return current


def _shown(widget: Any) -> bool:
    return bool(widget.layout.display != "none")


def test_all_sites_shows_every_sites_rows_with_a_site_column(
    panel_of: Callable[..., SnapshotPanel],
) -> None:
    panel = panel_of()
    assert _shown(panel._all_sites)
    panel.table.per_page = 10
    panel._all_sites.value = True
    assert panel.wait_idle(60)
    assert panel._tables.children == (panel.sites_table,) and _shown(panel.sites_table)
    page = _page(panel)
    assert page.complete and {row.site for row in page.items} == set(SITES)
    assert panel.sites_table.per_page == 10
    rows = panel.sites_table.rows_view.rows
    assert [row.snapshot_id for row in rows] == [r.key for r in page.items]
    assert "<b>heidelberg</b>" in next(
        r.cells.value for r in rows if "heidelberg/" in r.snapshot_id
    )
    status = panel.sites_table._status.value
    assert all(f"{site}: " in status for site in SITES)
    panel._all_sites.value = False
    assert panel._tables.children == (panel.table, panel.copy) and not _shown(panel.sites_table)


def test_a_page_asks_each_site_at_most_once_and_filter_and_sort_apply(
    panel_of: Callable[..., SnapshotPanel], clients: SiteClients
) -> None:
    panel = panel_of()
    panel.all_sites = True
    panel.sites_table.per_page = 2
    assert panel.wait_idle(60)
    gateways = {site: clients.get(site).gateway for site in SITES}  # type: ignore[attr-defined]
    with contextlib.ExitStack() as stack:
        logs = {
            s: stack.enter_context(RequestLog.attach(g.http_session)) for s, g in gateways.items()
        }
        panel.sites_table._next.click()
        assert panel.wait_idle(60)
        # bielefeld's index is loaded (the one-site table loaded it): no request; heidelberg: one
        counts = {site: log.count(path_suffix="/v2/images") for site, log in logs.items()}
    assert counts == {"bielefeld": 0, "heidelberg": 1}
    page = _page(panel)
    assert page.page == 2 and all(s.state is SiteState.OK for s in page.sites)
    panel.sites_table.text = "golden"
    assert panel.wait_idle(60)
    names = {row.snapshot.name for row in _page(panel).items}
    assert names == {"golden-analysis-snap"}
    assert {row.site for row in _page(panel).items} == set(SITES)


def test_a_failing_site_shows_its_status_and_the_others_rows(
    panel_of: Callable[..., SnapshotPanel], faults: Callable[..., None]
) -> None:
    panel = panel_of()
    faults({"kind": "error", "site": "heidelberg", "path": "/v2/images", "status": 503})
    panel.all_sites = True
    assert panel.wait_idle(60)
    page = _page(panel)
    assert {row.site for row in page.items} == {"bielefeld"}
    assert "heidelberg: 503 Service Unavailable" in panel.sites_table._status.value
    assert panel.sites_table.rows_view.rows


def test_a_slow_site_shows_still_loading_then_its_rows(
    panel_of: Callable[..., SnapshotPanel], faults: Callable[..., None]
) -> None:
    panel = panel_of(site_timeout=0.5)
    faults({"kind": "latency", "site": "heidelberg", "path": "/v2/images", "seconds": 3})
    panel.all_sites = True
    wait_until(lambda: panel.sites_table.current is not None, what="a first page")
    first = _page(panel)  # bielefeld answers first: heidelberg waits 3 s for each request
    heidelberg = first.status("heidelberg")
    assert heidelberg is not None and heidelberg.state is SiteState.LOADING
    assert {row.site for row in first.items} == {"bielefeld"}
    wait_until(
        lambda: (
            "heidelberg: still loading" in panel.sites_table._status.value or _page(panel).complete
        ),
        what="the still-loading badge",
    )
    wait_until(lambda: _page(panel).complete, timeout=60, what="heidelberg's rows")
    assert {row.site for row in _page(panel).items} == set(SITES)
    wait_until(
        lambda: "still loading" not in panel.sites_table._status.value, what="the badge to go"
    )


def _snapshot_at(clouds_yaml: Path, site: str, name: str) -> str:
    with sdk_connection(clouds_yaml, site) as conn:
        image = conn.image.create_image(
            name=name, disk_format="qcow2", container_format="bare", image_type="snapshot"
        )
        return str(image.id)


def test_a_cross_site_delete_deletes_each_selected_snapshot_at_its_own_site(
    panel_of: Callable[..., SnapshotPanel],
    clients: SiteClients,
    clouds_yaml: Path,
    job_runner: Any,
    local_env: Any,
) -> None:
    made = {site: _snapshot_at(clouds_yaml, site, f"{RUN}-{site}") for site in SITES}
    keep = _snapshot_at(clouds_yaml, "heidelberg", f"{RUN}-keep")
    panel = panel_of(runner=job_runner)
    panel.all_sites = True
    panel.sites_table.text = RUN
    assert panel.wait_idle(60)
    wait_until(lambda: len(_page(panel).items) == 3, what="the three test snapshots")
    for row in panel.sites_table.rows_view.rows:
        if row.snapshot_id in {f"{site}/{image_id}" for site, image_id in made.items()}:
            row.check.value = True
    assert len(panel.sites_table.selected) == 2
    panel.sites_table._delete_selected.click()
    assert _shown(panel.confirmation.box)
    assert "from bielefeld and heidelberg?" in panel.confirmation._html.value
    panel.confirmation._yes.click()
    wait_until(lambda: len(panel.jobs.cards) == 2, what="one delete job per site")
    for card in panel.jobs.cards:
        assert card.job.wait(120) and card.state == "completed", card.job.error
    assert {card.job.site for card in panel.jobs.cards} == set(SITES)
    wait_until(lambda: len(panel.confirmation.results) == 2, what="both outcomes")
    assert all(ok for _, ok, _ in panel.confirmation.results)
    for site, image_id in made.items():
        client = clients.get(site)
        assert isinstance(client, OpenStackCloud)
        assert client.get_image(image_id) is None
    heidelberg = clients.get("heidelberg")
    assert heidelberg.get_image(keep) is not None  # not selected: kept
    wait_until(lambda: [r.snapshot.id for r in _page(panel).items] == [keep], what="the rest")
    heidelberg.delete_image(keep)
    assert heidelberg.list_snapshots(SnapshotQuery(text=RUN)).items == ()
