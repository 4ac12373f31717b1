"""JobRunner on a work pool: runs of deployments, followed through the Prefect API.

These tests use the session's Prefect test server: a deployment of ``create-snapshot`` on a
pool, and the flow run carried out in this process by Prefect's own flow engine, as a worker
would (``tests/distributed`` runs a real worker subprocess).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import threading
from collections.abc import Iterator
from uuid import UUID

import pytest

from denbi_jupyter.cloud.results import BootResult, SnapshotResult
from denbi_jupyter.connect.details import ConnectionDetails
from denbi_jupyter.connect.ssh import ConnectionInfo
from denbi_jupyter.connect.x2go import SessionType
from denbi_jupyter.errors import UserInputError
from denbi_jupyter.jobs import FlowRef, Job, JobRunner, JobState, WorkPool
from denbi_jupyter.jobs._deployments import WORK_POOL_ENV, typed_result
from flows.snapshot import create_snapshot
from tests.jobs.conftest import add_vm
from tests.panels._support import wait_until
from tests.support.fake_cloud import FakeCloud
from tests.support.pool import work_here

pytestmark = pytest.mark.usefixtures("prefect_harness")

POOL = "jobs-test-pool"
DONE_WITHIN = 60.0


@pytest.fixture(scope="module")
def deployed(prefect_harness: None) -> str:
    """The pool and a ``create-snapshot/create-snapshot`` deployment on it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
    deployment = create_snapshot.to_deployment(name="create-snapshot", work_pool_name=POOL)
    assert not inspect.isawaitable(deployment)  # called from sync code: no coroutine
    deployment.apply()
    return POOL


@pytest.fixture
def runner(deployed: str) -> Iterator[JobRunner]:
    jobs = JobRunner(work_pool=WorkPool(deployed, poll_s=0.05, outcome_wait_s=10))
    yield jobs
    jobs.close()


def _work(job: Job) -> threading.Thread:
    """Carry out the job's flow run here, as a worker of the pool would."""
    assert job.flow_run_id is not None
    return work_here(job.flow_run_id, create_snapshot)


def _submitted(runner: JobRunner, cloud: FakeCloud) -> Job:
    job = runner.submit(
        "Snapshot vm1 → pooled", FlowRef.CREATE_SNAPSHOT, site="fake", server="vm1", name="pooled"
    )
    assert job.wait(0.0) is False
    waiting = threading.Event()
    job.on_update(lambda j: waiting.set() if "Waiting for a worker" in j.message else None)
    assert waiting.wait(DONE_WITHIN), job
    assert job.state is JobState.PENDING and job.flow_run_id is not None
    assert cloud.calls == []  # nothing ran in the kernel
    return job


def test_the_pool_comes_from_the_environment_and_without_it_jobs_stay_in_the_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(WORK_POOL_ENV, raising=False)
    assert JobRunner().work_pool is None
    monkeypatch.setenv(WORK_POOL_ENV, "  ")
    assert JobRunner().work_pool is None
    monkeypatch.setenv(WORK_POOL_ENV, "denbi-process")
    assert JobRunner().work_pool == WorkPool("denbi-process")
    assert JobRunner(work_pool="team").work_pool == WorkPool("team")
    with pytest.raises(UserInputError, match="work pool name is empty"):
        WorkPool(" ")


def test_a_pool_run_shows_progress_logs_and_the_typed_result_like_a_kernel_run(
    runner: JobRunner, cloud: FakeCloud
) -> None:
    add_vm(cloud)
    job = _submitted(runner, cloud)
    later = JobRunner(work_pool=WorkPool(POOL, poll_s=0.05))  # another kernel, same pool
    try:
        [seen] = [
            j for j in later.in_flight(FlowRef.CREATE_SNAPSHOT) if j.flow_run_id == job.flow_run_id
        ]
        assert seen.title == "Snapshot vm1 → pooled" and seen is not job
        assert later.in_flight(FlowRef.CREATE_SNAPSHOT).count(seen) == 1  # followed once
        messages: list[str] = []
        job.on_update(lambda j: messages.append(j.message))
        _work(job).join(DONE_WITHIN)
        assert job.wait(DONE_WITHIN) and seen.wait(DONE_WITHIN)
    finally:
        later.close()
    assert job.state is JobState.COMPLETED and seen.state is JobState.COMPLETED, job.error
    assert isinstance(job.result, SnapshotResult) and job.result.name == "pooled"
    assert job.result == seen.result and job.result.flow_run_id == job.flow_run_id
    assert job.result.image_id in cloud.images and job.progress == 1.0
    assert any(message.startswith("Snapshot 'pooled' is active") for message in messages)
    wait_until(
        lambda: any("Finished in state Completed" in line for line in job.logs),
        timeout=30,
        what="the run's last log lines",
    )
    assert job not in runner.in_flight()
    assert not any("publish_outcome" in line for line in job.logs)  # the hook's lines: noise


