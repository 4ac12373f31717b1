"""The local cloud's VMs answer SSH: the real OpenSSH client logs in with the VM's key pair.

The module runs its own local cloud whose site formula puts the gateway ports in a range of
its own (other test sessions on this machine use the default ``30000 + …`` ports).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from denbi_jupyter.cli.commands.local_cloud import add_serve_arguments, config_from_args
from denbi_jupyter.connect.ports import PortFormula
from denbi_jupyter.connect.probe import probe_tcp
from denbi_jupyter.localcloud import DEFAULT_SITES, LocalCloud, LocalCloudConfig, Timings
from denbi_jupyter.localcloud.ssh_commands import VmIdentity, run_command
from denbi_jupyter.localcloud.ssh_server import load_host_key
from denbi_jupyter.localcloud.ssh_targets import gateway_port
from tests.support.keys import ssh_keygen_key
from tests.support.ssh import accepts, ipv4_of, own_ports_config, sdk_connection

from .polling import wait_for
from .test_nova_servers import IMAGE, TINY


@dataclass(frozen=True, slots=True)
class Vm:
    """A booted VM and where its SSH listens."""

    id: str
    name: str
    port: int


@pytest.fixture(scope="module")
def ssh_cloud() -> Iterator[LocalCloud]:
    """A local cloud with SSH whose only site maps ``oct4`` into a free-looking port range."""
    cloud = LocalCloud(own_ports_config()).start()
    yield cloud
    cloud.stop()


@pytest.fixture(scope="module")
def sdk(ssh_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Connection]:
    """An openstacksdk connection from the cloud's clouds.yaml."""
    path = ssh_cloud.write_clouds_yaml(tmp_path_factory.mktemp("ssh-clouds") / "clouds.yaml")
    connection = sdk_connection(path)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two fresh Ed25519 key files: ``mine`` (imported as a key pair) and ``other``."""
    folder = tmp_path_factory.mktemp("ssh-keys")
    return {name: ssh_keygen_key(folder / name, name) for name in ("mine", "other")}


@pytest.fixture(scope="module")
def keypair(sdk: Connection, keys: dict[str, Path]) -> str:
    """The name of the key pair made from ``mine``'s public key."""
    public = keys["mine"].with_suffix(".pub").read_text()
    return str(sdk.compute.create_keypair(name="ssh-test-key", public_key=public).name)


def _boot(ssh_cloud: LocalCloud, sdk: Connection, name: str, key_name: str | None) -> Vm:
    image = sdk.image.find_image(IMAGE)
    flavor = sdk.compute.find_flavor(TINY)
    assert image is not None and flavor is not None
    extra: dict[str, Any] = {"key_name": key_name} if key_name else {}
    created = sdk.compute.create_server(
        name=name, image_id=image.id, flavor_id=flavor.id, networks="auto", **extra
    )
    server = sdk.compute.wait_for_server(created, interval=0.02, wait=30)
    formula = ssh_cloud.config.sites[0].ssh_port_formula
    return Vm(server.id, name, PortFormula.parse(formula).port_for(ipv4_of(server)))


def _wait_listening(ssh_cloud: LocalCloud, vm: Vm) -> None:
    assert ssh_cloud.ssh is not None
    gateway = ssh_cloud.ssh
    wait_for(lambda: gateway.ports().get(vm.id) == vm.port, what=f"SSH of {vm.name}")


def _wait_closed(vm: Vm) -> None:
    wait_for(lambda: not accepts(vm.port), what=f"SSH of {vm.name} to close")


@pytest.fixture(scope="module")
def vm(ssh_cloud: LocalCloud, sdk: Connection, keypair: str) -> Iterator[Vm]:
    """An ACTIVE VM booted with the key pair, its SSH listening."""
    booted = _boot(ssh_cloud, sdk, "ssh-vm", keypair)
    _wait_listening(ssh_cloud, booted)
    yield booted
    sdk.compute.delete_server(booted.id)


