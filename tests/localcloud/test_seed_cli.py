"""``denbi-jupyter local-cloud`` and ``demo`` as a user runs them: seed, announce, serve, stop."""

from __future__ import annotations

import json
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from openstack.config import OpenStackConfig
from openstack.connection import Connection

from denbi_jupyter.cli import main
from denbi_jupyter.localcloud import LocalCloud

READY = "local cloud ready at "


class Running:
    """A ``denbi-jupyter`` subprocess whose stdout lines are collected by a thread."""

    def __init__(self, *args: str, discard_stderr: bool = False) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "denbi_jupyter", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if discard_stderr else subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if text in line:
                return line
        stderr = ""
        if self.process.poll() is not None and self.process.stderr is not None:
            stderr = self.process.stderr.read()
        raise AssertionError(f"no line with {text!r}; saw {self.seen}; stderr: {stderr}")

    def stop(self, signum: int = signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=30)
        finally:
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    started = Running(
        "local-cloud", "--port", "0", "--fast", "--seed-snapshots", "40",
        "--state", str(tmp_path / "state"), "--clouds-yaml", str(tmp_path / "clouds.yaml"),
    )  # fmt: skip
    yield started
    if started.process.poll() is None:
        started.process.kill()
        started.stop()


def test_local_cloud_seeds_announces_serves_and_stops_on_ctrl_c(
    running: Running, tmp_path: Path
) -> None:
    ready = running.wait_for_line(READY)
    clouds_yaml = tmp_path / "clouds.yaml"
    assert str(clouds_yaml) in ready
    assert any(f"OS_CLIENT_CONFIG_FILE={clouds_yaml}" in line for line in running.seen)
    password = json.loads((tmp_path / "state" / "credentials.json").read_text())["password"]
    assert all(password not in line for line in running.seen)
    assert clouds_yaml.stat().st_mode & 0o777 == 0o600
    config = OpenStackConfig(config_files=[str(clouds_yaml)], vendor_files=[])
    connection = Connection(config=config.get_one(cloud="bielefeld"))
    try:
        snapshots = connection.image.get("/images", params={"image_type": "snapshot", "limit": 100})
        assert len(snapshots.json()["images"]) == 3 + 40
        assert connection.image.find_image("X2Go_xfce") is not None
    finally:
        connection.close()
    assert running.stop(signal.SIGINT) == 0


def test_local_cloud_stops_cleanly_on_sigterm(running: Running) -> None:
    running.wait_for_line(READY)
    assert running.stop(signal.SIGTERM) == 0


def test_demo_without_lab_prints_a_how_to_before_the_ready_line(tmp_path: Path) -> None:
    demo = Running(
        "demo", "--no-lab", "--port", "0", "--fast", "--state", str(tmp_path / "state"),
        "--clouds-yaml", str(tmp_path / "clouds.yaml"),
    )  # fmt: skip
    try:
        demo.wait_for_line(READY)
        text = "\n".join(demo.seen)
        assert "openstack image show X2Go_xfce" in text
        entries = yaml.safe_load((tmp_path / "clouds.yaml").read_text())["clouds"]
        assert set(entries) >= {"bielefeld", "heidelberg"}
    finally:
        assert demo.stop() == 0


def test_demo_serves_jupyterlab_with_the_main_notebook_and_stops_it_on_ctrl_c(
    tmp_path: Path,
) -> None:
    demo = Running(
        "demo", "--port", "0", "--lab-port", "0", "--fast", "--state", str(tmp_path / "state"),
        discard_stderr=True,
    )  # fmt: skip
    try:
        line = demo.wait_for_line("Open: ", timeout=120)
        url = line.split("Open: ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:")
        assert "/lab/tree/denbi_cloud.ipynb?token=" in url
        api = url.split("/lab/", 1)[0] + "/api/contents/denbi_cloud.ipynb"
        token = url.rsplit("token=", 1)[1]
        answer = httpx.get(api, headers={"Authorization": f"token {token}"}, timeout=30)
        assert answer.status_code == 200
        assert answer.json()["type"] == "notebook"
        share = demo.wait_for_line("Commands in another terminal", timeout=30)
        exported = dict(item.split("=", 1) for item in shlex.split(share.split("export ", 1)[1]))
        assert Path(exported["OS_CLIENT_CONFIG_FILE"]).is_file()
        assert Path(exported["DENBI_JUPYTER_PREFECT_HOME"]).is_dir()
    finally:
        assert demo.stop() == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(api, timeout=5)


def test_a_non_loopback_host_is_refused_without_allow_remote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["local-cloud", "--host", "0.0.0.0", "--state", str(tmp_path)])
    assert code == 2
    assert "--allow-remote" in capsys.readouterr().err
    assert not (tmp_path / "credentials.json").exists()


def test_a_taken_port_is_a_clear_error(
    tmp_path: Path, local_cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    port = str(local_cloud.port)
    code = main(["local-cloud", "--port", port, "--state", str(tmp_path / "s"), "--clouds-yaml",
                 str(tmp_path / "c.yaml")])  # fmt: skip
    assert code == 2
    assert "--port" in capsys.readouterr().err