def _artifacts_of(flow_run_id: str) -> list[object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        return list(
            client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)])
                )
            )
        )


def test_a_kernel_run_leaves_no_artifacts_and_no_hook_lines(
    cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(WORK_POOL_ENV, raising=False)
    add_vm(cloud)
    job = JobRunner().submit(
        "Snapshot", FlowRef.CREATE_SNAPSHOT, site="fake", server="vm1", name="here"
    )
    assert job.wait(DONE_WITHIN) and job.state is JobState.COMPLETED, job.error
    assert job.flow_run_id is not None and _artifacts_of(job.flow_run_id) == []
    assert not any("publish_outcome" in line for line in job.logs)
    assert any("Finished in state Completed" in line for line in job.logs)


def test_a_failed_pool_run_gives_the_same_sentence_and_error_type(
    runner: JobRunner, cloud: FakeCloud
) -> None:
    add_vm(cloud)
    cloud.snapshot_outcome = "killed"
    job = _submitted(runner, cloud)
    _work(job).join(DONE_WITHIN)
    assert job.wait(DONE_WITHIN)
    assert job.state is JobState.FAILED and job.error_type == "OperationFailedError"
    assert job.error is not None and "ended with Glance status 'killed'" in job.error


def test_a_pool_without_a_prefect_server_says_to_set_prefect_api_url(deployed: str) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        job = JobRunner(work_pool=deployed).submit("Snapshot", FlowRef.CREATE_SNAPSHOT, site="s")
    assert job.wait(DONE_WITHIN) and job.state is JobState.FAILED
    assert job.error is not None and "set PREFECT_API_URL" in job.error
    assert job.error_type == "UserInputError"


def test_a_missing_or_misplaced_deployment_is_named_with_what_to_do(deployed: str) -> None:
    missing = JobRunner(work_pool=deployed).submit(
        "Stop", FlowRef.STOP_SERVER, site="s", server="v"
    )
    assert missing.wait(DONE_WITHIN) and missing.state is JobState.FAILED
    assert missing.error is not None
    assert "no deployment 'stop-server/stop-server'" in missing.error
    assert "prefect deploy --all" in missing.error
    elsewhere = JobRunner(work_pool="another-pool").submit(
        "Snapshot", FlowRef.CREATE_SNAPSHOT, site="s", server="v", name="n"
    )
    assert elsewhere.wait(DONE_WITHIN) and elsewhere.error is not None
    assert f"runs on work pool '{deployed}', not on 'another-pool'" in elsewhere.error


def test_a_plain_function_runs_in_the_kernel_even_with_a_pool(runner: JobRunner) -> None:
    job = runner.submit("Add", lambda a, b: a + b, a=2, b=3)
    assert job.wait(DONE_WITHIN) and job.result == 5 and job.flow_run_id is None


def test_results_travel_as_json_and_come_back_typed() -> None:
    from pydantic_core import to_jsonable_python

    boot = BootResult(
        site="s", server_id="id", name="vm", status="ACTIVE", image_id="img", image_name="X2Go",
        flavor="de.NBI mini", key_name=None, private_ipv4="192.168.1.7", request_id="r",
        reused=False, flow_run_id=None,
        connection=ConnectionDetails(
            info=ConnectionInfo(host="gw", port=30263, user="ubuntu", server_name="vm"),
            ssh_command="ssh -p 30263 ubuntu@gw", ssh_config="Host vm",
            x2go_session_type=SessionType.XFCE, x2go_session="[vm]",
        ),
    )  # fmt: skip
    fields = json.loads(json.dumps(to_jsonable_python(boot)))  # as the artifact carries it
    assert typed_result(FlowRef.BOOT_SERVER, fields) == boot
    assert typed_result(FlowRef.BOOT_SERVER, None) is None
