"""Every panel action, succeeding and failing, leaves no canary secret anywhere.

A ``CloudPanel`` over the canary clouds.yaml's three entries (password, application credential,
wrong password) boots a VM, stops it, snapshots it, deletes the snapshot and the VM through its
buttons, with the flows as jobs on the Prefect test harness; then a Glance outage, a site that
refuses the password and an unknown VM. The sweep then searches every widget's state, the
logs, the Prefect database and every file.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from denbi_jupyter.cloud import open_site
from denbi_jupyter.cloud.rules.policy import POLICY_KEY
from denbi_jupyter.cloud.rules.servers import ServerAction
from denbi_jupyter.panels import CloudPanel, Shared, SiteClients
from tests.panels._support import page_of, wait_until
from tests.panels.conftest import RecordingProbe
from tests.security.conftest import APP_CREDENTIAL_SITE, PASSWORD_SITE, WRONG_SITE, CanaryCloud

pytestmark = [pytest.mark.usefixtures("prefect_harness", "canary_env"), pytest.mark.timeout(240)]
JOB_S = 120.0


@pytest.fixture(scope="module")
def job_runner(prefect_harness: None) -> Iterator[Any]:
    """A JobRunner on the Prefect test harness."""
    from denbi_jupyter.jobs import JobRunner

    runner = JobRunner()
    runner.warm_up()
    yield runner
    runner.close()


@pytest.fixture
def panel(canary_cloud: CanaryCloud, job_runner: Any, tmp_path: Path) -> Iterator[CloudPanel]:
    """A CloudPanel over every canary clouds.yaml entry; closed afterwards."""
    names = [PASSWORD_SITE, APP_CREDENTIAL_SITE, WRONG_SITE]
    clients = SiteClients(lambda name: open_site(name, config_file=canary_cloud.clouds_yaml), names)
    shared = Shared(clients, runner=job_runner, debounce_s=0.0, warm_up=False)
    made = CloudPanel(shared=shared, probe=RecordingProbe(), key_dir=tmp_path / "keys")
    assert made.wait_idle(60)
    yield made
    made.close()
    shared.close()


def _last_job_ok(jobs: Any, before: int, what: str) -> None:
    wait_until(lambda: len(jobs.cards) > before, timeout=30, what=f"the {what} job's card")
    card = jobs.cards[0]
    assert card.job.wait(JOB_S), what
    assert card.state == "completed", (what, card.job.error)


def _boot(panel: CloudPanel, name: str) -> str:
    images = panel.images
    image = next(i for i in images.images if i.name == "X2Go_xfce")
    images.select(image.id)
    images._boot_name.value = name
    before = len(images.jobs.cards)
    images._boot_button.click()
    _last_job_ok(images.jobs, before, "boot")
    wait_until(lambda: images._connections.children, what="the connection card")
    card = images._connections.children[0]
    card.wait_idle(30)
    return str(card.server_id)


def _server_action(panel: CloudPanel, server_id: str, action: ServerAction) -> None:
    servers = panel.servers
    servers.reload()
    assert servers.wait_idle(60)
    row = next(r for r in servers._rows.rows if r.server_id == server_id)
    before = len(servers.jobs.cards)
    wait_until(lambda: not row.buttons[action].disabled, what=f"{action} enabled")
    row.buttons[action].click()
    if action is ServerAction.DELETE:
        servers._confirm_yes.click()
    _last_job_ok(servers.jobs, before, str(action))


def _snapshot_and_delete(panel: CloudPanel, server_id: str, name: str) -> None:
    snapshots = panel.snapshots
    snapshots.reload_servers()
    assert snapshots.wait_idle(60)
    snapshots.create._server.value = server_id
    snapshots.create._name.value = name
    assert snapshots.wait_idle(60)
    before = len(snapshots.jobs.cards)
    snapshots.create._go.click()
    _last_job_ok(snapshots.jobs, before, "snapshot")
    snapshots.table._filter.value = name
    snapshots.table._refresh.click()
    assert snapshots.wait_idle(60)
    snapshot_id = next(s.id for s in page_of(snapshots).items if s.name == name)
    row = next(r for r in snapshots.table.rows if r.snapshot_id == snapshot_id)
    row.delete.click()
    snapshots.confirmation._yes.click()
    client = panel.shared.clients.get(PASSWORD_SITE)
    wait_until(lambda: client.get_image(snapshot_id) is None, timeout=JOB_S, what="snapshot gone")


def _policy_saved_and_removed(panel: CloudPanel, server_id: str) -> None:
    servers = panel.servers
    servers.reload()
    assert servers.wait_idle(60)
    row = next(r for r in servers._rows.rows if r.server_id == server_id)
    row.policy_button.click()
    form = servers.policy_form
    wait_until(lambda: form.check is not None, what="the policy check")
    form._when.value = "daily 01:30"
    form._keep.value = "2"
    wait_until(lambda: form.check is not None and not form.checking, what="the new check")
    form._save.click()
    client = panel.shared.clients.get(PASSWORD_SITE)
    wait_until(
        lambda: POLICY_KEY in getattr(client.get_server(server_id), "metadata", {}),
        what="the policy written",
    )
    assert servers.wait_idle(60)
    row = next(r for r in servers._rows.rows if r.server_id == server_id)
    row.policy_button.click()
    form = servers.policy_form
    wait_until(lambda: form.check is not None, what="the policy check")
    form._remove.click()
    wait_until(
        lambda: POLICY_KEY not in getattr(client.get_server(server_id), "metadata", {}),
        what="the policy removed",
    )


def _relaunch_form_opened_and_cancelled(panel: CloudPanel) -> None:
    snapshots = panel.snapshots
    snapshots.table._filter.value = ""
    assert snapshots.wait_idle(60)
    row = snapshots.table.rows[0]
    row.launch.click()
    wait_until(lambda: snapshots.relaunch.snapshot is not None, what="the start-VM form")
    snapshots.relaunch._cancel_button.click()


def test_panel_actions_on_the_canary_sites(
    panel: CloudPanel, sweep: Callable[..., None], faults: Callable[..., None]
) -> None:
    name = f"secpanel-{secrets.token_hex(3)}"
    server_id = _boot(panel, name)
    panel.tabs.selected_index = 1  # Servers: reloads
    _server_action(panel, server_id, ServerAction.STOP)
    _policy_saved_and_removed(panel, server_id)
    _snapshot_and_delete(panel, server_id, f"{name}-snap")
    _relaunch_form_opened_and_cancelled(panel)
    panel.tabs.selected_index = 3  # Connect
    assert panel.wait_idle(60)
    _server_action(panel, server_id, ServerAction.DELETE)

    faults({"kind": "error", "site": PASSWORD_SITE, "service": "image", "status": 503})
    panel.images._reload.click()
    assert panel.wait_idle(60)
    assert "HTTP 503" in panel.images.error
    panel._site_picker.value = WRONG_SITE
    assert panel.wait_idle(60)
    assert "refused the credentials" in panel.images.error, panel.images.error
    panel._site_picker.value = APP_CREDENTIAL_SITE
    assert panel.wait_idle(60)
    assert panel.images.error == ""
    panel.tabs.selected_index = 4  # Activity: the log of everything
    sweep()
