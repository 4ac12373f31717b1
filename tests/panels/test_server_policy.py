"""Snapshot policies in the Servers view: each row's policy and last run, and the policy form."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from denbi_jupyter.cloud import open_site
from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.rules.policy import LEGACY_KEY, POLICY_KEY, parse_policy
from denbi_jupyter.cloud.rules.policy_preview import last_policy_snapshot, preview_policy
from denbi_jupyter.cloud.rules.policy_runs import POLICY_SCHEDULE, SLOT_KEY
from denbi_jupyter.cloud.rules.retention import (
    NIGHTLY,
    SCHEDULE_KEY,
    explain_retention,
    schedule_mark,
)
from denbi_jupyter.cloud.types import Image
from denbi_jupyter.localcloud import LocalCloud
from denbi_jupyter.panels import ServersPanel, Shared, SiteClients
from denbi_jupyter.panels._server_policy import PolicyForm
from denbi_jupyter.panels._server_rows import ServerRow
from tests.panels._support import loaded, texts, vm_id, wait_until
from tests.support.fake_cloud import FakeCloud

KEEP_ONE = "daily 02:00; tz=Europe/Berlin; keep=1"


def row_of(panel: ServersPanel, name: str) -> ServerRow:
    server_id = next(s.id for s in panel.servers if s.name == name)
    return next(r for r in panel._rows.rows if r.server_id == server_id)


def policy_text(panel: ServersPanel, name: str) -> str:
    return html.unescape(str(row_of(panel, name).policy.value))


def form_text(form: PolicyForm) -> str:
    """What the form shows, as text (tags left out)."""
    return html.unescape(re.sub(r"<[^>]+>", "", texts(form)))


def policy_snapshot(
    fake: FakeCloud,
    name: str,
    server_id: str,
    *,
    slot: str = "",
    schedule: str = POLICY_SCHEDULE,
    status: str = "active",
    marked: bool = True,
) -> Image:
    """A snapshot a policy run made of ``server_id`` (with the schedule's own mark)."""
    image_id = str(uuid.uuid4())
    properties = {"image_type": "snapshot", SCHEDULE_KEY: schedule, SOURCE_SERVER_ID: server_id}
    if slot:
        properties[SLOT_KEY] = slot
    tags = [schedule_mark(schedule, image_id)] if marked else []
    return fake.add_image(name, image_id=image_id, properties=properties, tags=tags, status=status)


def opened(panel: ServersPanel, name: str) -> PolicyForm:
    """Click the VM's "Policy…" button; the form, once its first check has answered."""
    row_of(panel, name).policy_button.click()
    form = panel.policy_form
    wait_until(lambda: form.check is not None, what="the policy check")
    return form


def edit(form: PolicyForm, **parts: str) -> None:
    """Type into the form's fields (as the widgets do) and wait for the new check."""
    for name, value in parts.items():
        getattr(form, f"_{name}").value = value
    wait_until(lambda: form.check is not None and not form.checking, what="the policy check")


# --- what a row shows ---------------------------------------------------------------------------
def test_each_row_shows_the_policy_in_words_none_or_why_it_cannot_be_used(
    fake: FakeCloud, shared: Shared
) -> None:
    fake.add_server("weekly-vm", metadata={POLICY_KEY: "weekly sun 03:30; tz=UTC; keep=4"})
    fake.add_server("old-vm", metadata={LEGACY_KEY: "yes"})
    fake.add_server("bad-vm", metadata={POLICY_KEY: "hourly; keep=3"})
    panel = loaded(ServersPanel(shared))
    panel.wait_idle()
    assert "Snapshot policy: weekly sun 03:30 (UTC); keeps the last 4" in policy_text(
        panel, "weekly-vm"
    )
    assert f"the old {LEGACY_KEY} marker" in policy_text(panel, "old-vm")
    assert "keeps the last 7" in policy_text(panel, "old-vm")
    bad = policy_text(panel, "bad-vm")
    assert "unusable" in bad and "Cannot read when 'hourly'" in bad
    assert "no snapshot policy" in policy_text(panel, "vm1")
    assert "no policy snapshot yet" in policy_text(panel, "weekly-vm")


def test_the_last_policy_snapshot_is_the_newest_marked_one_with_its_slot_and_status(
    fake: FakeCloud, shared: Shared
) -> None:
    vm = fake.add_server("pol-vm", metadata={POLICY_KEY: KEEP_ONE})
    policy_snapshot(fake, "pol-1", vm.id, slot="2026-12-01T01:00:00Z")
    policy_snapshot(fake, "pol-2", vm.id, slot="2026-12-02T01:00:00Z", status="saving")
    policy_snapshot(fake, "copied", vm.id, slot="2026-12-03T01:00:00Z", marked=False)
    panel = loaded(ServersPanel(shared))
    wait_until(lambda: vm.id in panel.policy_snapshots, what="the policy snapshot lookup")
    assert panel.wait_idle(60)
    shown = policy_text(panel, "pol-vm")
    assert "last policy snapshot: 2026-12-02 02:00 CET, saving" in shown  # not the copy's mark
    last = panel.policy_snapshots[vm.id]
    assert last is not None and last.name == "pol-2"


def test_no_vm_with_a_policy_costs_no_glance_listing(fake: FakeCloud, shared: Shared) -> None:
    panel = loaded(ServersPanel(shared))
    panel.wait_idle()
    assert not [c for c in fake.calls if c[0] == "find_images_by_property"]
    assert panel.policy_snapshots == {}


# --- the form -----------------------------------------------------------------------------------
def test_policy_opens_the_form_right_under_the_vms_row_with_its_current_policy(
    fake: FakeCloud, shared: Shared
) -> None:
    fake.add_server("pol-vm", metadata={POLICY_KEY: "weekly sun 03:30; tz=UTC; keep=4"})
    panel = loaded(ServersPanel(shared))
    form = opened(panel, "pol-vm")
    shown = panel._rows.shown
    assert shown[shown.index(row_of(panel, "pol-vm").box) + 1] is form
    assert (form.when, form.timezone, form.keep, form.max_age) == (
        "weekly sun 03:30",
        "UTC",
        "4",
        "",
    )
    form._close.click()
    assert form not in panel._rows.shown


def test_a_new_policy_defaults_to_the_denbi_zone_and_previews_the_next_three_runs(
    fake: FakeCloud, shared: Shared
) -> None:
    panel = loaded(ServersPanel(shared))
    form = opened(panel, "vm1")
    assert form.timezone == "Europe/Berlin"
    edit(form, when="weekly mon 03:00", keep="3", max_age="30")
    preview = form.check.preview
    assert preview is not None and len(preview.next_runs) == 3
    shown = form_text(form)
    assert "weekly mon 03:00 (Europe/Berlin); keeps the last 3 and those younger than 30" in shown
    first = preview.next_runs[0].astimezone(preview.policy.zone)
    assert first.strftime("%Y-%m-%d 03:00 %Z") in shown and first.weekday() == 0


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({"when": "daily 25:00"}, "Cannot read the time '25:00'"),
        ({"timezone": "Mars/Olympus"}, "Unknown time zone 'Mars/Olympus'"),
        ({"keep": "", "max_age": ""}, "Say what to keep"),
        ({"keep": "seven"}, "keep must be a whole number, not 'seven'"),
        ({"when": "daily 02:00; keep=3"}, "may not hold ';' or '='"),
    ],
)
def test_typing_a_bad_policy_shows_the_domains_message(
    fake: FakeCloud, shared: Shared, parts: dict[str, str], message: str
) -> None:
    panel = loaded(ServersPanel(shared))
    form = opened(panel, "vm1")
    edit(form, **parts)
    assert form.check.preview is None and message in form.check.error
    assert "This policy cannot be used:" in form_text(form) and message in form_text(form)


