""" "Copy to site…" in the snapshot browser: real widgets, the real copy flow, the local cloud."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from denbi_jupyter.cloud import SnapshotQuery, open_site
from denbi_jupyter.cloud.federation import FederatedPage, SiteSnapshot
from denbi_jupyter.cloud.results import CopyResult
from denbi_jupyter.localcloud import LocalCloud
from denbi_jupyter.panels import Shared, SiteClients, SnapshotPanel
from tests.panels._support import wait_until
from tests.support.sdk import sdk_connection

pytestmark = pytest.mark.timeout(240)

RUN = f"copy-{uuid.uuid4().hex[:6]}"
SOURCE = f"{RUN}-source"
#: Large enough for the flow's byte progress (it reports every MiB or 2 %).
SOURCE_BYTES = 3 * 1024 * 1024 + 17


def _upload_snapshot(clouds_yaml: Path, site: str, size: int) -> None:
    with sdk_connection(clouds_yaml, site) as conn:
        conn.image.create_image(
            name=SOURCE, disk_format="qcow2", container_format="bare", data=os.urandom(size),
            image_type="snapshot",
        )  # fmt: skip


@pytest.fixture
def panel(
    local_cloud: LocalCloud, clouds_yaml: Path, job_runner: Any, local_env: Any
) -> Iterator[SnapshotPanel]:
    _upload_snapshot(clouds_yaml, "bielefeld", SOURCE_BYTES)
    _upload_snapshot(clouds_yaml, "heidelberg", 4096)
    sites = [site.name for site in local_cloud.config.sites]
    clients = SiteClients(lambda name: open_site(name, config_file=clouds_yaml), sites)
    shared = Shared(clients, runner=job_runner, debounce_s=0.0, warm_up=False)
    made = SnapshotPanel(shared)
    made.all_sites = True
    made.sites_table.text = SOURCE
    assert made.wait_idle(60)
    wait_until(lambda: _rows(made) == 2, what="the two source snapshots, active")
    yield made
    for site in sites:
        client = clients.get(site)
        for snapshot in client.list_snapshots(SnapshotQuery(text=RUN, per_page=100)).items:
            client.delete_image(snapshot.id)
    made.close()
    clients.close()


def _rows(panel: SnapshotPanel) -> int:
    page = panel.sites_table.current
    if not isinstance(page, FederatedPage):
        return 0
    return sum(r.snapshot.status == "active" for r in page.items)


def _row(panel: SnapshotPanel, site: str) -> SiteSnapshot:
    page = panel.sites_table.current
    assert isinstance(page, FederatedPage)
    return next(r for r in page.items if r.site == site and r.snapshot.name == SOURCE)


def test_copying_a_row_runs_the_flow_with_byte_progress_then_boots_at_the_target(
    panel: SnapshotPanel,
) -> None:
    source = _row(panel, "bielefeld")
    button = next(r.copy for r in panel.sites_table.rows_view.rows if r.snapshot_id == source.key)
    assert button is not None
    button.click()
    form = panel.copy
    assert form._form.layout.display == "" and form.rows == (source,)
    assert [value for _, value in form._target.options] == ["heidelberg"]  # not its own site
    form._name.value = f"{RUN}-row"
    form._go.click()
    wait_until(lambda: panel.jobs.cards, what="the copy job's card")
    card = panel.jobs.cards[0]
    assert card.job.wait(180) and card.state == "completed", card.job.error
    result = card.job.result
    assert isinstance(result, CopyResult)
    assert (result.source_site, result.source_id) == ("bielefeld", source.snapshot.id)
    assert result.target_site == "heidelberg" and result.name == f"{RUN}-row"
    assert any("Copying:" in line and "MiB" in line for line in card.job.logs), card.job.logs
    target = panel.clients.get("heidelberg").get_image(result.target_id)
    assert target is not None and target.size == source.snapshot.size == result.size
    wait_until(lambda: form._boots.children, what="the Boot-at button")
    boot = form._boots.children[0].children[1]
    assert boot.description == "Boot at heidelberg"
    boot.click()
    wait_until(lambda: panel.relaunch.snapshot is not None, what="the start-VM form")
    assert panel.site == "heidelberg" and panel.relaunch.site == "heidelberg"
    assert panel.relaunch.snapshot.id == result.target_id


def test_a_selection_is_copied_per_row_and_rows_already_at_the_target_are_skipped(
    panel: SnapshotPanel,
) -> None:
    rows = [_row(panel, "bielefeld"), _row(panel, "heidelberg")]
    for row in panel.sites_table.rows_view.rows:
        row.check.value = row.snapshot_id in {r.key for r in rows}
    panel.sites_table._copy_selected.click()
    form = panel.copy
    assert {r.key for r in form.rows} == {r.key for r in rows}
    assert form._name.layout.display == "none"  # a name only for one row
    assert {value for _, value in form._target.options} == {"bielefeld", "heidelberg"}
    form._target.value = "bielefeld"
    form.rows = (rows[0],)  # only the bielefeld row left: nothing to copy to bielefeld
    form.target = "bielefeld"
    form.start()
    assert form.form_error.startswith("Every chosen snapshot is on bielefeld already")
    assert not panel.jobs.cards
    form.open_for(rows)
    form._target.value = "heidelberg"
    form._go.click()
    wait_until(lambda: panel.jobs.cards, what="the copy job")
    assert panel.wait_idle(30)
    assert len(panel.jobs.cards) == 1  # the heidelberg row is on heidelberg already
    card = panel.jobs.cards[0]
    assert card.job.site == "bielefeld"
    assert card.job.wait(180) and card.state == "completed", card.job.error
    result = card.job.result
    assert isinstance(result, CopyResult) and result.source_id == rows[0].snapshot.id
    heidelberg = panel.clients.get("heidelberg")
    copy = heidelberg.get_image(result.target_id)
    assert copy is not None and copy.name.startswith(SOURCE)  # cleaned up with the run
