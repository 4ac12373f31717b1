"""Long steps run as background jobs: boot, bulk delete, start from snapshot, snapshot.

The flows run for real (Prefect test harness) against the FakeCloud the panel shows.
"""

from __future__ import annotations

from typing import Any

import pytest

from denbi_jupyter.errors import PermissionDeniedError
from denbi_jupyter.panels import ImagePanel, Shared, SnapshotPanel
from denbi_jupyter.panels.jobs_view import PendingJobCard
from tests.panels._support import loaded, page_of, texts, wait_until
from tests.panels.conftest import RecordingProbe
from tests.support.fake_cloud import FakeCloud

pytestmark = pytest.mark.timeout(180)


def test_boot_runs_in_the_background_and_ends_on_a_connection_card(
    fake: FakeCloud, job_shared: Shared, probe: RecordingProbe
) -> None:
    panel = loaded(ImagePanel(job_shared, probe=probe))
    booted: list[tuple[str, str]] = []
    panel.on_booted(lambda site, server: booted.append((site, server)))
    image = next(i for i in panel.images if i.name == "X2Go_xfce")
    panel.select(image.id)
    panel._boot_name.value = "desk-1"
    panel._boot_button.click()
    first = panel.jobs.children[0]  # shown at once, before the runner has the job
    assert isinstance(first, PendingJobCard) or not first.job.done
    assert "Boot desk-1 from X2Go_xfce" in texts(first)
    wait_until(lambda: panel.jobs.cards, what="a job card")
    card = panel.jobs.cards[0]
    assert card.job.title == "Boot desk-1 from X2Go_xfce"
    assert card.job.wait(120)
    wait_until(lambda: panel._connections.children, what="the connection card")
    assert card.state == "completed", card.job.error
    assert "desk-1 is ACTIVE" in card._outcome.value
    connection = panel._connections.children[0]
    connection.wait_idle()
    assert connection._ssh_command.value.startswith("ssh -p ")
    assert "X2Go session file (XFCE)" in connection._links.value
    server = next(s for s in fake.servers.values() if s.name == "desk-1")
    assert booted == [("fake", server.id)]
    assert panel._boot_name.value == "desk-1"  # the form keeps its inputs


def test_bulk_delete_reports_each_snapshot_and_leaves_protected_ones(
    fake: FakeCloud, job_shared: Shared
) -> None:
    panel = loaded(SnapshotPanel(job_shared))
    ids = {s.name: s.id for s in page_of(panel).items}
    panel.ask_delete([ids["analysis-snap"], ids["assembly-snap"], ids["golden-snap"]])
    panel.confirmation._yes.click()
    wait_until(lambda: panel.confirmation.results, timeout=120, what="delete results")
    panel.wait_idle()
    results = {name: (ok, message) for name, ok, message in panel.confirmation.results}
    assert results["analysis-snap"] == (True, "deleted")
    assert results["assembly-snap"] == (True, "deleted")
    assert results["golden-snap"][0] is False and "protected" in results["golden-snap"][1]
    assert "2 of 3 deleted" in panel.confirmation._results.value
    wait_until(lambda: {s.name for s in page_of(panel).items} == {"golden-snap", "theirs-snap"})
    assert {i.name for i in fake.images.values() if i.is_snapshot} == {
        "golden-snap",
        "theirs-snap",
    }


def test_a_double_click_on_delete_runs_one_delete_flow(
    fake: FakeCloud, job_shared: Shared, job_runner: Any
) -> None:
    panel = loaded(SnapshotPanel(job_shared))
    ids = {s.name: s.id for s in page_of(panel).items}
    panel.ask_delete([ids["analysis-snap"], ids["assembly-snap"]])
    jobs_before = len(job_runner.jobs)
    panel.confirmation._yes.click()
    panel.confirmation._yes.click()  # the second click of a double click
    wait_until(lambda: panel.confirmation.results, timeout=120, what="delete results")
    panel.wait_idle()
    assert len(job_runner.jobs) == jobs_before + 1
    assert "2 of 2 deleted" in panel.confirmation._results.value
    assert sum(method == "delete_image" for method, _ in fake.calls) == 2


