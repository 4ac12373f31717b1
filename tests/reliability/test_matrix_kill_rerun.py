"""SIGKILL at each step of ``snapshot create``, ``boot`` and ``snapshot copy``, then the same again.

The real console command runs as a subprocess in its own session against a local cloud of
this module (slower timings than the session's, so every step lasts long enough to be seen)
and the session's Prefect API (the test harness's server). The test watches the cloud (listing
requests only) and kills the process group with SIGKILL at a step:

* **after request**: what the command asked for exists in the cloud (the server, the
  snapshot image, the copy's record);
* **while waiting**: the cloud is working on it (the server spawning, the snapshot saving,
  the copy's upload held open);
* **after done**: the cloud has finished, and the answer that tells the process so is held
  (a latency rule with ``answer``, in place before the command starts, on a path only the
  command reads), so it has not printed its result.

Then the same command again must exit 0 and leave exactly one VM / snapshot / verified copy:
the re-run finds what the killed run made instead of making a second.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from denbi_jupyter.cloud import open_site
from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.rules.copy import copied_from_mark
from denbi_jupyter.localcloud import LocalCloud, LocalCloudConfig, Timings
from tests.reliability.conftest import MatrixCell

SITE, TARGET = "bielefeld", "heidelberg"
RUN = f"mx-kill-{uuid.uuid4().hex[:6]}"
FLAVOR = "de.NBI tiny"
UBUNTU = "Ubuntu-22.04 de.NBI (2026-05-01)"
#: Longest wait for a step to show, and for a command to end.
STEP_S, COMMAND_S = 120.0, 240.0
#: How long a hold keeps the process in its request: long enough for a loaded machine to see
#: it fire and kill the process (the kill ends the wait for the process; the cloud's ends later).
HOLD_S = 30.0
STEPS = ("after request", "while waiting", "after done")
MIB = 1024 * 1024
#: One image's or server's path (the test's own reads are listings, which these never match).
IMAGE, SERVER = r"/v2/images/[0-9a-f-]{36}", r"/servers/[0-9a-f-]{36}"


@dataclass
class Rig:
    """The module's cloud, its Prefect server and the environment of the commands."""

    cloud: LocalCloud
    env: dict[str, str]
    logs: Path
    clients: dict[str, CloudClient]

    def client(self, site: str = SITE) -> CloudClient:
        return self.clients[site]

    def faults(self, method: str, body: Any = None) -> Any:
        with httpx.Client(base_url=self.cloud.url, timeout=10) as http:
            answer = http.request(method, "/_admin/faults", json=body)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Rig]:
    """A local cloud (steps of about a second), the commands' environment on the session's
    Prefect API (the test harness's server, which the rest of the matrix runs on too)."""
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    assert api_url, "the Prefect test harness sets PREFECT_API_URL"
    base = tmp_path_factory.mktemp("kill")
    timings = Timings(boot=1.2, snapshot=1.5, upload=0.3, delete=0.1, power=0.1, reboot=0.1)
    with contextlib.ExitStack() as stack:
        cloud = stack.enter_context(LocalCloud(LocalCloudConfig(timings=timings, ssh=False)))
        clouds_yaml = cloud.write_clouds_yaml(base / "clouds.yaml")
        env = {
            **os.environ,
            "OS_CLIENT_CONFIG_FILE": str(clouds_yaml),
            "PREFECT_API_URL": str(api_url),
            "PREFECT_HOME": str(base / "client"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
        }
        env.pop("OS_CLOUD", None)
        clients = {site: open_site(site, config_file=clouds_yaml) for site in (SITE, TARGET)}
        yield Rig(cloud, env, base, clients)


def _until(condition: Callable[[], object], what: str, timeout: float = STEP_S) -> None:
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        tick.wait(0.02)  # polling the cloud: nothing to wait on but its API


@contextlib.contextmanager
def _command(rig: Rig, argv: list[str], label: str) -> Iterator[subprocess.Popen[bytes]]:
    """The CLI as a subprocess in its own session; its group is killed if still running."""
    log = (rig.logs / f"{label}-{uuid.uuid4().hex[:4]}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "denbi_jupyter", *argv],
        env=rig.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
        log.close()


def _kill(process: subprocess.Popen[bytes]) -> None:
    assert process.poll() is None, "the command ended before the step it was to be killed at"
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def _again(rig: Rig, argv: list[str], label: str) -> dict[str, Any]:
    """Run the command to its end: exit 0 and its JSON output."""
    with _command(rig, argv, label) as process:
        try:
            out, _ = process.communicate(timeout=COMMAND_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{argv[0]} did not end within {COMMAND_S} s") from None
        log = sorted(rig.logs.glob(f"{label}-*.log"))[-1].read_text(errors="replace")
        assert process.returncode == 0, log[-2000:]
    result: dict[str, Any] = json.loads(out)
    return result


def _done_hold(site: str, path: str, status: str, name: str | None = None) -> dict[str, Any]:
    """A rule holding the first answer to a GET of ``path`` on ``site`` that says ``status``
    (and ``name``): the cloud has finished, the process has not heard of it."""
    named = rf'(?=.*"name":\s*"{re.escape(name)}")' if name is not None else ""
    return {"kind": "latency", "site": site, "method": "GET", "path": path, "seconds": HOLD_S,
            "answer": rf'(?s){named}(?=.*"status":\s*"{status}")', "count": 1}  # fmt: skip


def _held(rig: Rig, what: str) -> None:
    """Return once the module's hold has fired: the process waits in that request."""
    _until(lambda: any(r["fired"] for r in rig.faults("GET")["rules"]), what)


@pytest.fixture(scope="module")
def vm(rig: Rig) -> str:
    """A VM to snapshot, ACTIVE."""
    client = rig.client()
    server = client.create_server(
        name=f"{RUN}-source",
        image_id=client.find_image("X2Go_xfce").id,
        flavor_id=client.find_flavor(FLAVOR).id,
        key_name=None,
        metadata={},
    )
    _until(lambda: getattr(client.get_server(server.id), "status", "") == "ACTIVE", "ACTIVE")
    return server.id


def _images_named(client: CloudClient, name: str) -> list[Any]:
    return client.find_images_by_property("name", name)  # a listing: never held


@pytest.mark.parametrize("step", STEPS)
def test_a_killed_snapshot_create_run_again_makes_exactly_one_snapshot(
    rig: Rig, vm: str, matrix_cell: MatrixCell, step: str
) -> None:
    client = rig.client()
    name = f"{RUN}-snap-{step.replace(' ', '-')}"
    argv = ["snapshot", "create", "--site", SITE, "--server", vm, "--name", name, "--json"]
    with matrix_cell("snapshot", f"SIGKILL {step}") as cell:
        if step == "after done":
            rig.faults("POST", _done_hold(SITE, f"{IMAGE}$", "active", name))
        with _command(rig, argv, "snapshot") as process:
            _until(lambda: _images_named(client, name), "the snapshot's image")
            if step == "while waiting":
                _until(lambda: _images_named(client, name)[0].status == "saving", "saving")
            elif step == "after done":
                _held(rig, "the command's read of the active snapshot")
                assert _images_named(client, name)[0].status == "active"
            _kill(process)
            cell.injected += 1
        rig.faults("DELETE")
        result = _again(rig, argv, "snapshot-again")
        (image,) = _images_named(client, name)
        assert result["image_id"] == image.id and result["reused"] is True
        _until(lambda: client.get_image(image.id).status == "active", "active")  # type: ignore[union-attr]
    _until(lambda: not client.get_server(vm).task_state, "the VM idle")  # type: ignore[union-attr]


def _servers_named(client: CloudClient, name: str) -> list[Any]:
    return [server for server in client.list_servers() if server.name == name]


@pytest.mark.parametrize("step", STEPS)
def test_a_killed_boot_run_again_leaves_exactly_one_vm(
    rig: Rig, matrix_cell: MatrixCell, step: str
) -> None:
    client = rig.client()
    name = f"{RUN}-vm-{step.replace(' ', '-')}"
    argv = ["boot", "--site", SITE, "--image", UBUNTU, "--flavor", FLAVOR, "--name", name, "--json"]
    with matrix_cell("boot", f"SIGKILL {step}") as cell:
        if step == "after done":
            rig.faults("POST", _done_hold(SITE, f"{SERVER}$", "ACTIVE", name))
        with _command(rig, argv, "boot") as process:
            _until(lambda: _servers_named(client, name), "the server")
            if step == "while waiting":
                _until(lambda: _servers_named(client, name)[0].task_state == "spawning", "spawn")
            elif step == "after done":
                _held(rig, "the command's read of the ACTIVE server")
                assert _servers_named(client, name)[0].status == "ACTIVE"
            _kill(process)
            cell.injected += 1
        rig.faults("DELETE")
        result = _again(rig, argv, "boot-again")
        (server,) = _servers_named(client, name)
        assert result["server"]["id"] == server.id and result["reused"] is True
        assert server.status == "ACTIVE" or result["server"]["status"] == "ACTIVE"
    client.delete_server(server.id)


@pytest.fixture(scope="module")
def source(rig: Rig) -> Iterator[tuple[str, str]]:
    """(id, sha512) of an image with 8 MiB of data on the source site."""
    client = rig.client()
    record = client.create_image_record(
        {"name": f"{RUN}-copy-source", "disk_format": "raw", "container_format": "bare"}
    )
    data = os.urandom(8 * MIB)
    client.upload_image_data(record.id, (data[i : i + MIB] for i in range(0, len(data), MIB)))
    uploaded = client.image_record(record.id)
    assert uploaded is not None and uploaded.sha512
    yield record.id, uploaded.sha512


#: Rules that hold the copy in a request of the target (the test's own reads are listings).
_COPY_HOLDS = {
    "while waiting": {"kind": "latency", "site": TARGET, "method": "PUT", "path": "/file$",
                      "seconds": HOLD_S, "count": 1},
    "after done": _done_hold(TARGET, f"{IMAGE}$", "active"),
}  # fmt: skip


@pytest.mark.parametrize("step", STEPS)
def test_a_killed_copy_run_again_leaves_exactly_one_verified_copy(
    rig: Rig, source: tuple[str, str], matrix_cell: MatrixCell, step: str
) -> None:
    source_id, sha512 = source
    target = rig.client(TARGET)
    mark = copied_from_mark(SITE, source_id)
    before = rig.client().image_record(source_id)
    argv = ["snapshot", "copy", "--site", SITE, source_id, "--to", TARGET, "--json"]
    with matrix_cell("copy", f"SIGKILL {step}") as cell:
        if step != "after request":  # hold the upload, or the verifying read after it
            rig.faults("POST", _COPY_HOLDS[step])
        with _command(rig, argv, "copy") as process:
            _until(lambda: target.find_copies(mark), "the copy's record")
            if step != "after request":
                _held(rig, "the hold")
            if step == "after done":
                assert target.find_copies(mark)[0].status == "active"
            _kill(process)
            cell.injected += 1
        rig.faults("DELETE")
        result = _again(rig, argv, "copy-again")
        (copy,) = target.find_copies(mark)
        assert result["target_id"] == copy.id and copy.status == "active"
        assert copy.sha512 == sha512 and result["sha512"] == sha512
        assert rig.client().image_record(source_id) == before, "the source changed"
    target.delete_image(copy.id)
