"""JobRunner: flows in daemon threads, observable jobs, a caller that never waits."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from denbi_jupyter.cloud.results import BootResult, SnapshotResult
from denbi_jupyter.errors import UserInputError
from denbi_jupyter.jobs import FlowRef, Job, JobRunner, JobState, _backend
from denbi_jupyter.jobs._backend import wait_for_api
from flows.boot import boot_server
from flows.snapshot import create_snapshot
from tests.flows.harness import LocalEnv
from tests.jobs.conftest import add_vm
from tests.support.fake_cloud import FakeCloud

pytestmark = pytest.mark.usefixtures("prefect_harness")

DONE_WITHIN = 60.0


@pytest.fixture
def runner() -> JobRunner:
    jobs = JobRunner(max_parallel=2)
    jobs.warm_up()
    return jobs


def test_a_job_reports_progress_logs_and_its_result(cloud: FakeCloud, runner: JobRunner) -> None:
    add_vm(cloud)
    seen: list[tuple[JobState, float | None, str]] = []
    job = runner.submit(
        "Snapshot vm1 → nightly-1",
        FlowRef.CREATE_SNAPSHOT,
        site="fake",
        server="vm1",
        name="nightly-1",
    )
    job.on_update(lambda j: seen.append((j.state, j.progress, j.message)))
    assert job.wait(DONE_WITHIN)
    assert job.state is JobState.COMPLETED and job.done and job.error is None
    assert isinstance(job.result, SnapshotResult) and job.result.name == "nightly-1"
    assert job.flow_run_id == job.result.flow_run_id
    assert any(message == "Glance: saving" for _, _, message in seen)
    assert any("Finished in state Completed" in line for line in job.logs)
    assert job.progress == 1.0 and runner.jobs == (job,)
    assert len(job.id) == 32


def test_a_failed_flow_gives_one_clear_sentence_and_the_error_type(
    cloud: FakeCloud, runner: JobRunner
) -> None:
    add_vm(cloud)
    cloud.snapshot_outcome = "killed"
    job = runner.submit("Snapshot", create_snapshot, site="fake", server="vm1", name="doomed")
    assert job.wait(DONE_WITHIN)
    assert job.state is JobState.FAILED
    assert job.error_type == "OperationFailedError"
    assert job.error is not None and "ended with Glance status 'killed'" in job.error
    assert "\n" not in job.error and job.result is None
    assert job.flow_run_id is not None
    assert any("ERROR" in line for line in job.logs)


def test_two_flows_run_at_once_while_the_caller_stays_responsive(
    cloud: FakeCloud, runner: JobRunner
) -> None:
    add_vm(cloud, "vm1")
    add_vm(cloud, "vm2")
    running: set[str] = set()
    overlap = threading.Event()
    lock = threading.Lock()

    def watch(job: Job) -> None:
        with lock:
            if job.state is JobState.RUNNING:
                running.add(job.id)
            else:
                running.discard(job.id)
            if len(running) == 2:
                overlap.set()

    first = runner.submit("one", create_snapshot, site="fake", server="vm1", name="s1")
    second = runner.submit("two", create_snapshot, site="fake", server="vm2", name="s2")
    first.on_update(watch)
    second.on_update(watch)
    assert first.wait(DONE_WITHIN) and second.wait(DONE_WITHIN)
    assert first.state is JobState.COMPLETED and second.state is JobState.COMPLETED
    assert overlap.is_set(), "both flows should have been running at the same time"


def test_submit_returns_before_the_job_runs_and_the_caller_can_act_meanwhile(
    runner: JobRunner,
) -> None:
    gate = threading.Event()
    order: list[str] = []

    def held() -> str:
        order.append("job started")
        if not gate.wait(DONE_WITHIN):  # released by the caller below, after submit returned
            raise TimeoutError("the caller never released the job")
        order.append("job finished")
        return "done"

    job = runner.submit("Held", held)
    order.append("submit returned")
    states = [job.state]
    assert not job.done  # the job cannot end before the caller releases it
    gate.set()  # the caller acts while the job runs or waits: it was never blocked
    assert job.wait(DONE_WITHIN) and job.result == "done"
    assert order.index("submit returned") < order.index("job finished")
    assert states[0] in (JobState.PENDING, JobState.RUNNING)


def test_a_flow_ref_resolves_to_its_flow_only_when_needed() -> None:
    code = (
        "import sys; from denbi_jupyter.jobs import FlowRef; "
        "print('flows' in sys.modules, 'prefect' in sys.modules); "
        "print(FlowRef.DELETE_SNAPSHOTS.resolve().name, 'prefect' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False", "delete-snapshots", "True"]
    assert {getattr(ref.resolve(), "name", None) for ref in FlowRef} == {
        "boot-server",
        "create-snapshot",
        "delete-snapshots",
        "cleanup-snapshots",
        "nightly-snapshots",
        "stop-server",
        "start-server",
        "reboot-server",
        "delete-server",
        "copy-image",
    }


def test_submit_refuses_what_is_neither_a_flow_ref_nor_callable(runner: JobRunner) -> None:
    with pytest.raises(TypeError):
        runner.submit("Nothing", "delete:delete_snapshots")  # type: ignore[arg-type]


def test_jobs_beyond_max_parallel_wait_pending(cloud: FakeCloud) -> None:
    add_vm(cloud, "vm1")
    add_vm(cloud, "vm2")
    runner = JobRunner(max_parallel=1)
    started_while_first_ran: list[bool] = []
    first = runner.submit("one", create_snapshot, site="fake", server="vm1", name="s1")
    second = runner.submit("two", create_snapshot, site="fake", server="vm2", name="s2")
    second.on_update(
        lambda j: started_while_first_ran.append(j.state is JobState.RUNNING and not first.done)
    )
    assert first.wait(DONE_WITHIN) and second.wait(DONE_WITHIN)
    assert not any(started_while_first_ran)


def test_a_broken_callback_is_logged_and_the_job_goes_on(
    cloud: FakeCloud, runner: JobRunner, caplog: pytest.LogCaptureFixture
) -> None:
    add_vm(cloud)

    def broken(job: Job) -> None:
        raise RuntimeError("widget closed")

    job = runner.submit("Snapshot", create_snapshot, site="fake", server="vm1", name="x")
    job.on_update(broken)
    assert job.wait(DONE_WITHIN) and job.state is JobState.COMPLETED
    late: list[JobState] = []
    job.on_update(lambda j: late.append(j.state))
    assert late == [JobState.COMPLETED]
    assert "job update callback failed" in caplog.text


def test_warm_up_is_idempotent_and_ends_warm(runner: JobRunner) -> None:
    runner.warm_up()
    runner.warm_up()
    assert runner.wait_warm(DONE_WITHIN)
    assert runner.warm and runner.warm_up_seconds is not None


def test_bad_parameters_fail_the_job_not_the_caller(runner: JobRunner) -> None:
    job = runner.submit("Broken", create_snapshot, site="fake", nonsense=1)
    assert job.wait(DONE_WITHIN)
    assert job.state is JobState.FAILED and job.error_type is not None


def test_jobs_on_the_local_cloud_never_log_the_password(
    local_env: LocalEnv, runner: JobRunner, cloud_password: str
) -> None:
    job = runner.submit(
        "Boot",
        boot_server,
        site="bielefeld",
        image="Ubuntu-22.04 de.NBI (2026-05-01)",
        flavor="de.NBI tiny",
        key_name=None,
        name="jobs-secret-check",
    )
    try:
        assert job.wait(DONE_WITHIN)
        assert job.state is JobState.COMPLETED, job.error
        text = "\n".join([*job.logs, job.message, str(job.result)])
        assert cloud_password not in text
    finally:
        result = job.result
        if isinstance(result, BootResult):
            local_env.client("bielefeld").delete_server(result.server_id)


def test_a_plain_function_runs_as_a_job_too(runner: JobRunner) -> None:
    def add(a: int, b: int) -> int:
        return a + b

    def refuse() -> None:
        raise UserInputError("Give a name.")

    done = runner.submit("Add", add, a=1, b=2)
    failed = runner.submit("Refuse", refuse)
    assert done.wait(DONE_WITHIN) and failed.wait(DONE_WITHIN)
    assert done.result == 3 and done.message == "Done"
    assert (failed.error, failed.error_type) == ("Give a name.", "UserInputError")


# --- a server at PREFECT_API_URL that is still starting -----------------------------------------
class _Health(http.server.BaseHTTPRequestHandler):
    """``/health`` of a Prefect server: 503 until ``ready`` is set, then 200 ``true``."""

    ready = threading.Event()

    def do_GET(self) -> None:
        ok = self.ready.is_set() and self.path.endswith("/health")
        body = b"true" if ok else b"starting"
        self.send_response(200 if ok else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        """Quiet."""


@pytest.fixture
def starting_api() -> Iterator[tuple[str, threading.Event]]:
    """The URL of an API that answers only once the returned event is set."""
    _Health.ready = threading.Event()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api", _Health.ready
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_wait_for_api_returns_once_the_server_answers(
    starting_api: tuple[str, threading.Event],
) -> None:
    url, ready = starting_api
    waiter = threading.Thread(target=wait_for_api, args=(url,), kwargs={"timeout_s": 60})
    waiter.start()
    assert waiter.is_alive()  # nothing answers 200 before ready is set
    ready.set()
    waiter.join(60)
    assert not waiter.is_alive()


def test_wait_for_api_fails_clearly_when_nothing_answers(listening_port: int) -> None:
    url = f"http://user:secret@127.0.0.1:{listening_port}/api"
    with pytest.raises(TimeoutError, match="PREFECT_API_URL") as failure:
        wait_for_api(url, timeout_s=0.5)
    assert "secret" not in str(failure.value)


def test_a_job_fails_clearly_when_the_api_never_answers(
    monkeypatch: pytest.MonkeyPatch, listening_port: int
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{listening_port}/api")
    monkeypatch.setattr(_backend, "API_WAIT_S", 0.5)
    job = JobRunner().submit("never runs", lambda: 1)
    assert job.wait(DONE_WITHIN)
    assert job.state is JobState.FAILED and job.error_type == "PrefectUnavailableError"
    assert job.error is not None and "did not answer" in job.error
