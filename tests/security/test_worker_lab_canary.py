"""A policy run on a real work-pool worker, and a real lab with the server extension: no leak.

Both talk to the session's Prefect test API, so the searched database holds their runs too.

* The worker: a ``process`` pool and the ``snapshot-policies`` deployment on the harness's
  API, a ``prefect worker start`` subprocess (stopped by its PID) whose clouds.yaml is the
  canary one; one run that snapshots a due VM, one on the entry with the wrong password.
* The lab: JupyterLab with ``denbi_jupyter.labserver``, its ``PREFECT_API_URL`` carrying a
  canary password in its user info; its status and notebook endpoints, and a kernel that shows
  a ``CloudPanel`` over the canary clouds.yaml (every kernel message, widget states included,
  is searched), and the lab's log and folders.
* A lab that starts its own Prefect server (``prefect_home``): its UI and API through the
  extension's proxy, the lab token in the query; the token is a canary too.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from denbi_jupyter.cloud import open_site
from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.rules.policy import POLICY_KEY
from denbi_jupyter.lab import LabSession, start_lab
from denbi_jupyter.prefect_server import prefect_command, process_alive, stop_process_group
from tests.labserver.conftest import call
from tests.panels._support import wait_until
from tests.security.canary import Canaries
from tests.security.conftest import PASSWORD_SITE, WRONG_SITE, CanaryCloud

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[2]
POOL = "canary-process"
RUN_WITHIN = 150.0
SLOT = "2030-01-01T02:05:00+00:00"


def _api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


@pytest.fixture(scope="module")
def worker_log(
    prefect_harness: None, canary_cloud: CanaryCloud, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The pool, the deployment, and a worker subprocess; the worker's output file."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    from flows.policy import run_snapshot_policies

    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=POOL, type="process"), overwrite=True)
    from prefect.types.entrypoint import EntrypointType

    deployment = run_snapshot_policies.to_deployment(
        name="snapshot-policies",
        work_pool_name=POOL,
        entrypoint_type=EntrypointType.MODULE_PATH,  # the installed flows, as a wheel's
    )
    deployment.apply()  # type: ignore[union-attr]
    base = tmp_path_factory.mktemp("canary-worker")
    env = {
        **os.environ,
        "PREFECT_API_URL": _api_url(),
        "PREFECT_HOME": str(base / "prefect-home"),
        "OS_CLIENT_CONFIG_FILE": str(canary_cloud.clouds_yaml),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_CLI_COLORS": "false",
        "PREFECT_LOGGING_LEVEL": "DEBUG",
        "DO_NOT_TRACK": "1",
    }
    env.pop("OS_CLOUD", None)
    env.pop("DENBI_WORK_POOL", None)
    log = base / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [str(prefect_command()), "worker", "start", "--pool", POOL],
            env=env, cwd=base, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield log
    finally:
        stop_process_group(worker.pid, process=worker)


def _run_policies(site: str) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    run = run_deployment(
        "snapshot-policies/snapshot-policies",
        parameters={"site": site, "at": SLOT},
        timeout=0,
    )
    run_id = getattr(run, "id")  # noqa: B009

    def final() -> Any:
        with get_client(sync_client=True) as client:
            found = client.read_flow_run(UUID(str(run_id)))
        return found if found.state is not None and found.state.is_final() else None

    wait_until(final, timeout=RUN_WITHIN, what=f"the policy run on {site} to end")
    return final()


def test_a_policy_run_on_a_worker(
    canary_cloud: CanaryCloud, worker_log: Path, sweep: Callable[..., None]
) -> None:
    client = open_site(PASSWORD_SITE, config_file=canary_cloud.clouds_yaml)
    image = client.find_image("X2Go_xfce")
    flavor = min(client.list_flavors(), key=lambda size: size.ram_mb)
    name = f"secpol-{secrets.token_hex(3)}"
    server = client.create_server(
        name=name, image_id=image.id, flavor_id=flavor.id, key_name=None,
        metadata={POLICY_KEY: "daily 02:00; tz=UTC; keep=1"},
    )  # fmt: skip
    try:
        wait_until(
            lambda: getattr(client.get_server(server.id), "status", "") == "ACTIVE",
            timeout=60, what="the VM ACTIVE",
        )  # fmt: skip
        done = _run_policies(PASSWORD_SITE)
        assert done.state.is_completed(), (done.state, worker_log.read_text()[-3000:])
        made = client.find_images_by_property(SOURCE_SERVER_ID, server.id)
        assert [image.status for image in made] == ["active"], made
        refused = _run_policies(WRONG_SITE)
        assert refused.state.is_failed(), refused.state
        assert "submitting flow run" in worker_log.read_text()
    finally:
        client.delete_server(server.id)
        for image in client.find_images_by_property(SOURCE_SERVER_ID, server.id):
            client.delete_image(image.id)
    sweep([("worker output", worker_log.read_text(errors="replace"))])


_KERNEL = """
import json, os
from IPython.display import display
from denbi_jupyter.panels import CloudPanel
panel = CloudPanel(config_file=os.environ["OS_CLIENT_CONFIG_FILE"])
display(panel)
panel.wait_idle(90)
panel._site_picker.value = "bielefeld-wrong"
panel.wait_idle(90)
print("ERROR", panel.images.error)
panel._site_picker.value = "heidelberg"
panel.wait_idle(90)
print("IMAGES", len(panel.images.images))
print("ENV", sorted(k for k in os.environ if k.startswith(("PREFECT", "OS_"))))
panel.close()
"""


def _kernel_messages(session: LabSession, code: str, timeout_s: float) -> list[str]:
    """Every raw message the kernel sent while running ``code`` (stdout, comms, errors)."""
    kernel = call(session, "api/kernels", method="POST", body={"name": "python3"})
    try:
        return asyncio.run(asyncio.wait_for(_collect(session, kernel["id"], code), timeout_s))
    finally:
        call(session, f"api/kernels/{kernel['id']}", method="DELETE")


async def _collect(session: LabSession, kernel_id: str, code: str) -> list[str]:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    from tests.labserver.kernel import _execute_request

    ws_url = session.url.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels"
    request = HTTPRequest(ws_url, headers={"Authorization": f"token {session.token}"})
    connection = await websocket_connect(request)
    msg_id = uuid.uuid4().hex
    connection.write_message(json.dumps(_execute_request(msg_id, code)))
    seen: list[str] = []
    try:
        while True:
            raw = await connection.read_message()
            assert raw is not None, "the kernel websocket closed"
            text = raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")
            seen.append(text)
            message: dict[str, Any] = json.loads(text) if isinstance(raw, str) else {}
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "error":
                raise AssertionError("\n".join(message["content"]["traceback"]))
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return seen
    finally:
        connection.close()


def test_the_lab_server_extension_and_a_panel_in_its_kernel(
    canary_cloud: CanaryCloud,
    canaries: Canaries,
    sweep: Callable[..., None],
    tmp_path: Path,
) -> None:
    url_secret = f"CANARY-apiurl-{secrets.token_hex(12)}"
    canaries.add("PREFECT_API_URL password", url_secret)
    parts = urllib.parse.urlsplit(_api_url())
    with_user = parts._replace(netloc=f"denbi:{url_secret}@{parts.netloc}").geturl()
    root = tmp_path / "root"
    root.mkdir()
    log = tmp_path / "lab.log"
    env = {
        "PREFECT_API_URL": with_user,
        "PREFECT_HOME": str(tmp_path / "client-prefect"),
        "OS_CLIENT_CONFIG_FILE": str(canary_cloud.clouds_yaml),
        "DENBI_JUPYTER_STATE_DIR": str(tmp_path / "state"),
    }
    session = start_lab(notebook_dir=root, local_cloud=False, env=env, log_file=log)
    canaries.add("lab token", session.token)
    texts: list[tuple[str, str]] = []
    try:
        status = call(session, "denbi-jupyter/status")
        assert status["prefect"]["state"] == "external", status
        texts.append(("lab status", json.dumps(status)))
        made = call(session, "denbi-jupyter/notebook", method="POST")
        texts.append(("lab notebook", json.dumps(made)))
        messages = _kernel_messages(session, _KERNEL, timeout_s=240)
        joined = "\n".join(messages)
        assert "refused the credentials" in joined and "IMAGES " in joined, joined[-3000:]
        texts += [(f"kernel message {i}", text) for i, text in enumerate(messages)]
        if session._temp is not None:
            canaries.check_files(session._temp)
    finally:
        session.stop()
    texts.append(("lab log", log.read_text(errors="replace")))
    sweep(texts)


def test_the_labs_own_prefect_behind_its_proxy_never_sees_the_lab_token(
    canaries: Canaries, sweep: Callable[..., None], tmp_path: Path
) -> None:
    """The extension starts Prefect for the lab; its UI and API are used through the proxy
    with the token in the query (as the lab's links do) and in the header."""
    from tests.labserver.conftest import urlopen_status, wait_ready

    root = tmp_path / "root"
    root.mkdir()
    log = tmp_path / "lab.log"
    session = start_lab(
        notebook_dir=root,
        local_cloud=False,
        prefect_home=tmp_path / "lab-prefect",
        env={"PREFECT_HOME": str(tmp_path / "client-prefect")},
        log_file=log,
    )
    canaries.add("lab token", session.token)
    texts: list[tuple[str, str]] = []
    try:
        assert wait_ready(session)[-1] == "ready"
        texts.append(("lab status", json.dumps(call(session, "denbi-jupyter/status"))))
        for path in ("", "api/health", "ui-settings"):
            url = f"{session.url}/denbi-jupyter/prefect/{path}?token={session.token}"
            assert urlopen_status(url) == 200, path
        found = call(session, "denbi-jupyter/prefect/api/flow_runs/filter", method="POST", body={})
        texts.append(("flow runs through the proxy", json.dumps(found)))
        if session._temp is not None:
            canaries.check_files(session._temp)
    finally:
        record = tmp_path / "lab-prefect" / "server.json"
        pid = json.loads(record.read_text())["pid"] if record.exists() else None
        session.stop()
        if pid is not None and process_alive(pid):  # the lab stops it; by its PID if not
            stop_process_group(pid)
    texts.append(("lab log", log.read_text(errors="replace")))
    sweep(texts)