def test_the_retention_preview_is_what_explain_retention_decides_for_this_vm(
    fake: FakeCloud, shared: Shared
) -> None:
    vm = fake.add_server("pol-vm", metadata={POLICY_KEY: KEEP_ONE})
    other = fake.add_server("other-vm", metadata={POLICY_KEY: KEEP_ONE})
    policy_snapshot(fake, "pol-old", vm.id)
    policy_snapshot(fake, "pol-new", vm.id)
    policy_snapshot(fake, "by-hand", vm.id, marked=False)
    policy_snapshot(fake, "theirs", other.id)
    panel = loaded(ServersPanel(shared))
    form = opened(panel, "pol-vm")
    preview = form.check.preview
    images = fake.find_images_by_property(SCHEDULE_KEY, POLICY_SCHEDULE)
    mine = [i for i in images if i.properties.get(SOURCE_SERVER_ID) == vm.id]
    expected = explain_retention(
        mine, keep_last=1, max_age_days=None, now=dt.datetime.now(dt.UTC), schedule=POLICY_SCHEDULE
    )
    assert [(d.image.name, d.delete, d.reason) for d in preview.decisions] == [
        (d.image.name, d.delete, d.reason) for d in expected
    ]
    assert [d.image.name for d in preview.deleted] == ["pol-old"]
    shown = form_text(form)
    deleted = next(d for d in expected if d.delete)
    assert f"This policy would now delete: pol-old ({deleted.reason})" in shown
    assert "pol-new" in shown and "by-hand (not made by this schedule" in shown
    assert "theirs" not in shown


