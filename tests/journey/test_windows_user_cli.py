"""A Windows user's story, end to end, through the real ``denbi-jupyter`` and real tools.

The user has a PuTTY key (``puttygen`` makes it, with a passphrase), converts it with
``convert-key``, imports its public key as a key pair, boots an ``X2Go_xfce`` VM with it,
logs in with the OpenSSH client through the config block ``connect --ssh-config`` writes,
snapshots the VM, relaunches from the snapshot (X2Go session file: XFCE; same login), and
stops, starts and deletes VMs; a VM whose snapshot uploads is not deleted. Every command is
its own process against a private local cloud with SSH (``conftest.py``).

The tests share the module's VMs and run in file order (the story's order).
"""

from __future__ import annotations

import configparser
import json
import os
import signal
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from denbi_jupyter.cloud.protocol import CloudClient
from tests.localcloud.polling import wait_for
from tests.support.keys import ssh_keygen_key
from tests.support.puttygen import puttygen_public_key, run_puttygen
from tests.support.ssh import accepts

from .conftest import SITE, Denbi

PASSPHRASE = "correct horse battery staple"
KEY_NAME = "windows-laptop"
FLAVOR = "de.NBI tiny"
DESKTOP_IMAGE = "X2Go_xfce"
#: The exit code of a refused action (``ConflictError``).
REFUSED = 4
#: Where Debian's python3-x2go lives (it is not installed into the virtualenv).
SYSTEM_PYTHON = Path("/usr/bin/python3")

Faults = Callable[..., None]


@dataclass(frozen=True, slots=True)
class UserKey:
    """The user's PuTTY key and what ``convert-key`` made of it."""

    ppk: Path
    passphrase_file: Path
    private_key: Path
    public_key: Path
    puttygen_public: str


@dataclass(frozen=True, slots=True)
class Vm:
    """A VM the story booted, as ``boot --json`` reported it."""

    id: str
    name: str
    port: int


def _ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(_ok(done).stdout)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's working folder."""
    return tmp_path_factory.mktemp("windows-user")


@pytest.fixture(scope="module")
def user_key(tools: dict[str, str], denbi: Denbi, folder: Path) -> UserKey:
    """A passphrase-protected Ed25519 .ppk from puttygen, converted by ``convert-key``."""
    secret = folder / "passphrase.txt"
    secret.write_text(PASSPHRASE + "\n")
    ppk = folder / "laptop.ppk"
    run_puttygen("-t", "ed25519", "-q", "-C", "laptop", "-o", ppk, "--new-passphrase", secret)
    shown = puttygen_public_key(ppk, secret)
    private = folder / "id_laptop"
    _ok(denbi("convert-key", ppk, private, "--passphrase-file", secret))
    return UserKey(ppk, secret, private, folder / "id_laptop.pub", shown)


@pytest.fixture(scope="module")
def other_key(tools: dict[str, str], folder: Path) -> Path:
    """A key of somebody else (``ssh-keygen``), never imported."""
    return ssh_keygen_key(folder / "id_other", "other")


@pytest.fixture(scope="module")
def keypair(denbi: Denbi, user_key: UserKey) -> dict[str, Any]:
    """The key pair imported from the converted public key (``keypair import --json``)."""
    imported: dict[str, Any] = _json(
        denbi("keypair", "import", KEY_NAME, "--public-key", user_key.public_key, "--json")
    )
    return imported


def _boot(denbi: Denbi, name: str, image: str) -> Vm:
    booted = _json(
        denbi(
            "boot",
            *("--image", image, "--flavor", FLAVOR, "--key-name", KEY_NAME, "--name", name),
            "--wait-for-port",
            "--json",
        )
    )
    server, connection = booted["server"], booted["connection"]
    assert (server["status"], server["key_name"]) == ("ACTIVE", KEY_NAME)
    assert connection["available"] is True, connection
    return Vm(server["id"], server["name"], int(connection["port"]))


@pytest.fixture(scope="module")
def desktop_vm(denbi: Denbi, keypair: dict[str, Any]) -> Vm:
    """A VM booted from ``X2Go_xfce`` with the key pair, SSH answering."""
    assert keypair["name"] == KEY_NAME
    return _boot(denbi, "win-desk", DESKTOP_IMAGE)


def _ssh_config(denbi: Denbi, folder: Path, vm: Vm, key: Path) -> tuple[Path, str]:
    """The config file written from ``connect --ssh-config --identity-file``, and its host."""
    block = _ok(denbi("connect", vm.name, "--ssh-config", "--identity-file", key)).stdout
    config = folder / f"ssh_config-{vm.name}-{key.name}"
    config.write_text(block)
    host = block.splitlines()[0].removeprefix("Host ").strip()
    return config, host


