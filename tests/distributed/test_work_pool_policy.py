"""The distributed path: the policy deployment on a worker, and a panel's run outliving its kernel.

Everything real on loopback: a Prefect server, the ``denbi-process`` pool, the deployments of
``prefect.yaml`` deployed by ``prefect deploy --all``, one ``prefect worker`` subprocess, the
local cloud reached through its clouds.yaml (see ``conftest.py``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from uuid import UUID

import pytest

from denbi_jupyter.cloud.policy_markdown import quota_line
from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.results import SnapshotResult
from denbi_jupyter.cloud.rules.policy import POLICY_KEY
from denbi_jupyter.cloud.rules.policy_runs import POLICY_SCHEDULE
from denbi_jupyter.cloud.rules.retention import SCHEDULE_KEY
from denbi_jupyter.cloud.types import Image
from denbi_jupyter.jobs import FlowRef, JobRunner, JobState
from tests.distributed.conftest import POOL, ROOT, SITE, TeamPrefect
from tests.panels._support import wait_until

pytestmark = pytest.mark.distributed

RUN_WITHIN = 150.0
#: Two slots of "daily 02:00" a day apart (a Tuesday and a Wednesday: "weekly sun" is not due).
FIRST_SLOT = "2030-01-01T02:05:00+00:00"
SECOND_SLOT = "2030-01-02T02:05:00+00:00"


@contextlib.contextmanager
def _api(team: TeamPrefect) -> Iterator[None]:
    """This process's Prefect client talks to the team's server inside the block."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: team.server.api_url}):
        yield


def _flow_run(team: TeamPrefect, run_id: str) -> object:
    from prefect.client.orchestration import get_client

    with _api(team), get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(run_id))


def _await_final(team: TeamPrefect, run_id: str) -> object:
    wait_until(
        lambda: getattr(_flow_run(team, run_id), "state").is_final(),  # noqa: B009
        timeout=RUN_WITHIN,
        what=f"flow run {run_id} to end",
    )
    return _flow_run(team, run_id)


def _boot(client: CloudClient, name: str, metadata: dict[str, str] | None = None) -> str:
    image = client.find_image("X2Go_xfce")
    flavor = min(client.list_flavors(), key=lambda size: size.ram_mb)
    server = client.create_server(
        name=name, image_id=image.id, flavor_id=flavor.id, key_name=None, metadata=metadata
    )
    wait_until(
        lambda: getattr(client.get_server(server.id), "status", "") == "ACTIVE",
        timeout=60,
        what=f"{name} to be ACTIVE",
    )
    return server.id


def _policy_snapshots(client: CloudClient, server_id: str) -> list[Image]:
    return [
        image
        for image in client.find_images_by_property(SOURCE_SERVER_ID, server_id)
        if image.properties.get(SCHEDULE_KEY) == POLICY_SCHEDULE
    ]


def _artifact(team: TeamPrefect, run_id: str, key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    with _api(team), get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[key]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(run_id)]),
            )
        )
    assert len(found) == 1, found
    return str(found[0].data)


def _row(markdown: str, vm: str) -> str:
    rows = [line for line in markdown.splitlines() if line.startswith(f"| {vm} |")]
    assert len(rows) == 1, markdown
    return rows[0]


def _run_policies(team: TeamPrefect, at: str) -> str:
    run_id = team.run_deployment("snapshot-policies/snapshot-policies", at=at)
    run = _await_final(team, run_id)
    state = getattr(run, "state")  # noqa: B009
    assert state.is_completed(), (state, team.worker_output()[-3000:])
    assert getattr(run, "work_pool_name") == POOL  # noqa: B009
    assert f"submitting flow run '{run_id}'" in team.worker_output()
    return run_id