def test_the_whole_value_carries_over_both_ways(fake: FakeCloud, shared: Shared) -> None:
    panel = loaded(ServersPanel(shared))
    form = opened(panel, "vm1")
    edit(form, when="daily 04:15", keep="2")
    edit(form, mode="text")
    assert form.value == "daily 04:15; tz=Europe/Berlin; keep=2"
    edit(form, value="cron 0 */6 * * *; tz=UTC; max_age_days=3")
    assert "cron 0 */6 * * * (UTC)" in form_text(form)
    edit(form, mode="fields")
    assert (form.when, form.timezone, form.keep, form.max_age) == (
        "cron 0 */6 * * *",
        "UTC",
        "",
        "3",
    )


def test_saving_an_invalid_policy_writes_nothing_and_says_why(
    fake: FakeCloud, shared: Shared
) -> None:
    panel = loaded(ServersPanel(shared))
    form = opened(panel, "vm1")
    edit(form, when="sometimes")
    form._save.click()
    panel.wait_idle()
    assert "Nothing was saved: Cannot read when 'sometimes'" in form.message
    assert not [c for c in fake.calls if c[0] in ("set_server_metadata", "delete_server_metadata")]
    assert fake.get_server(vm_id(fake, "vm1")).metadata == {}  # type: ignore[union-attr]


def test_save_replaces_the_old_marker_says_so_and_reloads_the_row(
    fake: FakeCloud, shared: Shared
) -> None:
    vm = fake.add_server("old-vm", metadata={LEGACY_KEY: "1", "team": "rna"})
    policy_snapshot(fake, "nightly-1", vm.id, schedule=NIGHTLY)
    panel = loaded(ServersPanel(shared))
    form = opened(panel, "old-vm")
    assert "1 snapshot(s) of the old denbi_nightly marker are not counted" in form_text(form)
    edit(form, when="daily 01:30", keep="5")
    form._save.click()
    wait_until(
        lambda: panel.policy_id == "" and "saved" in policy_text(panel, "old-vm"),
        what="the saved policy in the row",
    )
    panel.wait_idle()
    metadata = fake.get_server(vm.id).metadata  # type: ignore[union-attr]
    assert metadata == {POLICY_KEY: "daily 01:30; tz=Europe/Berlin; keep=5", "team": "rna"}
    shown = policy_text(panel, "old-vm")
    assert "Snapshot policy: daily 01:30 (Europe/Berlin); keeps the last 5" in shown
    assert f"replaces the old {LEGACY_KEY} marker, which is removed" in shown


