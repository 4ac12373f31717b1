"""Deleting a VM whose snapshot uploads, asked for on purpose while the snapshot flow runs.

The snapshot is started the way a user starts it (the snapshot flow as a job of the panel's
runner); the local cloud keeps its upload going (``snapshot_stuck``). Meanwhile the delete is
asked for through the client, the delete flow and the real Servers panel on the local cloud:
each refuses with the rule's reason, and the VM and its snapshot are still there afterwards,
counted through a plain openstacksdk connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from denbi_jupyter.cloud.results import BootResult
from denbi_jupyter.cloud.rules.servers import ServerAction
from denbi_jupyter.errors import ConflictError
from denbi_jupyter.jobs import FlowRef, Job, JobRunner
from denbi_jupyter.panels import ServersPanel, Shared, SiteClients
from flows.boot import boot_server
from flows.servers import delete_server
from tests.flows.harness import LocalEnv
from tests.guards._support import image_ids, server_ids, unique, user_connection

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(240)]

SITE = "bielefeld"
REASON = "deleting it now would destroy the snapshot"


def _await_task_state(env: LocalEnv, server_id: str, timeout: float = 30.0) -> str:
    """The VM's Nova task state once a snapshot of it runs (polls Nova: nothing to wait on)."""
    deadline, tick = time.monotonic() + timeout, threading.Event()
    while True:
        server = env.client(SITE).get_server(server_id)
        assert server is not None, f"{server_id} vanished"
        if server.task_state and server.task_state.startswith("image_"):
            return server.task_state
        assert time.monotonic() < deadline, f"no snapshot of {server_id} started"
        tick.wait(0.05)


@pytest.fixture
def uploading(
    local_env: LocalEnv, faults: Callable[..., None], job_runner: JobRunner
) -> Iterator[tuple[BootResult, Job, str]]:
    """A VM whose snapshot (started by the snapshot flow as a job) keeps uploading."""
    vm = boot_server(
        site=SITE, image="X2Go_xfce", flavor="de.NBI tiny", key_name=None, name=unique("busy")
    )
    faults({"kind": "snapshot_stuck", "site": SITE, "count": 1})
    name = unique("busy-snap")
    job = job_runner.submit(
        "Snapshot", FlowRef.CREATE_SNAPSHOT, site=SITE, server=vm.server_id, name=name,
        timeout_s=10,
    )  # fmt: skip
    _await_task_state(local_env, vm.server_id)
    yield vm, job, name
    assert job.wait(60), "the snapshot job did not end"
    with user_connection(local_env.clouds_yaml, SITE) as conn:  # plain Nova deletes anyway
        conn.compute.delete_server(vm.server_id, ignore_missing=True)
        for image in conn.image.images(owner=conn.current_project_id):
            if image.name == name:
                conn.image.delete_image(image.id, ignore_missing=True)


def _snapshot_ids(env: LocalEnv, name: str) -> set[str]:
    with user_connection(env.clouds_yaml, SITE) as conn:
        return {str(image.id) for image in conn.image.images(name=name)}


def test_client_flow_and_panel_refuse_to_delete_a_vm_whose_snapshot_uploads(
    local_env: LocalEnv, uploading: tuple[BootResult, Job, str], job_runner: JobRunner
) -> None:
    vm, job, name = uploading
    snapshots = _snapshot_ids(local_env, name)
    assert len(snapshots) == 1 and not job.done

    with pytest.raises(ConflictError, match=REASON):
        local_env.client(SITE).delete_server(vm.server_id)
    with pytest.raises(ConflictError, match=f"is taking a snapshot .*{REASON}"):
        delete_server(site=SITE, server=vm.name)

    shared = Shared(SiteClients(local_env.client, [SITE]), runner=job_runner, debounce_s=0.0,
                    warm_up=False)  # fmt: skip
    panel = ServersPanel(shared)
    try:
        assert panel.wait_idle(60), panel.error
        row = next(r for r in panel._rows.rows if r.server_id == vm.server_id)
        button = row.buttons[ServerAction.DELETE]
        assert button.disabled and REASON in button.tooltip
        before = len(panel.jobs.cards)
        panel.ask_delete(vm.server_id)  # a stale click
        assert panel.confirm_id == "" and "Wait until the snapshot is active" in row.note.value
        assert len(panel.jobs.cards) == before
    finally:
        panel.close()
        shared.close()

    with user_connection(local_env.clouds_yaml, SITE) as conn:
        assert vm.server_id in server_ids(conn)
        assert snapshots <= image_ids(conn)
    assert not job.done or "Timed out" in (job.error or "")  # the snapshot went on
