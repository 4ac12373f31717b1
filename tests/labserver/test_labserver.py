"""The server extension in real labs: Prefect for the lab, its UI through the lab, endpoints.

One Prefect server is started for the module by the first lab; the other labs reuse it, use
their own ``PREFECT_API_URL``, or (the base-URL lab) start one of their own.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from denbi_jupyter.errors import UserInputError
from denbi_jupyter.lab import LabSession, choose_lab_port
from denbi_jupyter.labserver._paths import notebook_source
from denbi_jupyter.prefect_server import process_alive
from tests.labserver.conftest import call, lab, status, until, urlopen_status, wait_ready
from tests.labserver.kernel import run_in_new_kernel

FLOW_NAME = "labserver-smoke"
KERNEL_CODE = f"""
import os
from prefect import flow
from denbi_jupyter.jobs import JobRunner

@flow(name="{FLOW_NAME}")
def smoke() -> int:
    return 7

print("API", os.environ.get("PREFECT_API_URL"))
job = JobRunner().submit("smoke", smoke)
job.wait(200)
print("JOB", job.state.name, job.result, job.flow_run_id, job.error)
"""


def _record(prefect_home: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((prefect_home / "server.json").read_text())
    return data


def test_status_reports_the_version_and_a_starting_server(first_lab: LabSession) -> None:
    answer = call(first_lab, "denbi-jupyter/status")
    assert answer["version"]
    prefect = answer["prefect"]
    assert prefect["state"] == "starting", prefect
    assert prefect["ui_path"] == "/denbi-jupyter/prefect/"
    assert prefect["api_url"].startswith("http://127.0.0.1:")
    assert prefect["api_url"].endswith("/denbi-jupyter/prefect/api")
    assert prefect["error"] == ""


def test_a_kernel_gets_the_api_url_and_its_first_flow_waits_for_the_server(
    first_lab: LabSession,
) -> None:
    output = run_in_new_kernel(first_lab, KERNEL_CODE, timeout_s=240)
    lines = dict(line.split(" ", 1) for line in output.strip().splitlines())
    assert lines["API"] == status(first_lab)["api_url"]
    state, result, flow_run_id, error = lines["JOB"].split(" ", 3)
    assert (state, result, error) == ("COMPLETED", "7", "None"), output
    assert flow_run_id != "None"


def test_status_goes_from_starting_to_ready(first_lab: LabSession) -> None:
    seen = wait_ready(first_lab)
    assert seen[-1] == "ready" and set(seen) <= {"starting", "ready"}


def test_the_flow_run_is_listed_through_the_lab_url(first_lab: LabSession) -> None:
    wait_ready(first_lab)
    runs = call(
        first_lab,
        "denbi-jupyter/prefect/api/flow_runs/filter",
        method="POST",
        body={"flows": {"name": {"any_": [FLOW_NAME]}}},
    )
    assert [run["state_type"] for run in runs] == ["COMPLETED"]


def test_the_ui_and_its_websocket_are_served_through_the_lab(first_lab: LabSession) -> None:
    wait_ready(first_lab)
    settings = call(first_lab, "denbi-jupyter/prefect/ui-settings")
    assert settings["api_url"] == "/denbi-jupyter/prefect/api"
    assert settings["v2_base_url"] == "/denbi-jupyter/prefect/v2"
    token = {"Authorization": f"token {first_lab.token}"}
    assert urlopen_status(f"{first_lab.url}/denbi-jupyter/prefect/v2/", **token) == 200
    assert urlopen_status(f"{first_lab.url}/denbi-jupyter/prefect", **token) in (301, 302)
    assert urlopen_status(f"{first_lab.url}/denbi-jupyter/prefect/api/health") in (302, 403)
    assert asyncio.run(_events_handshake(first_lab)) == {"type": "auth_success"}


async def _events_handshake(session: LabSession) -> Any:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    url = session.url.replace("http://", "ws://") + "/denbi-jupyter/prefect/api/events/out"
    request = HTTPRequest(url, headers={"Authorization": f"token {session.token}"})
    connection = await asyncio.wait_for(
        websocket_connect(request, subprotocols=["prefect"]), timeout=30
    )
    try:
        connection.write_message(json.dumps({"type": "auth", "token": None}))
        message = await asyncio.wait_for(connection.read_message(), timeout=30)
        return json.loads(message or "null")
    finally:
        connection.close()


def test_a_second_lab_reuses_the_running_server(
    first_lab: LabSession, prefect_home: Path, tmp_path: Path
) -> None:
    wait_ready(first_lab)
    record = _record(prefect_home)
    second = lab(tmp_path / "root", prefect_home=prefect_home, log=tmp_path / "lab.log")
    try:
        assert status(second)["state"] == "ready"
        assert status(second)["api_url"] == status(first_lab)["api_url"]
    finally:
        second.stop()
    assert _record(prefect_home) == record
    assert process_alive(record["pid"]), "the second lab stopped a server it did not start"


def test_the_notebook_endpoint_copies_once_and_never_overwrites(first_lab: LabSession) -> None:
    source = notebook_source()
    assert source is not None
    copy = first_lab.notebook_dir / "denbi_cloud.ipynb"
    assert call(first_lab, "denbi-jupyter/notebook", method="POST") == {
        "path": "denbi_cloud.ipynb",
        "created": True,
    }
    assert json.loads(copy.read_text())["cells"] == json.loads(source.read_text())["cells"]
    edited = json.loads(copy.read_text())
    edited["cells"] = edited["cells"][:1]
    copy.write_text(json.dumps(edited))
    answer = call(first_lab, "denbi-jupyter/notebook", method="POST")
    assert answer == {"path": "denbi_cloud.ipynb", "created": False}
    assert json.loads(copy.read_text()) == edited


def test_a_lab_under_a_base_url_serves_prefect_below_it(tmp_path: Path) -> None:
    session = lab(
        tmp_path / "root",
        prefect_home=tmp_path / "prefect",
        log=tmp_path / "lab.log",
        base_url="/user/alice/",
    )
    try:
        seen = wait_ready(session)
        assert seen[-1] == "ready"
        prefect = status(session)
        assert prefect["ui_path"] == "/user/alice/denbi-jupyter/prefect/"
        assert prefect["api_url"].endswith("/user/alice/denbi-jupyter/prefect/api")
        settings = call(session, "denbi-jupyter/prefect/ui-settings")
        assert settings["api_url"] == "/user/alice/denbi-jupyter/prefect/api"
        assert call(session, "denbi-jupyter/prefect/api/flow_runs/filter", method="POST") == []
        pid = _record(tmp_path / "prefect")["pid"]
    finally:
        session.stop()
    assert not process_alive(pid)


def test_with_prefect_api_url_set_the_lab_starts_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    source = notebook_source()
    assert source is not None
    mine = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (root / "denbi_cloud.ipynb").write_text(json.dumps(mine))
    session = lab(
        root,
        prefect_home=tmp_path / "prefect",
        log=tmp_path / "lab.log",
        env={"PREFECT_API_URL": "http://user:secret@127.0.0.1:9/api?key=x"},
    )
    try:
        prefect = status(session)
        assert prefect == {
            "state": "external",
            "ui_path": None,
            "api_url": "http://127.0.0.1:9/api",
            "error": "",
        }
        token = {"Authorization": f"token {session.token}"}
        assert urlopen_status(f"{session.url}/denbi-jupyter/prefect/", **token) in (302, 404)
        answer = call(session, "denbi-jupyter/notebook", method="POST")
        assert answer == {"path": "denbi_cloud.ipynb", "created": False}
        assert json.loads((root / "denbi_cloud.ipynb").read_text()) == mine
    finally:
        session.stop()
    assert not (tmp_path / "prefect" / "server.json").exists()


@pytest.fixture
def port_8888_taken() -> Iterator[None]:
    """Port 8888 on loopback is in use (by us, if it was free)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        try:
            sock.bind(("127.0.0.1", 8888))
            sock.listen(1)
        except OSError:
            pass  # someone else holds it: taken all the same
        yield
    finally:
        sock.close()


@pytest.mark.usefixtures("port_8888_taken")
def test_the_demo_lab_takes_another_port_when_8888_is_taken(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="8888"):
        choose_lab_port(8888, fallback=False)
    session = lab(
        tmp_path / "root",
        prefect_home=None,
        log=tmp_path / "lab.log",
        port=8888,
        port_fallback=True,
    )
    try:
        assert not session.url.endswith(":8888")
        assert status(session)["state"] == "disabled"
    finally:
        session.stop()


def test_stopping_the_lab_that_started_it_stops_the_server(
    first_lab: LabSession, prefect_home: Path
) -> None:
    wait_ready(first_lab)
    pid = _record(prefect_home)["pid"]
    assert process_alive(pid)
    first_lab.stop()
    assert first_lab.process.returncode is not None
    until("the Prefect server gone", lambda: True if not process_alive(pid) else None, timeout_s=5)
    assert not (prefect_home / "server.json").exists()