def test_remove_clears_both_keys_keeps_the_snapshots_and_reloads_the_row(
    fake: FakeCloud, shared: Shared
) -> None:
    vm = fake.add_server("pol-vm", metadata={POLICY_KEY: KEEP_ONE, LEGACY_KEY: "1"})
    snap = policy_snapshot(fake, "pol-1", vm.id)
    panel = loaded(ServersPanel(shared))
    form = opened(panel, "pol-vm")
    form._remove.click()
    wait_until(lambda: "removed" in policy_text(panel, "pol-vm"), what="the removal in the row")
    panel.wait_idle()
    assert fake.get_server(vm.id).metadata == {}  # type: ignore[union-attr]
    assert fake.get_image(snap.id) is not None
    assert "no snapshot policy" in policy_text(panel, "pol-vm")


def test_remove_reads_the_vm_again_so_a_policy_saved_since_the_last_refresh_goes_too(
    fake: FakeCloud, shared: Shared
) -> None:
    vm = fake.add_server("pol-vm", metadata={LEGACY_KEY: "1"})
    panel = loaded(ServersPanel(shared))
    form = opened(panel, "pol-vm")  # the panel's copy holds only the old marker
    fake.set_server_metadata(vm.id, {POLICY_KEY: KEEP_ONE})  # saved since (another tab, a Save)
    form._remove.click()
    wait_until(lambda: "removed" in policy_text(panel, "pol-vm"), what="the removal in the row")
    panel.wait_idle()
    assert fake.get_server(vm.id).metadata == {}  # type: ignore[union-attr]


def test_remove_without_a_policy_changes_nothing_and_says_so(
    fake: FakeCloud, shared: Shared
) -> None:
    panel = loaded(ServersPanel(shared))
    form = opened(panel, "vm1")
    form._remove.click()
    assert "vm1 has no snapshot policy: nothing was changed." in form.message
    assert not [c for c in fake.calls if c[0] == "delete_server_metadata"]


def test_the_buttons_are_off_when_there_is_nothing_to_remove_or_the_value_is_unusable(
    fake: FakeCloud, shared: Shared
) -> None:
    fake.add_server("pol-vm", metadata={POLICY_KEY: KEEP_ONE})
    panel = loaded(ServersPanel(shared))
    form = opened(panel, "vm1")
    assert form._remove.disabled and not form._save.disabled
    edit(form, when="sometimes")
    assert form.check is not None and form.check.error and form._save.disabled
    edit(form, when="daily 03:00")
    assert not form._save.disabled
    form = opened(panel, "pol-vm")
    assert not form._remove.disabled and not form._save.disabled


def test_an_unusable_value_opens_as_the_whole_value_with_its_error(
    fake: FakeCloud, shared: Shared
) -> None:
    fake.add_server("bad-vm", metadata={POLICY_KEY: "daily 02:00; keep=0"})
    panel = loaded(ServersPanel(shared))
    form = opened(panel, "bad-vm")
    assert form.mode == "text" and form.value == "daily 02:00; keep=0"
    assert "keep must be between 1 and 1000, not 0" in form.check.error


def test_a_failed_save_says_why_and_the_row_is_unchanged(fake: FakeCloud, shared: Shared) -> None:
    from denbi_jupyter.errors import ConflictError

    vm = fake.add_server("pol-vm")
    fake.gateway.fail_next("set_server_metadata", ConflictError("Server pol-vm is locked."))
    panel = loaded(ServersPanel(shared))
    form = opened(panel, "pol-vm")
    form._save.click()
    wait_until(lambda: "was not changed" in form.message, what="the failure")
    assert "locked" in form.message and fake.get_server(vm.id).metadata == {}  # type: ignore[union-attr]
    assert panel.policy_id == vm.id  # the form stays open to try again