def test_a_failed_delete_is_reported_per_item(fake: FakeCloud, job_shared: Shared) -> None:
    panel = loaded(SnapshotPanel(job_shared))
    target = next(s for s in page_of(panel).items if s.name == "assembly-snap")
    fake.fail_next("delete_image", PermissionDeniedError("Glance refused: image is in use."))
    panel.ask_delete_one(target.id)
    panel.confirmation._yes.click()
    wait_until(lambda: panel.confirmation.results, timeout=120, what="delete results")
    name, ok, message = panel.confirmation.results[0]
    assert (name, ok) == ("assembly-snap", False) and "in use" in message
    assert any(s.name == "assembly-snap" for s in page_of(panel).items)


def test_a_failed_delete_keeps_its_same_named_twin_listed_and_selected(
    fake: FakeCloud, job_shared: Shared
) -> None:
    twins = [fake.add_snapshot("nightly"), fake.add_snapshot("nightly")]
    panel = loaded(SnapshotPanel(job_shared))
    fake.fail_next("delete_image", PermissionDeniedError("Glance refused: image is in use."))
    panel.table.selected = tuple(s.id for s in twins)
    panel.table._delete_selected.click()
    panel.confirmation._yes.click()
    wait_until(lambda: panel.confirmation.results, timeout=120, what="delete results")
    panel.wait_idle()
    assert sorted(ok for _, ok, _ in panel.confirmation.results) == [False, True]
    left = [s.id for s in twins if s.id in fake.images]
    assert len(left) == 1  # one delete failed: that snapshot still exists
    assert panel.selected == tuple(left)
    listed = {s.id for s in page_of(panel).items}
    assert left[0] in listed and not ({s.id for s in twins} - set(left)) & listed
    assert "index: 5 snapshots" in panel.table._index_badge.value


def test_create_snapshot_job_adds_the_snapshot_to_the_table(
    fake: FakeCloud, job_shared: Shared
) -> None:
    panel = loaded(SnapshotPanel(job_shared))
    vm2 = next(s for s in fake.servers.values() if s.name == "vm2")
    panel.create._server.value = vm2.id
    panel.create._name.value = "vm2-nightly"
    panel.wait_idle()
    assert panel.create.preflight.ok and not panel.create._go.disabled
    panel.create._go.click()
    wait_until(lambda: panel.jobs.cards, what="a job card")
    card = panel.jobs.cards[0]
    assert card.job.wait(120), "snapshot job did not end"
    assert card.state == "completed", card.job.error
    wait_until(lambda: any(s.name == "vm2-nightly" for s in page_of(panel).items))
    assert "Snapshot vm2-nightly is active" in texts(card)
    assert panel.create._name.value == ""


def test_start_vm_from_snapshot_uses_the_chosen_flavor(fake: FakeCloud, job_shared: Shared) -> None:
    panel = loaded(SnapshotPanel(job_shared))
    snap = next(s for s in page_of(panel).items if s.name == "analysis-snap")
    panel.open_launch(snap.id)
    panel.relaunch._name.value = "again-1"
    panel.relaunch._go.click()
    wait_until(lambda: panel.jobs.cards, what="a job card")
    assert panel.jobs.cards[0].job.wait(120)
    server = next(s for s in fake.servers.values() if s.name == "again-1")
    assert server.image_id == snap.id and server.flavor_name == "de.NBI small"


def test_a_failed_boot_says_why_in_its_card_and_keeps_the_form(
    fake: FakeCloud, job_shared: Shared, probe: RecordingProbe
) -> None:
    from denbi_jupyter.errors import QuotaExceededError

    panel = loaded(ImagePanel(job_shared, probe=probe))
    panel.select(panel.images[0].id)
    panel._boot_name.value = "too-many"
    fake.fail_next(
        "create_server", QuotaExceededError("Project my-project is out of instances: delete one.")
    )
    panel._boot_button.click()
    wait_until(lambda: panel.jobs.cards, what="a job card")
    card = panel.jobs.cards[0]
    assert card.job.wait(120)
    wait_until(lambda: card.state == "failed", what="the failed state")
    assert "out of instances: delete one" in card._outcome.value
    assert "denbi-error" in card._outcome.value and card._bar.bar_style == "danger"
    assert panel._connections.children == ()
    assert panel._boot_name.value == "too-many" and not panel._boot_button.disabled
    assert any("started job 'Boot too-many" in line for line in job_shared.log.lines)