def test_the_worker_runs_the_policy_deployment_snapshotting_the_due_vms_and_pruning(
    team_prefect: TeamPrefect,
) -> None:
    team = team_prefect
    client = team.client()
    team.admin("POST", "/_admin/image-limits", {"site": SITE, "image_count_total": 500})
    daily = _boot(client, "pol-daily", {POLICY_KEY: "daily 02:00; tz=UTC; keep=1"})
    weekly = _boot(client, "pol-weekly", {POLICY_KEY: "weekly sun 03:30; tz=UTC; keep=2"})
    plain = _boot(client, "pol-none")

    _run_policies(team, FIRST_SLOT)
    first = _policy_snapshots(client, daily)
    assert len(first) == 1 and first[0].status == "active"
    assert _policy_snapshots(client, weekly) == [] and _policy_snapshots(client, plain) == []
    by_hand_id = client.create_snapshot(
        daily, name="pol-daily-by-hand", metadata={SOURCE_SERVER_ID: daily}
    )
    wait_until(
        lambda: getattr(client.get_image(by_hand_id), "status", "") == "active",
        timeout=60,
        what="the hand-made snapshot to be active",
    )

    second_run = _run_policies(team, SECOND_SLOT)
    second = _policy_snapshots(client, daily)
    assert len(second) == 1 and second[0].id != first[0].id  # one new, the planned one gone
    assert client.get_image(first[0].id) is None
    assert getattr(client.get_image(by_hand_id), "status", "") == "active"
    assert _policy_snapshots(client, weekly) == [] and _policy_snapshots(client, plain) == []

    markdown = _artifact(team, second_run, f"snapshot-policies-{SITE}")
    assert f"✅ `{second[0].id}`" in _row(markdown, "pol-daily")
    assert _row(markdown, "pol-daily").endswith("| 1 | 1 |")
    assert _row(markdown, "pol-weekly").endswith("| none | 0 |")
    assert "| pol-none |" not in markdown
    deleted = markdown.split("## pol-daily: deleted", 1)[1]
    assert first[0].id in deleted and by_hand_id not in markdown
    usage = client.image_usage()
    assert usage.count_limit == 500 and usage.count_used  # the worker read the same quota
    assert quota_line(usage) in markdown
    assert f"{500 - usage.count_used} of 500 images left" in markdown


_CHILD = """
import sys, threading
from denbi_jupyter.jobs import FlowRef, JobRunner, JobState

running = threading.Event()
runner = JobRunner()  # the pool comes from DENBI_WORK_POOL, as in a panel's kernel
job = runner.submit("Snapshot survivor → kept", FlowRef.CREATE_SNAPSHOT,
                    site=sys.argv[1], server=sys.argv[2], name="survivor-kept")
job.on_update(lambda j: running.set() if j.state is JobState.RUNNING or j.done else None)
running.wait(300)
print(job.state.value, job.flow_run_id, job.error, flush=True)
job.wait()
"""


def _start_kernel(team: TeamPrefect, server_id: str) -> tuple[subprocess.Popen[str], list[str]]:
    env = {**team.env, "DENBI_WORK_POOL": POOL}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, SITE, server_id],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    assert child.stdout is not None
    stream = child.stdout
    threading.Thread(target=lambda: lines.extend(stream), daemon=True).start()
    return child, lines


def test_a_snapshot_started_on_the_pool_survives_its_kernel_being_killed(
    team_prefect: TeamPrefect,
) -> None:
    team = team_prefect
    client = team.client()
    server_id = _boot(client, "survivor")
    # Slow Glance reads down, so the run is surely still going when the kernel dies.
    slow = {"kind": "latency", "site": SITE, "service": "image", "method": "GET", "seconds": 3}
    team.admin("POST", "/_admin/faults", [slow])
    try:
        child, lines = _start_kernel(team, server_id)
        try:
            wait_until(lambda: lines, timeout=RUN_WITHIN, what="the kernel's job to run")
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(30)
        state, run_id, _error = lines[0].split()
        assert state == JobState.RUNNING.value, lines

        runner = JobRunner(work_pool=POOL)  # a new kernel: nothing in memory
        with _api(team):
            jobs = runner.in_flight(FlowRef.CREATE_SNAPSHOT)
        assert [job.flow_run_id for job in jobs] == [run_id]
        job = jobs[0]
        assert job.title == "Snapshot survivor → kept" and not job.done
        wait_until(lambda: job.progress is not None, timeout=60, what="remote progress")
    finally:
        team.admin("DELETE", "/_admin/faults")
    try:
        assert job.wait(RUN_WITHIN), job
        assert job.state is JobState.COMPLETED, (job.error, team.worker_output()[-3000:])
        result = job.result
        assert isinstance(result, SnapshotResult) and result.name == "survivor-kept"
        assert result.flow_run_id == run_id and job.progress == 1.0
        wait_until(
            lambda: any("Finished in state Completed" in line for line in job.logs),
            timeout=30,
            what="the run's last log lines",
        )
        assert getattr(client.get_image(result.image_id), "status", "") == "active"
        made = client.find_images_by_property(SOURCE_SERVER_ID, server_id)
        assert [image.id for image in made] == [result.image_id]
        with _api(team):
            assert runner.in_flight() == ()
    finally:
        runner.close()