def _ssh(
    port: int, key: Path, command: str | None, *, user: str = "ubuntu"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "ssh",
            "-i",
            str(key),
            "-p",
            str(port),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "LogLevel=ERROR",
            "-F",
            "/dev/null",
            f"{user}@127.0.0.1",
            *([] if command is None else [command]),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_ssh_with_the_vms_key_pair_prints_its_hostname(vm: Vm, keys: dict[str, Path]) -> None:
    result = _ssh(vm.port, keys["mine"], "hostname")
    assert (result.returncode, result.stdout) == (0, f"{vm.name}\n"), result.stderr


def test_ssh_runs_echo_whoami_and_true(vm: Vm, keys: dict[str, Path]) -> None:
    assert _ssh(vm.port, keys["mine"], "echo hello 'de.NBI'").stdout == "hello de.NBI\n"
    assert _ssh(vm.port, keys["mine"], "whoami").stdout == "ubuntu\n"
    assert _ssh(vm.port, keys["mine"], "true").returncode == 0


def test_unknown_command_answers_command_not_found_with_127(vm: Vm, keys: dict[str, Path]) -> None:
    result = _ssh(vm.port, keys["mine"], "sudo rm -rf /")
    assert result.returncode == 127
    assert "sudo: command not found" in result.stderr


def test_an_interactive_login_prints_a_banner_and_closes(vm: Vm, keys: dict[str, Path]) -> None:
    result = _ssh(vm.port, keys["mine"], None)
    assert result.returncode == 0
    assert "no interactive shell" in result.stdout


def test_another_key_is_refused(vm: Vm, keys: dict[str, Path]) -> None:
    result = _ssh(vm.port, keys["other"], "hostname")
    assert result.returncode == 255
    assert "Permission denied" in result.stderr
    assert result.stdout == ""


def test_the_right_key_for_another_user_is_refused(vm: Vm, keys: dict[str, Path]) -> None:
    result = _ssh(vm.port, keys["mine"], "hostname", user="root")
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


def test_probe_says_reachable_while_active(vm: Vm) -> None:
    assert probe_tcp("127.0.0.1", vm.port, timeout=5).reachable


def test_vm_without_key_pair_answers_but_refuses_every_key(
    ssh_cloud: LocalCloud, sdk: Connection, keys: dict[str, Path]
) -> None:
    keyless = _boot(ssh_cloud, sdk, "ssh-keyless", None)
    _wait_listening(ssh_cloud, keyless)
    try:
        assert probe_tcp("127.0.0.1", keyless.port, timeout=5).reachable
        result = _ssh(keyless.port, keys["mine"], "hostname")
        assert result.returncode == 255
        assert "Permission denied" in result.stderr
    finally:
        sdk.compute.delete_server(keyless.id)
    _wait_closed(keyless)


def test_ssh_stops_with_the_vm_returns_on_start_and_ends_on_delete(
    ssh_cloud: LocalCloud, sdk: Connection, keypair: str, keys: dict[str, Path]
) -> None:
    power = _boot(ssh_cloud, sdk, "ssh-power", keypair)
    _wait_listening(ssh_cloud, power)
    sdk.compute.stop_server(power.id)
    sdk.compute.wait_for_server(sdk.compute.get_server(power.id), status="SHUTOFF", interval=0.02)
    _wait_closed(power)
    assert not probe_tcp("127.0.0.1", power.port, timeout=5).reachable

    sdk.compute.start_server(power.id)
    sdk.compute.wait_for_server(sdk.compute.get_server(power.id), status="ACTIVE", interval=0.02)
    _wait_listening(ssh_cloud, power)
    assert _ssh(power.port, keys["mine"], "hostname").stdout == "ssh-power\n"

    sdk.compute.delete_server(power.id)
    _wait_closed(power)


def test_local_cloud_stop_closes_every_listener(tmp_path: Path) -> None:
    cloud = LocalCloud(own_ports_config(tmp_path))
    cloud.start()
    try:
        clouds = cloud.write_clouds_yaml(tmp_path / "clouds.yaml")
        with sdk_connection(clouds) as connection:
            booted = _boot(cloud, connection, "ssh-lifetime", None)
            _wait_listening(cloud, booted)
    finally:
        cloud.stop()
    assert not accepts(booted.port)
    assert cloud.ssh is None


def test_a_taken_port_is_logged_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        site = replace(DEFAULT_SITES[0], ssh_port_formula=f"{port} + 0*oct4")
        config = LocalCloudConfig(timings=Timings.fast(), sites=(site,), state_dir=tmp_path)
        with LocalCloud(config) as cloud:
            clouds = cloud.write_clouds_yaml(tmp_path / "clouds.yaml")
            with sdk_connection(clouds) as connection:
                booted = _boot(cloud, connection, "ssh-taken", None)
                wait_for(
                    lambda: any("cannot listen" in r.getMessage() for r in caplog.records),
                    what="the warning about the taken port",
                )
                assert cloud.ssh is not None
                assert booted.id not in cloud.ssh.ports()
                assert connection.compute.get_server(booted.id).status == "ACTIVE"


def test_no_ssh_config_serves_no_ssh(tmp_path: Path) -> None:
    with LocalCloud(LocalCloudConfig(ssh=False, state_dir=tmp_path)) as cloud:
        assert cloud.ssh is None
    assert not (tmp_path / "ssh_host_ed25519_key").exists()


def test_local_cloud_command_takes_no_ssh(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    state = ["--state", str(tmp_path)]
    assert config_from_args(parser.parse_args(state)).ssh is True
    assert config_from_args(parser.parse_args([*state, "--no-ssh"])).ssh is False


def test_host_key_is_made_once_per_state_folder(tmp_path: Path) -> None:
    first = load_host_key(tmp_path)
    second = load_host_key(tmp_path)
    assert first.public_data == second.public_data
    assert first.algorithm == b"ssh-ed25519"
    assert (tmp_path / "ssh_host_ed25519_key").stat().st_mode & 0o777 == 0o600


def test_gateway_port_follows_the_site_formula() -> None:
    assert gateway_port("30000 + 256*oct3 + oct4", "192.168.1.23") == 30279
    assert gateway_port("30000 + oct4", "192.168.20.7") == 30007
    assert gateway_port("70000 + oct4", "192.168.20.7") is None
    assert gateway_port("__import__('os')", "192.168.20.7") is None


def test_commands_answer_from_the_vm_record() -> None:
    vm = VmIdentity(hostname="vm1", user="ubuntu", distro="ubuntu", version="22.04")
    assert run_command("uname -a", vm).stdout.startswith("Linux vm1 ")
    assert 'VERSION_ID="22.04"' in run_command("cat /etc/os-release", vm).stdout
    assert run_command("echo -n hi", vm).stdout == "hi"
    assert run_command("ls", vm).exit_status == 127
    assert run_command("echo 'open", vm).exit_status == 2