def test_the_forms_buttons_keep_their_width_and_wrap(fake: FakeCloud, shared: Shared) -> None:
    panel = loaded(ServersPanel(shared))
    form = opened(panel, "vm1")
    buttons = (form._save, form._remove, form._close, row_of(panel, "vm1").policy_button)
    assert all(b.layout.flex == "0 0 auto" for b in buttons)
    assert form._save in form.children[-1].children
    assert form.children[-1].layout.flex_flow == "row wrap"


def test_last_policy_snapshot_ignores_other_vms_and_other_schedules() -> None:
    fake = FakeCloud()
    mine = policy_snapshot(fake, "mine", "vm-a", slot="2026-12-01T01:00:00Z")
    policy_snapshot(fake, "theirs", "vm-b", slot="2026-12-05T01:00:00Z")
    policy_snapshot(fake, "nightly", "vm-a", slot="2026-12-06T01:00:00Z", schedule=NIGHTLY)
    images = [
        *fake.find_images_by_property(SCHEDULE_KEY, POLICY_SCHEDULE),
        *fake.find_images_by_property(SCHEDULE_KEY, NIGHTLY),
    ]
    found = last_policy_snapshot(images, server_id="vm-a", schedule=POLICY_SCHEDULE)
    assert found is not None and found.id == mine.id
    policy = parse_policy(KEEP_ONE)
    preview = preview_policy(
        policy, images, server_id="vm-a", schedule=POLICY_SCHEDULE, now=dt.datetime.now(dt.UTC)
    )
    assert [d.image.name for d in preview.decisions] == ["mine"]


# --- the real local cloud over HTTP -------------------------------------------------------------
@pytest.mark.timeout(240)
def test_save_and_remove_on_the_local_cloud_write_nova_metadata(
    local_cloud: LocalCloud, clouds_yaml: Path, local_env: Any
) -> None:
    sites = [site.name for site in local_cloud.config.sites]

    def connect(name: str) -> CloudClient:
        return open_site(name, config_file=clouds_yaml)

    shared = Shared(SiteClients(connect, sites), debounce_s=0.0, warm_up=False)
    client = shared.clients.get("bielefeld")
    image = client.find_image("X2Go_xfce")
    flavor = min(client.list_flavors(), key=lambda f: f.ram_mb)
    vm = client.create_server(
        name=f"policy-tab-{uuid.uuid4().hex[:6]}",
        image_id=image.id,
        flavor_id=flavor.id,
        key_name=None,
        metadata={LEGACY_KEY: "1"},
    )
    wait_until(lambda: (client.get_server(vm.id) or vm).status == "ACTIVE", 120, "ACTIVE")
    panel = ServersPanel(shared, site="bielefeld")
    try:
        wait_until(lambda: panel.server(vm.id) is not None, 60, "the VM in the list")
        wait_until(lambda: vm.id in panel.policy_snapshots, 60, "the policy snapshot lookup")
        assert "no policy snapshot yet" in policy_text(panel, vm.name)
        form = opened(panel, vm.name)
        edit(form, when="weekly sat 04:00", keep="2")
        assert "weekly sat 04:00 (Europe/Berlin)" in form_text(form)
        form._save.click()
        wait_until(lambda: "saved" in policy_text(panel, vm.name), 60, "the saved policy")
        metadata = (client.get_server(vm.id) or vm).metadata
        assert metadata.get(POLICY_KEY) == "weekly sat 04:00; tz=Europe/Berlin; keep=2"
        assert LEGACY_KEY not in metadata
        form = opened(panel, vm.name)
        form._remove.click()
        # (the Save's message also says "removed", of the old marker: wait for the Remove's own)
        wait_until(lambda: f"Policy of {vm.name} removed" in policy_text(panel, vm.name), 60,
                   "the removal")  # fmt: skip
        metadata = (client.get_server(vm.id) or vm).metadata
        assert POLICY_KEY not in metadata and LEGACY_KEY not in metadata
    finally:
        panel.close()
        client.delete_server(vm.id)
        shared.close()
