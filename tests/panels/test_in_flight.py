"""A panel opened later shows the runs still in flight on the work pool, in the tab that starts
them, and follows them to their end (a real Prefect test API; the test plays the worker)."""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Iterator, Sequence
from uuid import UUID

import pytest

from denbi_jupyter.jobs import FlowRef, Job, JobRunner, WorkPool
from denbi_jupyter.jobs._deployments import start_run
from denbi_jupyter.panels import CloudPanel, Shared, SiteClients
from denbi_jupyter.panels._in_flight import Tab, tab_of
from tests.panels._support import page_of, vm_id, wait_until
from tests.panels.conftest import RecordingProbe
from tests.support.fake_cloud import FakeCloud
from tests.support.pool import work_here

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(180)]

POOL = "panels-in-flight-pool"
DONE_WITHIN = 60.0


@pytest.fixture(scope="module")
def deployed(prefect_harness: None) -> Iterator[str]:
    """The pool with the snapshot and stop deployments on it (no worker: the test works runs);
    the deployments are removed afterwards (the harness is the session's)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    from flows.servers import stop_server
    from flows.snapshot import create_snapshot

    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
    applied: list[UUID] = []
    for flow, name in ((create_snapshot, "create-snapshot"), (stop_server, "stop-server")):
        deployment = flow.to_deployment(name=name, work_pool_name=POOL)
        assert not inspect.isawaitable(deployment)  # called from sync code: no coroutine
        deployment_id = deployment.apply()
        assert isinstance(deployment_id, UUID)
        applied.append(deployment_id)
    yield POOL
    with get_client(sync_client=True) as client:
        for deployment_id in applied:
            client.delete_deployment(deployment_id)


@pytest.fixture
def runs(deployed: str) -> Iterator[list[UUID]]:
    """Runs started on the pool in one test, cancelled after it (so none stays in flight)."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled

    started: list[UUID] = []
    yield started
    with get_client(sync_client=True) as client:
        for run_id in started:
            client.set_flow_run_state(run_id, Cancelled(), force=True)


def _start(runs: list[UUID], title: str, flow: FlowRef, **parameters: object) -> UUID:
    """A run on the pool as another kernel's panel would start it."""
    run = start_run(WorkPool(POOL), title, flow, parameters)
    runs.append(run.id)
    return run.id


def _work(run_id: UUID, fake: FakeCloud) -> threading.Thread:
    """Carry out the flow run here, as a worker of the pool would, against ``fake``."""
    from flows import use_clients
    from flows.snapshot import create_snapshot

    with use_clients(lambda _site: fake):
        return work_here(run_id, create_snapshot)


def _panel(fake: FakeCloud, runner: JobRunner) -> CloudPanel:
    shared = Shared(SiteClients(fake), runner=runner, debounce_s=0.0, warm_up=False)
    return CloudPanel(shared=shared, probe=RecordingProbe())


@pytest.fixture
def later(deployed: str) -> Iterator[JobRunner]:
    """The runner of a kernel opened after the runs started (same pool)."""
    runner = JobRunner(work_pool=WorkPool(deployed, poll_s=0.05, outcome_wait_s=10))
    yield runner
    runner.close()


