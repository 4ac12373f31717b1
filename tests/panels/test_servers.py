"""The Servers view: one row per VM with its state and actions, each action a real flow run."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest

from denbi_jupyter.cloud import open_site
from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.provenance import SOURCE_IMAGE_ID
from denbi_jupyter.cloud.rules.servers import ServerAction
from denbi_jupyter.localcloud import LocalCloud
from denbi_jupyter.panels import ServersPanel, Shared, SiteClients
from denbi_jupyter.panels._server_rows import ServerRow, ago
from tests.panels._support import loaded, texts, vm_id, wait_until
from tests.support.fake_cloud import FakeCloud

JOB_TIMEOUT = pytest.mark.timeout(180)


def row_of(panel: ServersPanel, name: str) -> ServerRow:
    server_id = next(s.id for s in panel.servers if s.name == name)
    return next(r for r in panel._rows.rows if r.server_id == server_id)


def shown_text(row: ServerRow) -> str:
    """What a row shows: its title line and its details."""
    return str(row.title.value) + str(row.cells.value)


def status_of(panel: ServersPanel, name: str) -> str | None:
    return next((s.status for s in panel.servers if s.name == name), None)


def run_action(panel: ServersPanel, name: str, action: ServerAction) -> None:
    """Click the action's button in the VM's row and wait for its job to end."""
    before = len(panel.jobs.cards)
    row_of(panel, name).buttons[action].click()
    wait_until(lambda: len(panel.jobs.cards) > before, what=f"the {action} job's card")
    card = panel.jobs.cards[0]
    assert card.job.wait(120)
    assert card.state == "completed", card.job.error


# --- what a row shows ---------------------------------------------------------------------------
def test_each_vm_shows_state_image_and_desktop_flavor_address_age_and_key(
    fake: FakeCloud, shared: Shared
) -> None:
    xfce = next(i for i in fake.images.values() if i.name == "X2Go_xfce")
    snap = fake.add_image(
        "desk-snap", properties={"image_type": "snapshot", SOURCE_IMAGE_ID: xfce.id}
    )
    fake.add_server("desk", image_id=xfce.id, key_name="laptop", private_ipv4="192.168.7.9")
    fake.add_server("again", image_id=snap.id, status="SHUTOFF", task_state="powering-on")
    panel = loaded(ServersPanel(shared))
    wait_until(lambda: len(panel.images) == 2, what="the image lookups")
    panel.wait_idle()
    desk = shown_text(row_of(panel, "desk"))
    assert "X2Go_xfce" in desk and "X2Go XFCE" in desk
    assert "de.NBI small" in desk and "192.168.7.9" in desk and "laptop" in desk
    assert vm_id(fake, "desk")[:8] in desk and ">ACTIVE<" in desk
    again = shown_text(row_of(panel, "again"))
    assert "desk-snap" in again and "X2Go XFCE" in again  # the snapshot's desktop: its source's
    assert ">SHUTOFF<" in again and ">powering-on<" in again  # the task state beside the status
    assert "none" in row_of(panel, "vm1").cells.value  # no key pair, said so
    assert "4 VMs on <b>fake</b>" in panel._count.value


def test_images_are_looked_up_once_per_distinct_image_not_per_render(
    fake: FakeCloud, shared: Shared, monkeypatch: pytest.MonkeyPatch
) -> None:
    xfce = next(i for i in fake.images.values() if i.name == "X2Go_xfce")
    for name in ("a", "b", "c"):
        fake.add_server(name, image_id=xfce.id)
    asked: list[tuple[str, ...]] = []
    real = fake.get_images

    def counting(ids: Any) -> Any:
        asked.append(tuple(ids))
        return real(ids)

    monkeypatch.setattr(fake, "get_images", counting)
    panel = loaded(ServersPanel(shared))
    wait_until(lambda: xfce.id in panel.images, what="the image lookup")
    panel.reload()
    panel.wait_idle()
    panel._render()
    assert asked == [(xfce.id,)]


def test_ages_read_like_people_say_them() -> None:
    now = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
    assert ago(now - dt.timedelta(seconds=20), now) == "just now"
    assert ago(now - dt.timedelta(minutes=5), now) == "5 min ago"
    assert ago(now - dt.timedelta(hours=3, minutes=59), now) == "3 h ago"
    assert ago(now - dt.timedelta(days=12), now) == "12 d ago"
    assert ago(now - dt.timedelta(days=400), now) == "2025-05-06"
    assert ago(None, now) == "—"


def test_loading_then_empty_state_says_what_to_do() -> None:
    gate = threading.Event()
    cloud = FakeCloud()
    real = cloud.list_servers

    def slow() -> Any:
        gate.wait(30)
        return real()

    cloud.list_servers = slow  # type: ignore[method-assign]
    shared = Shared(SiteClients(cloud), debounce_s=0.0, warm_up=False)
    panel = ServersPanel(shared)
    wait_until(lambda: "Loading the VMs of fake" in panel._count.value, what="the loading state")
    assert panel._refresh.disabled and panel._empty.value == ""
    gate.set()
    panel.wait_idle()
    assert "No VMs in this project on fake yet" in panel._empty.value
    assert "0 VMs on <b>fake</b>" in panel._count.value and not panel._refresh.disabled
    shared.background.shutdown()


def test_refresh_lists_vms_made_elsewhere(fake: FakeCloud, shared: Shared) -> None:
    panel = loaded(ServersPanel(shared))
    fake.add_server("made-in-horizon")
    panel._refresh.click()
    panel.wait_idle()
    assert status_of(panel, "made-in-horizon") == "ACTIVE"


# --- refusals -----------------------------------------------------------------------------------
def test_refused_buttons_are_disabled_with_the_rules_reason(
    fake: FakeCloud, shared: Shared
) -> None:
    panel = loaded(ServersPanel(shared))
    running, stopped = row_of(panel, "vm1"), row_of(panel, "vm2")
    assert running.buttons[ServerAction.START].disabled
    assert (
        "already running (ACTIVE): nothing to start" in running.buttons[ServerAction.START].tooltip
    )
    assert not running.buttons[ServerAction.STOP].disabled
    assert stopped.buttons[ServerAction.STOP].disabled
    assert "already stopped" in stopped.buttons[ServerAction.STOP].tooltip
    assert "start it instead of rebooting" in stopped.buttons[ServerAction.REBOOT].tooltip
    assert not stopped.buttons[ServerAction.START].disabled
    panel.act(vm_id(fake, "vm2"), ServerAction.REBOOT)  # e.g. a stale click
    assert "start it instead of rebooting" in stopped.note.value
    assert panel.jobs.cards == () and fake.calls[-1][0] == "list_servers"


def test_delete_is_refused_while_a_snapshot_uploads_and_nothing_is_deleted(
    fake: FakeCloud, shared: Shared
) -> None:
    fake.add_server("busy", task_state="image_uploading")
    panel = loaded(ServersPanel(shared))
    row = row_of(panel, "busy")
    delete = row.buttons[ServerAction.DELETE]
    assert delete.disabled and "deleting it now would destroy the snapshot" in delete.tooltip
    assert "is taking a snapshot (image_uploading)" in row.note.value  # said without hovering
    panel.ask_delete(row.server_id)
    assert panel.confirm_id == "" and "Wait until the snapshot is active" in row.note.value
    assert row.server_id in fake.servers
    assert not [c for c in fake.calls if c[0] == "delete_server"]


def test_a_confirmation_left_open_while_a_snapshot_starts_deletes_nothing(
    fake: FakeCloud, shared: Shared
) -> None:
    panel = loaded(ServersPanel(shared))
    server_id = vm_id(fake, "vm1")
    panel.ask_delete(server_id)
    fake.servers[server_id] = _with_task(fake, server_id, "image_snapshot")
    panel.reload()  # e.g. the Servers tab picked again
    panel.wait_idle()
    panel._confirm_yes.click()
    assert panel.jobs.cards == () and server_id in fake.servers
    assert "would destroy the snapshot" in row_of(panel, "vm1").note.value


def _with_task(fake: FakeCloud, server_id: str, task_state: str) -> Any:
    from dataclasses import replace

    return replace(fake.servers[server_id], task_state=task_state)


# --- delete asks first --------------------------------------------------------------------------
def test_delete_asks_under_the_vms_row_naming_it_and_cancel_keeps_it(
    fake: FakeCloud, shared: Shared
) -> None:
    panel = loaded(ServersPanel(shared))
    row = row_of(panel, "vm2")
    row.buttons[ServerAction.DELETE].click()
    children = panel._rows.shown
    assert children[children.index(row.box) + 1] is panel._confirm  # next to the VM, in view
    text = panel._confirm_html.value
    assert f"Delete VM vm2 ({row.server_id[:8]}) from fake?" in text
    assert "disks are deleted" in text and "snapshots stay" in text
    panel._confirm_no.click()
    assert panel._confirm not in panel._rows.shown and row.server_id in fake.servers


@JOB_TIMEOUT
def test_a_double_click_on_confirm_deletes_once_and_the_vm_leaves_the_list(
    fake: FakeCloud, job_shared: Shared, job_runner: Any
) -> None:
    panel = loaded(ServersPanel(job_shared))
    server_id = vm_id(fake, "vm2")
    before = len(job_runner.jobs)
    panel.ask_delete(server_id)
    panel._confirm_yes.click()
    panel._confirm_yes.click()  # the second click of a double click
    wait_until(lambda: panel.jobs.cards, what="the delete job's card")
    card = panel.jobs.cards[0]
    assert card.job.wait(120) and card.state == "completed", card.job.error
    assert len(job_runner.jobs) == before + 1
    assert [c[1][0] for c in fake.calls if c[0] == "delete_server"] == [server_id]
    wait_until(lambda: status_of(panel, "vm2") is None, what="vm2 gone from the list")
    assert server_id not in fake.servers and "vm2 is deleted." in texts(panel.jobs)


# --- lifecycle flows ----------------------------------------------------------------------------
@JOB_TIMEOUT
def test_stop_ends_shutoff_then_start_ends_active(fake: FakeCloud, job_shared: Shared) -> None:
    panel = loaded(ServersPanel(job_shared))
    run_action(panel, "vm1", ServerAction.STOP)
    wait_until(lambda: status_of(panel, "vm1") == "SHUTOFF", what="vm1 SHUTOFF in the list")
    assert "Stop vm1" in texts(panel.jobs) and "vm1 is SHUTOFF." in texts(panel.jobs)
    wait_until(lambda: not row_of(panel, "vm1").buttons[ServerAction.START].disabled)
    assert row_of(panel, "vm1").buttons[ServerAction.STOP].disabled
    run_action(panel, "vm1", ServerAction.START)
    wait_until(lambda: status_of(panel, "vm1") == "ACTIVE", what="vm1 ACTIVE in the list")
    assert fake.servers[vm_id(fake, "vm1")].status == "ACTIVE"


@JOB_TIMEOUT
def test_reboot_runs_its_flow_and_ends_active(fake: FakeCloud, job_shared: Shared) -> None:
    panel = loaded(ServersPanel(job_shared))
    row = row_of(panel, "vm1")
    row.buttons[ServerAction.REBOOT].click()
    assert "rebooting…" in row.title.value  # at once, before the job has started
    assert all(b.disabled for b in row.buttons.values())  # no second action meanwhile
    wait_until(lambda: panel.jobs.cards, what="the reboot job's card")
    assert panel.jobs.cards[0].job.wait(120)
    assert panel.jobs.cards[0].state == "completed", panel.jobs.cards[0].job.error
    wait_until(lambda: not panel.running, what="the row freed")
    panel.wait_idle()
    assert (
        status_of(panel, "vm1") == "ACTIVE" and "rebooting…" not in row_of(panel, "vm1").title.value
    )
    actions = [c[1] for c in fake.gateway.calls if c[0] == "server_action"]
    assert actions and actions[-1][:2] == (vm_id(fake, "vm1"), "reboot")


@JOB_TIMEOUT
def test_a_failed_job_says_why_under_the_vms_row(fake: FakeCloud, job_shared: Shared) -> None:
    panel = loaded(ServersPanel(job_shared))
    fake.conflict_next("stop_server")
    row_of(panel, "vm1").buttons[ServerAction.STOP].click()
    wait_until(lambda: panel.jobs.cards, what="the stop job's card")
    assert panel.jobs.cards[0].job.wait(120)
    wait_until(lambda: "Stop vm1 failed" in row_of(panel, "vm1").note.value, what="the note")
    assert "injected 409" in row_of(panel, "vm1").note.value


# --- connect, sites, layout ---------------------------------------------------------------------
def test_connect_reports_the_site_and_the_vm(fake: FakeCloud, shared: Shared) -> None:
    panel = loaded(ServersPanel(shared))
    asked: list[tuple[str, str]] = []
    panel.on_connect(lambda site, server_id: asked.append((site, server_id)))
    row_of(panel, "vm2").connect.click()
    assert asked == [("fake", vm_id(fake, "vm2"))]


def test_a_site_switch_lists_that_sites_vms_only() -> None:
    a, b = FakeCloud(project_id="p-A"), FakeCloud(project_id="p-B")
    a.add_server("here-vm")
    b.add_server("there-vm", status="SHUTOFF")
    clouds = {"A": a, "B": b}
    shared = Shared(SiteClients(clouds.__getitem__, list(clouds)), debounce_s=0, warm_up=False)
    panel = loaded(ServersPanel(shared, site="A"))
    panel.ask_delete(panel.servers[0].id)
    panel._site_picker.value = "B"
    panel.wait_idle()
    assert [s.name for s in panel.servers] == ["there-vm"] and panel.confirm_id == ""
    assert "1 VM on <b>B</b>" in panel._count.value
    shared.background.shutdown()


def test_rows_wrap_at_side_panel_widths(shared: Shared) -> None:
    panel = loaded(ServersPanel(shared))
    row = panel._rows.rows[0]
    head, body, _note, _policy = row.box.children
    cells, actions = body.children
    lines = (head, body, actions)
    assert all(line.layout.flex_flow == "row wrap" for line in lines)
    assert row.title.layout.min_width == cells.layout.min_width == "0"  # they shrink and wrap
    buttons = (row.connect, *actions.children)
    assert all(b.layout.width == "auto" for b in buttons)  # never a cut label
    assert "auto-fill" in cells.value and "overflow-wrap:anywhere" in cells.value


# --- the real local cloud over HTTP -------------------------------------------------------------
@pytest.mark.timeout(240)
def test_stop_on_the_local_cloud_reaches_shutoff(
    local_cloud: LocalCloud, clouds_yaml: Path, job_runner: Any, local_env: Any
) -> None:
    sites = [site.name for site in local_cloud.config.sites]

    def opened(name: str) -> CloudClient:
        return open_site(name, config_file=clouds_yaml)

    shared = Shared(SiteClients(opened, sites), runner=job_runner, debounce_s=0.0, warm_up=False)
    client = shared.clients.get("bielefeld")
    image = client.find_image("X2Go_xfce")
    flavor = min(client.list_flavors(), key=lambda f: f.ram_mb)
    vm = client.create_server(name="servers-tab-it", image_id=image.id, flavor_id=flavor.id,
                              key_name=None)  # fmt: skip
    wait_until(lambda: (client.get_server(vm.id) or vm).status == "ACTIVE", 120, "ACTIVE")
    panel = ServersPanel(shared, site="bielefeld")
    try:
        wait_until(lambda: image.id in panel.images, 60, "the image lookup")
        assert "X2Go XFCE" in shown_text(row_of(panel, "servers-tab-it"))
        run_action(panel, "servers-tab-it", ServerAction.STOP)
        wait_until(lambda: status_of(panel, "servers-tab-it") == "SHUTOFF", 60, "SHUTOFF")
        assert (client.get_server(vm.id) or vm).status == "SHUTOFF"
    finally:
        panel.close()
        client.delete_server(vm.id)
        shared.close()