def _ssh(
    tools: dict[str, str], folder: Path, config: Path, host: str, command: str
) -> subprocess.CompletedProcess[str]:
    options = [
        *("-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"),
        *("-o", f"UserKnownHostsFile={folder / 'known_hosts'}", "-o", "ConnectTimeout=20"),
    ]
    return subprocess.run(
        [tools["ssh"], "-F", str(config), *options, host, command],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _servers(denbi: Denbi) -> dict[str, dict[str, Any]]:
    listed = _json(denbi("server", "list", "--json"))["servers"]
    return {row["id"]: row for row in listed}


@pytest.fixture(scope="module")
def snapshot(denbi: Denbi, desktop_vm: Vm) -> dict[str, Any]:
    """``snapshot create --json`` of the desktop VM."""
    made: dict[str, Any] = _json(
        denbi(
            "snapshot", "create", "--server", desktop_vm.name, "--name", "win-desk-snap", "--json"
        )
    )
    return made


@pytest.fixture(scope="module")
def relaunched(denbi: Denbi, snapshot: dict[str, Any]) -> Vm:
    """A VM booted from the snapshot with the same key pair."""
    return _boot(denbi, "win-again", snapshot["name"])


def test_the_putty_key_becomes_an_openssh_key_pair_the_cloud_knows(
    denbi: Denbi, user_key: UserKey, keypair: dict[str, Any]
) -> None:
    assert user_key.private_key.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert stat.S_IMODE(user_key.private_key.stat().st_mode) == 0o600
    assert user_key.public_key.read_text().split()[:2] == user_key.puttygen_public.split()[:2]
    locked = denbi("keypair", "import", "laptop-from-ppk", "--from-ppk", user_key.ppk)
    assert locked.returncode == 2 and "--passphrase-file" in locked.stderr
    from_ppk = _json(
        denbi(
            *("keypair", "import", "laptop-from-ppk", "--from-ppk", user_key.ppk),
            *("--passphrase-file", user_key.passphrase_file, "--json"),
        )
    )
    assert from_ppk["sha256_fingerprint"] == keypair["sha256_fingerprint"]
    listed = {pair["name"] for pair in _json(denbi("keypair", "list", "--json"))}
    assert {KEY_NAME, "laptop-from-ppk"} <= listed


def test_ssh_with_the_converted_key_runs_hostname_on_the_vm(
    denbi: Denbi, tools: dict[str, str], folder: Path, user_key: UserKey, desktop_vm: Vm
) -> None:
    config, host = _ssh_config(denbi, folder, desktop_vm, user_key.private_key)
    assert f"Port {desktop_vm.port}" in config.read_text()
    assert f"IdentityFile {user_key.private_key}" in config.read_text()
    answer = _ssh(tools, folder, config, host, "hostname")
    assert (answer.returncode, answer.stdout) == (0, f"{desktop_vm.name}\n"), answer.stderr
    assert _ssh(tools, folder, config, host, "echo from Windows").stdout == "from Windows\n"


def test_ssh_with_another_key_is_refused(
    denbi: Denbi, tools: dict[str, str], folder: Path, other_key: Path, desktop_vm: Vm
) -> None:
    config, host = _ssh_config(denbi, folder, desktop_vm, other_key)
    refused = _ssh(tools, folder, config, host, "hostname")
    assert refused.returncode == 255
    assert "Permission denied" in refused.stderr
    assert refused.stdout == ""


def test_a_vm_relaunched_from_the_snapshot_is_an_xfce_desktop_with_the_same_login(
    denbi: Denbi,
    tools: dict[str, str],
    folder: Path,
    user_key: UserKey,
    snapshot: dict[str, Any],
    relaunched: Vm,
) -> None:
    assert snapshot["status"] == "active" and snapshot["server_name"] == "win-desk"
    session_file = folder / "win-again.x2go"
    _ok(
        denbi(
            *("connect", relaunched.name, "--x2go-session", session_file),
            *("--identity-file", user_key.private_key),
        )
    )
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    sessions = configparser.ConfigParser(interpolation=None)
    sessions.read(session_file, encoding="utf-8")
    (section,) = sessions.sections()
    session = sessions[section]
    assert session["command"] == "XFCE"
    assert (session["host"], session["sshport"], session["user"]) == (
        "127.0.0.1",
        str(relaunched.port),
        "ubuntu",
    )
    config, host = _ssh_config(denbi, folder, relaunched, user_key.private_key)
    answer = _ssh(tools, folder, config, host, "hostname")
    assert (answer.returncode, answer.stdout) == (0, f"{relaunched.name}\n"), answer.stderr


_X2GO_READER = """
import sys
from x2go.inifiles import X2GoIniFile
ini = X2GoIniFile(config_files=[sys.argv[1]])
(section,) = ini.iniConfig.sections()
print(ini.get_value(section, "command", key_type=str))
"""


def test_python_x2go_reads_the_session_type_as_xfce(
    denbi: Denbi, folder: Path, relaunched: Vm
) -> None:
    probe = [str(SYSTEM_PYTHON), "-c", "import x2go.inifiles"]
    if not SYSTEM_PYTHON.exists() or subprocess.run(probe, capture_output=True).returncode:
        pytest.skip("python3-x2go is not installed: apt-get install python3-x2go")
    session_file = folder / "win-again-x2go-reader.x2go"
    _ok(denbi("connect", relaunched.name, "--x2go-session", session_file))
    read = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", _X2GO_READER, str(session_file)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (read.returncode, read.stdout.strip()) == (0, "XFCE"), read.stderr


def _status(cloud: CloudClient, vm: Vm) -> str | None:
    server = cloud.get_server(vm.id)
    return None if server is None else server.status


def test_stop_start_and_delete_settle_and_ssh_follows_the_vm(
    denbi: Denbi,
    cloud: CloudClient,
    tools: dict[str, str],
    folder: Path,
    user_key: UserKey,
    relaunched: Vm,
) -> None:
    config, host = _ssh_config(denbi, folder, relaunched, user_key.private_key)
    stopped = _json(denbi("server", "stop", relaunched.name, "--json"))["results"]
    assert [(r["id"], r["status"]) for r in stopped] == [(relaunched.id, "SHUTOFF")]
    assert _status(cloud, relaunched) == "SHUTOFF"
    wait_for(lambda: not accepts(relaunched.port), what="SSH to stop with the VM")
    down = _ssh(tools, folder, config, host, "hostname")
    assert down.returncode == 255 and "Connection refused" in down.stderr

    started = _ok(denbi("server", "start", relaunched.name))
    assert f"VM {relaunched.name} ({relaunched.id}): start done, ACTIVE" in started.stdout
    assert _status(cloud, relaunched) == "ACTIVE"
    wait_for(lambda: accepts(relaunched.port), what="SSH to return with the VM")
    assert _ssh(tools, folder, config, host, "hostname").stdout == f"{relaunched.name}\n"

    deleted = _json(denbi("server", "delete", relaunched.name, "--json"))["results"]
    assert [(r["id"], r["status"]) for r in deleted] == [(relaunched.id, "DELETED")]
    assert relaunched.id not in _servers(denbi)
    assert _status(cloud, relaunched) is None
    wait_for(lambda: not accepts(relaunched.port), what="SSH to end with the VM")


def _ended(pid: int) -> bool:
    """True once process ``pid`` is gone (or a zombie nobody has reaped yet)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return fields[0] == "Z"


@pytest.fixture
def uploading(denbi: Denbi, cloud: CloudClient, desktop_vm: Vm, faults: Faults) -> Iterator[None]:
    """A snapshot of the desktop VM held in ``image_uploading`` (``snapshot create --no-wait``).

    The detached command waits for an image that never ends; it is stopped by its pid after.
    """
    faults({"kind": "snapshot_stuck", "site": SITE, "count": 1})
    started = _json(
        denbi(
            *("snapshot", "create", "--server", desktop_vm.name, "--name", "win-desk-stuck"),
            *("--no-wait", "--json"),
        )
    )
    pid = int(started["pid"])
    try:

        def task_state() -> bool:
            server = cloud.get_server(desktop_vm.id)
            return server is not None and server.task_state == "image_uploading"

        wait_for(task_state, what="the snapshot to upload", timeout=60, interval=0.05)
        yield
    finally:
        if not _ended(pid):
            os.kill(pid, signal.SIGTERM)
        wait_for(lambda: _ended(pid), what=f"the detached snapshot command (pid {pid}) to end")


def test_delete_is_refused_while_a_snapshot_of_the_vm_uploads(
    denbi: Denbi, desktop_vm: Vm, uploading: None
) -> None:
    refused = denbi("server", "delete", desktop_vm.name)
    assert refused.returncode == REFUSED, refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("denbi-jupyter:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"denbi-jupyter: error: {desktop_vm.name}: VM ")
    assert "is taking a snapshot (image_uploading)" in errors[0]
    assert refused.stdout == ""
    still = _servers(denbi)[desktop_vm.id]
    assert (still["status"], still["task_state"]) == ("ACTIVE", "image_uploading")


def test_no_output_shows_the_private_key_or_the_passphrase(
    denbi: Denbi, user_key: UserKey, journey_clouds_yaml: Path
) -> None:
    clouds = yaml.safe_load(journey_clouds_yaml.read_text())["clouds"]
    password = clouds[SITE]["auth"]["password"]
    # The body's first line is the same for every unencrypted key; the others are secret.
    secret_lines = user_key.private_key.read_text().splitlines()[2:-1]
    everything = "\n".join(denbi.outputs)
    assert len(denbi.outputs) > 20
    assert "PRIVATE KEY" not in everything
    assert secret_lines and not [line for line in secret_lines if line in everything]
    assert PASSPHRASE not in everything
    assert password not in everything
