"""A plain command-line user with no Prefect configuration, on a local cloud of the module.

The user's home, Jupyter data, Prefect home, temporary folder and denbi-jupyter state are
temporary folders; ``PREFECT_API_URL`` is unset. Every Prefect server started under them (by a
command or a lab) is found by its ``PREFECT_HOME`` in ``/proc`` and stopped by its PID when the
module ends, whatever the tests did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.localcloud import LocalCloud, LocalCloudConfig, Timings
from denbi_jupyter.prefect_server import process_alive, stop_process_group
from tests.support.waiting import until as until  # test_one_backend imports it from here

SITE = "bielefeld"
SCRIPT = Path(sys.executable).with_name("denbi-jupyter")


@dataclass(frozen=True)
class User:
    """The user's environment and folders."""

    root: Path
    env: dict[str, str]

    @property
    def state_dir(self) -> Path:
        """Where the user's Prefect server is recorded (DENBI_JUPYTER_PREFECT_HOME)."""
        return Path(self.env["DENBI_JUPYTER_PREFECT_HOME"])

    def record(self) -> dict[str, Any] | None:
        """The state file's record, or None."""
        try:
            data: dict[str, Any] = json.loads((self.state_dir / "server.json").read_text())
        except FileNotFoundError:
            return None
        return data

    def cli(self, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Start the ``denbi-jupyter`` console script in a session of its own."""
        return subprocess.Popen(
            [str(SCRIPT), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env or self.env,
            start_new_session=True,
        )

    def run(self, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        """Run the console script to its end: exit code, stdout, stderr."""
        process = self.cli(*argv, env=env)
        try:
            out, err = process.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            stop_process_group(process.pid)
            raise
        return process.returncode, out, err


def prefect_servers(root: Path) -> list[int]:
    """PIDs of the ``prefect server start`` processes whose PREFECT_HOME is below ``root``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"server" not in command or b"start" not in command:
            continue
        prefix = b"PREFECT_HOME="
        homes = [item[len(prefix) :] for item in environ if item.startswith(prefix)]
        if homes and Path(os.fsdecode(homes[0])).is_relative_to(root) and _leads(int(proc.name)):
            found.append(int(proc.name))
    return sorted(found)


def _leads(pid: int) -> bool:
    """True when ``pid`` leads its process group (what we spawn with a session of its own)."""
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    """The module's own local cloud, fast timings."""
    with LocalCloud(LocalCloudConfig(timings=Timings.fast())) as started:
        yield started


@pytest.fixture(scope="module")
def user(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[User]:
    """The user's environment; every Prefect server started under it is stopped at the end."""
    root = tmp_path_factory.mktemp("user")
    clouds_yaml = cloud.write_clouds_yaml(root / "clouds.yaml")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PREFECT_", "OS_", "JUPYTER", "DENBI_"))
    }
    folders = {
        "HOME": root / "home",
        "TMPDIR": root / "tmp",
        "JUPYTER_DATA_DIR": root / "jupyter-data",
        "PREFECT_HOME": root / "prefect-client",
        "DENBI_JUPYTER_PREFECT_HOME": root / "prefect-server",
        "DENBI_JUPYTER_STATE_DIR": root / "state",
    }
    for folder in folders.values():
        folder.mkdir()
    env.update({key: str(folder) for key, folder in folders.items()})
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml)
    try:
        yield User(root=root, env=env)
    finally:
        for pid in prefect_servers(root):
            stop_process_group(pid)
        assert not prefect_servers(root)


@pytest.fixture(scope="module")
def client(cloud: LocalCloud, user: User) -> CloudClient:
    """A client of the site, for booting VMs and checking snapshots."""
    from denbi_jupyter.cloud import open_site

    return open_site(SITE, config_file=Path(user.env["OS_CLIENT_CONFIG_FILE"]))


def boot_vms(client: CloudClient, names: list[str]) -> list[str]:
    """Boot VMs ``names`` and return their ids once all are ACTIVE."""
    image = client.find_image("X2Go_xfce").id
    flavor = client.find_flavor("de.NBI tiny").id
    ids = [
        client.create_server(name=name, image_id=image, flavor_id=flavor, key_name=None).id
        for name in names
    ]

    def active() -> bool | None:
        servers = [client.get_server(server_id) for server_id in ids]
        return True if all(s is not None and s.status == "ACTIVE" for s in servers) else None

    until("the VMs ACTIVE", active, timeout_s=60)
    return ids


def alive(pid: int) -> bool:
    """True while ``pid`` runs."""
    return process_alive(pid)