def test_a_later_panel_shows_the_runs_in_flight_in_their_tabs_and_follows_them(
    fake: FakeCloud, later: JobRunner, runs: list[UUID]
) -> None:
    site = fake.site.name
    snap = _start(
        runs, "Snapshot vm2 → pooled", FlowRef.CREATE_SNAPSHOT,
        site=site, server=vm_id(fake, "vm2"), name="pooled",
    )  # fmt: skip
    _start(runs, "Stop vm1", FlowRef.STOP_SERVER, site=site, server=vm_id(fake, "vm1"))
    panel = _panel(fake, later)
    try:
        wait_until(lambda: panel.snapshots.jobs.cards, DONE_WITHIN, "the snapshot run's card")
        wait_until(lambda: panel.servers.jobs.cards, DONE_WITHIN, "the stop run's card")
        [card] = panel.snapshots.jobs.cards
        assert card.job.title == "Snapshot vm2 → pooled" and card.site == site
        assert card.job.flow_run_id == str(snap) and card.state == "pending"
        assert f"on <b>{site}</b>" in card._header.value
        [stop] = panel.servers.jobs.cards
        assert stop.job.title == "Stop vm1" and stop.site == site
        assert panel.images.jobs.cards == ()  # no boot in flight
        assert not any("pooled" in s.name for s in page_of(panel.snapshots).items)
        _work(snap, fake).join(DONE_WITHIN)
        wait_until(lambda: card.state == "completed", DONE_WITHIN, "the run's end on the card")
        assert card.progress == 1.0 and "Snapshot pooled is active" in card._outcome.value
        wait_until(
            lambda: any(s.name == "pooled" for s in page_of(panel.snapshots).items),
            DONE_WITHIN,
            "the new snapshot in the table",
        )  # the same follow-up as for the panel's own snapshot job
        assert stop.state == "pending"  # still waiting for a worker
        assert any("started elsewhere" in line for line in panel.shared.log.lines)
    finally:
        panel.close()


def test_runs_this_panel_state_started_are_not_shown_twice(
    fake: FakeCloud, later: JobRunner, runs: list[UUID]
) -> None:
    site = fake.site.name
    _start(runs, "Stop vm1", FlowRef.STOP_SERVER, site=site, server=vm_id(fake, "vm1"))
    shared = Shared(SiteClients(fake), runner=later, debounce_s=0.0, warm_up=False)
    own = shared.submit(
        later, lambda r: r.submit("Stop vm2", FlowRef.STOP_SERVER, site=site, server="vm2-id")
    )  # as a panel of this state starts it (its card is that panel's)
    wait_until(lambda: own.flow_run_id is not None, DONE_WITHIN, "the own run on the pool")
    runs.append(UUID(own.flow_run_id or ""))
    found: list[tuple[FlowRef, Job]] = []
    shown = threading.Event()

    def show(jobs: Sequence[tuple[FlowRef, Job]]) -> None:
        found.extend(jobs)
        shown.set()

    shared.show_in_flight(show)
    assert shown.wait(DONE_WITHIN)
    assert [(flow, job.title) for flow, job in found] == [(FlowRef.STOP_SERVER, "Stop vm1")]
    shared.show_in_flight(lambda _jobs: pytest.fail("asked twice"))  # once per panel state
    shared.background.shutdown()


def test_without_a_pool_nothing_is_asked(fake: FakeCloud) -> None:
    runner = JobRunner(work_pool=None)
    asked: list[object] = []

    def in_flight(flow: FlowRef | None = None) -> tuple[Job, ...]:
        asked.append(flow)
        return ()

    runner.in_flight = in_flight  # type: ignore[method-assign]
    shared = Shared(SiteClients(fake), runner=runner, debounce_s=0.0, warm_up=False)
    shared._find_in_flight(lambda jobs: asked.append(jobs))  # what the thread does, here
    assert asked == []
    idle = Shared(SiteClients(fake), debounce_s=0.0, warm_up=False)
    idle.show_in_flight(lambda jobs: asked.append(jobs))
    assert idle.runner.held is False  # no runner made (no Prefect) when warming up is off
    for state in (shared, idle):
        state.background.shutdown()


def test_each_flow_goes_to_the_tab_that_starts_it() -> None:
    assert tab_of(FlowRef.BOOT_SERVER, "Boot vm from X2Go_xfce") is Tab.IMAGES
    assert tab_of(FlowRef.BOOT_SERVER, "Start vm from nightly-snap") is Tab.SNAPSHOTS
    assert tab_of(FlowRef.CREATE_SNAPSHOT, "Snapshot vm → n") is Tab.SNAPSHOTS
    assert tab_of(FlowRef.DELETE_SNAPSHOTS, "Delete 2 snapshots") is Tab.SNAPSHOTS
    assert tab_of(FlowRef.REBOOT_SERVER, "Reboot vm") is Tab.SERVERS
    assert tab_of(FlowRef.DELETE_SERVER, "Delete vm") is Tab.SERVERS
    assert tab_of(FlowRef.CLEANUP_SNAPSHOTS, "Clean up") is None  # no tab starts it
