"""Rough edges of the snapshot tab a user met in a real browser (issue 10), one test each.

The name suggestion follows the VM, the VM list follows the jobs, the delete confirmation opens
next to its row, no message outlives its truth, job cards name their site, the activity log has
times and outcomes, the table fits the side area, and "stop it first" offers Stop.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import ipywidgets as w
import pytest

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.errors import QuotaExceededError
from denbi_jupyter.jobs import Job
from denbi_jupyter.panels import ActivityLog, Shared, SiteClients, SnapshotPanel, _snapshot_create
from denbi_jupyter.panels._background import Outcome
from denbi_jupyter.panels._snapshot_rows import (
    ACTIONS_WIDTH,
    CHECK_WIDTH,
    DETAILS,
    cells_html,
    header_html,
)
from denbi_jupyter.panels.jobs_view import JobCard, JobList
from tests.panels._support import loaded, page_of, shown, texts, vm_id, wait_until
from tests.support.fake_cloud import FakeCloud

JOB_TIMEOUT = pytest.mark.timeout(180)


def snap(panel: SnapshotPanel, name: str) -> str:
    return next(s.id for s in page_of(panel).items if s.name == name)


# --- 1. the name suggestion follows the VM ---------------------------------------------------
def test_the_suggested_name_follows_the_chosen_vm_until_the_user_types_one(
    fake: FakeCloud, shared: Shared
) -> None:
    panel = loaded(SnapshotPanel(shared))
    form = panel.create
    form._server.value = vm_id(fake, "vm1")
    panel.wait_idle()
    assert form._name.value.startswith("vm1-")
    form._server.value = vm_id(fake, "vm2")
    panel.wait_idle()
    assert form._name.value.startswith("vm2-")  # was: still "vm1-…"
    assert form.preflight is not None and form.preflight.name.startswith("vm2-")
    form._name.value = "my-own-name"
    form._server.value = vm_id(fake, "vm1")
    panel.wait_idle()
    assert form._name.value == "my-own-name"  # the user's name is never replaced


# --- 2. the VM list follows the jobs ----------------------------------------------------------
def test_the_create_forms_public_reload_fetches_vms_made_elsewhere(
    fake: FakeCloud, shared: Shared
) -> None:
    panel = loaded(SnapshotPanel(shared))
    fresh = fake.add_server("made-in-horizon", status="SHUTOFF")
    panel.create.reload()
    panel.wait_idle()
    assert fresh.id in [value for _, value in panel.create._server.options]


@JOB_TIMEOUT
def test_a_vm_started_from_a_snapshot_appears_in_the_create_forms_vm_list(
    fake: FakeCloud, job_shared: Shared
) -> None:
    panel = loaded(SnapshotPanel(job_shared))
    panel.open_launch(snap(panel, "analysis-snap"))
    panel.relaunch._name.value = "relaunched-1"
    panel.relaunch._go.click()
    wait_until(lambda: panel.jobs.cards, what="the boot job's card")
    assert panel.jobs.cards[0].job.wait(120)
    new_id = vm_id(fake, "relaunched-1")
    wait_until(
        lambda: new_id in [value for _, value in panel.create._server.options],
        what="the relaunched VM in the create form",
    )
    assert any(s.name == "relaunched-1" for s in panel.servers)


# --- 3. the delete confirmation opens where the user looks ------------------------------------
def test_a_rows_delete_confirmation_opens_right_under_that_row(shared: Shared) -> None:
    panel = loaded(SnapshotPanel(shared))
    row = next(r for r in panel.table.rows if panel.table.name_of(r.snapshot_id) == "assembly-snap")
    row.delete.click()
    body = panel.table.rows_view._body.children
    assert body[body.index(row.box) + 1] is panel.confirmation
    assert shown(panel.confirmation.box)
    assert panel.confirmation not in panel.children  # not far below the table any more
    assert panel.table._slot.children == ()
    panel.confirmation._no.click()
    panel.table._select_page.click()
    panel.table._delete_selected.click()  # a bulk delete: under the selection bar
    assert panel.table._slot.children == (panel.confirmation,)
    assert panel.confirmation not in panel.table.rows_view._body.children
    table = panel.table.children
    assert table.index(panel.table._slot) < table.index(panel.table.rows_view)


def test_a_rows_confirmation_moves_above_the_rows_when_its_row_leaves_the_page(
    shared: Shared,
) -> None:
    panel = loaded(SnapshotPanel(shared))
    panel.ask_delete_one(next(r.snapshot_id for r in panel.table.rows))
    panel.table.text = "no-such-snapshot"
    panel.wait_idle()
    assert panel.table._slot.children == (panel.confirmation,)  # still seen, never twice
    assert panel.confirmation not in panel.table.rows_view._body.children


# --- 4. no message outlives its truth ---------------------------------------------------------
def test_a_click_while_the_preflight_runs_leaves_no_stale_wait_message(
    fake: FakeCloud, shared: Shared, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = loaded(SnapshotPanel(shared))
    release = threading.Event()
    real = vars(_snapshot_create)["preflight"]

    def held(client: CloudClient, server_id: str, name: str) -> object:
        release.wait(30)
        return real(client, server_id, name)

    monkeypatch.setattr(_snapshot_create, "preflight", held)
    panel.create._server.value = vm_id(fake, "vm2")
    panel.create._name.value = "vm2-weekly"
    assert panel.create.preflighting
    panel.create.create()  # too early
    assert "Wait for the pre-flight" in panel.create._preflight_html.value
    release.set()
    panel.wait_idle()
    assert panel.create.preflight.ok
    html = panel.create._preflight_html.value
    assert "Wait for the pre-flight" not in html and "All pre-flight checks passed" in html


@JOB_TIMEOUT
def test_a_double_click_on_create_starts_one_snapshot_and_leaves_no_message(
    fake: FakeCloud, job_shared: Shared, job_runner: Any
) -> None:
    panel = loaded(SnapshotPanel(job_shared))
    panel.create._server.value = vm_id(fake, "vm2")
    panel.create._name.value = "vm2-once"
    panel.wait_idle()
    before = len(job_runner.jobs)
    panel.create._go.click()
    panel.create._go.click()  # the second click of a double click
    wait_until(lambda: panel.jobs.cards, what="the snapshot job's card")
    assert panel.jobs.cards[0].job.wait(120)
    panel.wait_idle()
    assert len(job_runner.jobs) == before + 1
    assert [i.name for i in fake.images.values()].count("vm2-once") == 1
    assert panel.create.create_error == ""
    assert "Wait for the pre-flight" not in panel.create._preflight_html.value


@JOB_TIMEOUT
def test_a_finished_delete_report_clears_when_the_filter_changes(
    fake: FakeCloud, job_shared: Shared
) -> None:
    panel = loaded(SnapshotPanel(job_shared))
    panel.ask_delete([snap(panel, "analysis-snap"), snap(panel, "assembly-snap")])
    panel.confirmation._yes.click()
    wait_until(lambda: panel.confirmation.results, timeout=120, what="delete results")
    panel.wait_idle()
    assert "2 of 2 deleted" in panel.confirmation._results.value
    panel.table.text = "golden"
    panel.wait_idle()
    assert "deleted" not in panel.confirmation._results.value
    assert "2 of 2 deleted" not in texts(panel.table)  # the job's card keeps its own outcome


# --- 5. job cards name their site -------------------------------------------------------------
def test_a_job_card_names_the_site_its_job_runs_on() -> None:
    jobs = JobList()
    pending = jobs.add_pending("Stop vm1", site="heidelberg")
    assert "on <b>heidelberg</b>" in texts(pending)
    card = jobs.add(JobCard(Job("Stop vm1"), site="heidelberg"), replacing=pending)
    assert "Stop vm1" in card._header.value and "on <b>heidelberg</b>" in card._header.value
    assert jobs.children == (card,)


def test_a_job_started_on_one_site_keeps_its_site_after_a_switch(job_runner: Any) -> None:
    a, b = FakeCloud(project_id="p-A"), FakeCloud(project_id="p-B")
    a.add_server("far-vm", status="SHUTOFF")
    clouds = {"A": a, "B": b}
    shared = Shared(SiteClients(clouds.__getitem__, list(clouds)), runner=job_runner, warm_up=False)
    panel = loaded(SnapshotPanel(shared, site="A"))
    panel.create._name.value = "far-snap"
    panel.wait_idle()
    panel.create._go.click()
    panel.site = "B"
    wait_until(lambda: panel.jobs.cards, what="the snapshot job's card")
    assert panel.jobs.cards[0].site == "A"
    assert "on <b>A</b>" in panel.jobs.cards[0]._header.value
    assert panel.jobs.cards[0].job.wait(120)
    shared.background.shutdown()


# --- 6. the activity log has times and outcomes -----------------------------------------------
def test_every_activity_log_entry_shows_its_local_time() -> None:
    log = ActivityLog()
    log.info("loaded 4 snapshots")
    (entry,) = log.entries
    assert entry.time.tzinfo is not None and entry.outcome is None
    shown_text = "".join(str(out["text"]) for out in log._output.outputs)
    assert shown_text == f"{entry.time:%H:%M:%S}  loaded 4 snapshots\n"
    assert re.fullmatch(r"\d\d:\d\d:\d\d  loaded 4 snapshots", entry.shown())
    assert log.lines == ("loaded 4 snapshots",)


@JOB_TIMEOUT
def test_the_activity_log_records_how_each_job_ended(job_runner: Any) -> None:
    log = ActivityLog()
    good = job_runner.submit("Count", lambda: 3)
    log.follow_job(good, site="bielefeld", describe_result=lambda n: f"{n} counted.")

    def refuse() -> None:
        raise QuotaExceededError("Project p is out of instances: delete one.")

    bad = job_runner.submit("Boot big", refuse)
    log.follow_job(bad, site="bielefeld")
    assert good.wait(60) and bad.wait(60)
    wait_until(lambda: len(log.entries) == 4, what="four entries")
    outcomes = {(e.outcome, e.text) for e in log.entries}
    assert (Outcome.STARTED, "started job 'Count' on bielefeld") in outcomes
    assert (Outcome.DONE, "done job 'Count' on bielefeld: 3 counted.") in outcomes
    failed = next(e for e in log.entries if e.outcome is Outcome.FAILED)
    assert "job 'Boot big' on bielefeld" in failed.text and "out of instances" in failed.text
    assert sum(e.outcome is Outcome.DONE for e in log.entries) == 1  # once, not per update


# --- 7. the table fits the side area ----------------------------------------------------------
def opening_styles(html: str) -> list[tuple[str, str]]:
    """``(class, style)`` of every element of ``html``, in order."""
    found: list[tuple[str, str]] = re.findall(r'<div (?:class="([^"]*)" )?style="([^"]*)"', html)
    return found


def test_header_and_rows_share_one_wrapping_structure(fake: FakeCloud, shared: Shared) -> None:
    panel = loaded(SnapshotPanel(shared))
    header = panel.table.rows_view._header
    row = panel.table.rows[0]
    head_check, head_strip, head_actions = header.children
    row_check, row_strip, row_actions = row.box.children
    for head, cell, width in (
        (head_check, row_check, CHECK_WIDTH),
        (head_actions, row_actions, ACTIONS_WIDTH),
    ):
        assert head.layout.width == cell.layout.width == width
        assert head.layout.flex == cell.layout.flex == f"0 0 {width}"
    assert head_strip.layout.flex == row_strip.layout.flex == "1 1 0%"
    assert head_strip.layout.min_width == row_strip.layout.min_width == "0"
    assert header.layout.flex_flow == row.box.layout.flex_flow == "row nowrap"
    # The strips: the same classes and layout styles in the same order (font weight aside).
    head = [
        (cls, style.replace(";font-weight:600;color:#495057", ""))
        for cls, style in opening_styles(head_strip.value)
    ]
    cells = opening_styles(row_strip.value)
    assert [c for c, _ in head[:3]] == [c for c, _ in cells[:3]] == [
        "denbi-snapshot-strip", "denbi-snapshot-name", "denbi-snapshot-details",
    ]  # fmt: skip
    assert head[:3] == cells[:3]
    assert len(head) == len(cells) == 3 + len(DETAILS)
    strip, name, details = (style for _, style in cells[:3])
    assert "flex-wrap:wrap" in strip  # the details go under the name when narrow
    assert "flex:2 1 160px" in name and "min-width:0" in name
    assert "repeat(auto-fit,minmax(72px,1fr))" in details and "min-width:0" in details


def test_no_cell_of_a_row_is_cut_off(fake: FakeCloud, shared: Shared) -> None:
    long = fake.add_snapshot("a-very-long-snapshot-name-that-goes-on-and-on-2026-06-10-0900")
    panel = loaded(SnapshotPanel(shared))
    panel.table.text = "very-long"
    panel.wait_idle()
    html = panel.table.rows[0].cells.value
    assert long.name in html and "1.1 GB" in html
    for _, style in opening_styles(html):
        assert "text-overflow" not in style and "nowrap" not in style
        assert "overflow:hidden" not in style
    assert html.count("overflow-wrap:anywhere") >= 1 + len(DETAILS)


def test_toolbars_pager_and_form_fields_wrap_within_the_side_area(shared: Shared) -> None:
    panel = loaded(SnapshotPanel(shared))
    table = panel.table
    boxes = [c for c in table.children if isinstance(c, w.HBox)]
    assert len(boxes) == 3  # filter bar, selection bar, pager
    assert all(box.layout.flex_flow == "row wrap" for box in boxes)
    assert table._filter.layout.max_width == "100%"
    assert panel.create._server.layout.max_width == panel.create._name.layout.max_width == "100%"
    assert header_html().count("<div") == cells_html(page_of(panel).items[0], refusal=None).count(
        "<div"
    )


def test_one_snapshot_is_counted_in_the_singular(fake: FakeCloud) -> None:
    lone = FakeCloud()
    lone.add_snapshot("only-one")
    panel = loaded(SnapshotPanel(Shared(SiteClients(lone), debounce_s=0, warm_up=False)))
    assert "Page 1 of 1 · 1 snapshot<" in panel.table._page_label.value
    assert "index: 1 snapshot<" in panel.table._index_badge.value
    panel.shared.background.shutdown()


# --- 8. "stop it first" offers Stop -----------------------------------------------------------
@JOB_TIMEOUT
def test_stop_it_first_offers_a_stop_that_runs_as_a_job_and_clears_the_warning(
    fake: FakeCloud, job_shared: Shared
) -> None:
    panel = loaded(SnapshotPanel(job_shared))
    form = panel.create
    form._server.value = vm_id(fake, "vm2")  # SHUTOFF: nothing to stop
    panel.wait_idle()
    assert not shown(form._stop_row)
    form._server.value = vm_id(fake, "vm1")
    panel.wait_idle()
    assert "stop it first" in form._preflight_html.value
    assert shown(form._stop_row) and not form._stop.disabled
    form._stop.click()
    assert form._stop.disabled and form._stop.description == "Stopping…"
    wait_until(lambda: panel.jobs.cards, what="the stop job's card")
    card = panel.jobs.cards[0]
    assert card.job.title == "Stop vm1" and card.site == "fake"
    assert card.job.wait(120)
    assert card.state == "completed", card.job.error
    wait_until(
        lambda: getattr(form.server(vm_id(fake, "vm1")), "status", "") == "SHUTOFF",
        what="a fresh VM list",
    )
    wait_until(lambda: not form.stopping, what="the stop to be over")
    panel.wait_idle()
    assert fake.servers[vm_id(fake, "vm1")].status == "SHUTOFF"
    assert "stop it first" not in form._preflight_html.value
    assert form.preflight.ok and not shown(form._stop_row)
    assert "vm1 is SHUTOFF" in card._outcome.value


def test_a_stop_refused_by_the_rules_says_why_and_starts_nothing(
    fake: FakeCloud, shared: Shared
) -> None:
    fake.add_server("busy-vm", status="ACTIVE", task_state="rebooting")
    panel = loaded(SnapshotPanel(shared))
    panel.create._server.value = vm_id(fake, "busy-vm")
    panel.wait_idle()
    assert "stop it first" in panel.create._preflight_html.value
    assert not shown(panel.create._stop_row)  # no button the rules would refuse
    panel.create.stop_server()
    assert "is busy (rebooting)" in panel.create._preflight_html.value
    assert panel.jobs.cards == () and not panel.create.stopping


# --- 9. a copy button for the full OpenStack id -----------------------------------------------
def test_each_row_offers_to_copy_its_snapshots_full_id(shared: Shared) -> None:
    panel = loaded(SnapshotPanel(shared))
    for row in panel.table.rows:
        html = row.cells.value
        assert f'data-copy="{row.snapshot_id}"' in html
        assert 'data-label="Copy ID"' in html and f"{row.snapshot_id[:13]}…" in html
    assert "data-copy" not in panel.table.rows_view._header.children[1].value


def _click_again_while_the_card_is_built(
    jobs: JobList, button: w.Button, monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """The second click of a double click, landing while the first start builds its job card
    (the moment the start used to stop being busy); the number of such clicks made."""
    real = jobs.add
    clicked: list[int] = []

    def add(card: JobCard, **kwargs: Any) -> JobCard:
        if not clicked:
            clicked.append(1)
            button.click()
        return real(card, **kwargs)

    monkeypatch.setattr(jobs, "add", add)
    return clicked


@JOB_TIMEOUT
def test_a_double_click_on_delete_deletes_once_in_one_job(
    fake: FakeCloud, job_shared: Shared, job_runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = loaded(SnapshotPanel(job_shared))
    panel.ask_delete([snap(panel, "analysis-snap"), snap(panel, "assembly-snap")])
    before = len(job_runner.jobs)
    clicked = _click_again_while_the_card_is_built(
        panel.confirmation._jobs, panel.confirmation._yes, monkeypatch
    )
    panel.confirmation._yes.click()
    wait_until(lambda: panel.confirmation.results, timeout=120, what="delete results")
    panel.wait_idle()
    assert clicked == [1]
    assert len(job_runner.jobs) == before + 1 and len(panel.jobs.cards) == 1
    assert "2 of 2 deleted" in panel.confirmation._results.value
    assert not panel.confirmation.ids and not panel.confirmation.deleting


@JOB_TIMEOUT
def test_a_double_click_on_start_vm_boots_one_vm(
    fake: FakeCloud, job_shared: Shared, job_runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = loaded(SnapshotPanel(job_shared))
    panel.open_launch(snap(panel, "analysis-snap"))
    panel.relaunch._name.value = "again-once"
    before = len(job_runner.jobs)
    clicked = _click_again_while_the_card_is_built(
        panel.relaunch._jobs, panel.relaunch._go, monkeypatch
    )
    panel.relaunch._go.click()
    wait_until(lambda: panel.jobs.cards, what="the boot's card")
    assert panel.jobs.cards[0].job.wait(120)
    panel.wait_idle()
    assert clicked == [1]
    assert len(job_runner.jobs) == before + 1
    assert [s.name for s in fake.servers.values()].count("again-once") == 1
    assert panel.relaunch.launch_error == ""


@JOB_TIMEOUT
def test_the_select_all_note_goes_with_the_selection_it_described(
    fake: FakeCloud, job_shared: Shared
) -> None:
    panel = loaded(SnapshotPanel(job_shared))
    panel.table.select_all_matching()
    panel.wait_idle()
    assert panel.table.notice_text.startswith("Selected ")
    panel.ask_delete(list(panel.table.selected))
    panel.confirmation._yes.click()
    wait_until(lambda: panel.confirmation.results, timeout=120, what="delete results")
    panel.wait_idle()
    assert panel.table.selected == ()
    assert panel.table.notice_text == "" and "Selected " not in texts(panel.table)
