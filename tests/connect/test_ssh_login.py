"""The SSH key check: a real login against the local cloud's SSH server, never raising.

The module runs its own local cloud whose site formula puts the gateway ports in a range of
its own (other test sessions on this machine use the default ``30000 + …`` ports).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from denbi_jupyter.connect import LoginOutcome, check_ssh_login
from denbi_jupyter.connect.ports import PortFormula
from denbi_jupyter.errors import UserInputError
from denbi_jupyter.localcloud import LocalCloud
from tests.localcloud.polling import wait_for
from tests.support.ssh import SITE, ipv4_of, own_ports_config, sdk_connection

IMAGE = "X2Go_xfce"
FLAVOR = "de.NBI tiny"
PASSPHRASE = "correct horse battery staple"


def _write_key(folder: Path, name: str, *, passphrase: str | None = None) -> Path:
    key = asyncssh.generate_private_key("ssh-ed25519", comment=name)
    path = folder / name
    path.write_bytes(key.export_private_key(passphrase=passphrase))
    path.chmod(0o600)
    path.with_suffix(".pub").write_bytes(key.export_public_key())
    return path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``mine`` (the VM's key pair), ``other`` and ``locked`` (with a passphrase)."""
    folder = tmp_path_factory.mktemp("login-keys")
    return {
        "mine": _write_key(folder, "mine"),
        "other": _write_key(folder, "other"),
        "locked": _write_key(folder, "locked", passphrase=PASSPHRASE),
    }


@dataclass(frozen=True, slots=True)
class LoginVm:
    """An ACTIVE local-cloud VM booted with ``mine``: its id, gateway port and clouds.yaml."""

    server_id: str
    port: int
    clouds_yaml: Path
    site: str = SITE


@pytest.fixture(scope="module")
def login_vm(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Path]) -> Iterator[LoginVm]:
    """An ACTIVE VM of a local cloud of this module's own, booted with ``mine``, SSH listening."""
    cloud = LocalCloud(own_ports_config()).start()
    clouds = cloud.write_clouds_yaml(tmp_path_factory.mktemp("login-clouds") / "clouds.yaml")
    try:
        with sdk_connection(clouds) as sdk:
            public = keys["mine"].with_suffix(".pub").read_text()
            sdk.compute.create_keypair(name="login-key", public_key=public)
            image, flavor = sdk.image.find_image(IMAGE), sdk.compute.find_flavor(FLAVOR)
            assert image is not None and flavor is not None
            created = sdk.compute.create_server(
                name="login-vm", image_id=image.id, flavor_id=flavor.id, networks="auto",
                key_name="login-key",
            )  # fmt: skip
            server = sdk.compute.wait_for_server(created, interval=0.02, wait=30)
            formula = cloud.config.sites[0].ssh_port_formula
            port = PortFormula.parse(formula).port_for(ipv4_of(server))
            assert cloud.ssh is not None
            gateway = cloud.ssh
            wait_for(lambda: gateway.ports().get(server.id) == port, what="the VM's SSH")
            yield LoginVm(server_id=server.id, port=port, clouds_yaml=clouds)
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def vm_port(login_vm: LoginVm) -> int:
    """The gateway port of :func:`login_vm`."""
    return login_vm.port


def test_the_vms_key_pair_logs_in(vm_port: int, keys: dict[str, Path]) -> None:
    result = check_ssh_login("127.0.0.1", vm_port, user="ubuntu", key_path=str(keys["mine"]))
    assert result.accepted, result.reason
    assert result.outcome is LoginOutcome.ACCEPTED
    assert result.reason == "logged in as ubuntu with the key"


def test_another_key_is_refused(vm_port: int, keys: dict[str, Path]) -> None:
    result = check_ssh_login("127.0.0.1", vm_port, user="ubuntu", key_path=str(keys["other"]))
    assert not result.accepted
    assert (result.outcome, result.reason) == (
        LoginOutcome.KEY_REFUSED,
        "key refused for user ubuntu",
    )


def test_the_right_key_for_another_user_is_refused(vm_port: int, keys: dict[str, Path]) -> None:
    result = check_ssh_login("127.0.0.1", vm_port, user="root", key_path=str(keys["mine"]))
    assert result.outcome is LoginOutcome.KEY_REFUSED
    assert result.reason == "key refused for user root"


def test_a_key_with_a_passphrase_cannot_be_checked_and_says_so(
    vm_port: int, keys: dict[str, Path]
) -> None:
    result = check_ssh_login("127.0.0.1", vm_port, user="ubuntu", key_path=str(keys["locked"]))
    assert result.outcome is LoginOutcome.KEY_UNUSABLE
    assert result.reason == "key file has a passphrase: cannot check"


def test_a_missing_key_file_is_unreadable_without_naming_its_content(tmp_path: Path) -> None:
    result = check_ssh_login("127.0.0.1", 22, user="ubuntu", key_path=str(tmp_path / "none"))
    assert result.outcome is LoginOutcome.KEY_UNUSABLE
    assert result.reason == "key file unreadable (No such file or directory): cannot check"


def test_a_file_that_is_no_key_never_echoes_its_content(tmp_path: Path) -> None:
    secret = tmp_path / "notes"
    secret.write_text("hunter2-not-a-key\n")
    result = check_ssh_login("127.0.0.1", 22, user="ubuntu", key_path=str(secret))
    assert result.outcome is LoginOutcome.KEY_UNUSABLE
    assert "hunter2" not in result.reason
    assert result.reason == "key file is not an OpenSSH or PEM private key: cannot check"


def test_a_closed_port_says_port_closed(keys: dict[str, Path]) -> None:
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
    result = check_ssh_login("127.0.0.1", port, user="ubuntu", key_path=str(keys["mine"]))
    assert (result.outcome, result.reason) == (
        LoginOutcome.PORT_CLOSED,
        "port closed (connection refused)",
    )


def test_a_port_that_never_speaks_ssh_times_out(listening_port: int, keys: dict[str, Path]) -> None:
    result = check_ssh_login(
        "127.0.0.1", listening_port, user="ubuntu", key_path=str(keys["mine"]), timeout=0.5
    )
    assert (result.outcome, result.reason) == (
        LoginOutcome.TIMED_OUT,
        "timed out: no login within 0.5 s",
    )


def test_no_message_carries_key_material_or_passphrase(vm_port: int, keys: dict[str, Path]) -> None:
    material = {keys[name].read_text() for name in keys} | {PASSPHRASE}
    for name in keys:
        for user in ("ubuntu", "root"):
            result = check_ssh_login("127.0.0.1", vm_port, user=user, key_path=str(keys[name]))
            for secret in material:
                body = secret.split("\n")[1] if "\n" in secret else secret
                assert body not in result.reason and body not in repr(result)


@pytest.mark.parametrize(
    ("host", "port", "user", "key", "timeout"),
    [
        ("", 22, "ubuntu", "k", 1.0),
        ("h", 22, "", "k", 1.0),
        ("h", 22, "ubuntu", " ", 1.0),
        ("h", 0, "ubuntu", "k", 1.0),
        ("h", 22, "ubuntu", "k", 0.0),
        ("h", 22, "ubuntu", "k", 61.0),
    ],
)
def test_callers_mistakes_are_user_input_errors(
    host: str, port: int, user: str, key: str, timeout: float
) -> None:
    with pytest.raises(UserInputError):
        check_ssh_login(host, port, user=user, key_path=key, timeout=timeout)
