"""SSH command line and ~/.ssh/config block."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from denbi_jupyter.connect import ConnectionInfo, ssh_alias, ssh_command, ssh_config_block
from denbi_jupyter.errors import UserInputError

GATEWAY = "denbi-gw.example.org"


def _info(**changes: object) -> ConnectionInfo:
    values: dict[str, object] = {
        "host": GATEWAY,
        "port": 30123,
        "user": "ubuntu",
        "key_path": "~/.ssh/id_ed25519",
        "server_name": "analysis-vm",
    }
    values.update(changes)
    return ConnectionInfo(**values)  # type: ignore[arg-type]


def test_ssh_command_uses_key_port_user_and_gateway() -> None:
    assert ssh_command(_info()) == f"ssh -i ~/.ssh/id_ed25519 -p 30123 ubuntu@{GATEWAY}"


def test_ssh_command_without_key_lets_ssh_choose() -> None:
    assert ssh_command(_info(key_path=None)) == f"ssh -p 30123 ubuntu@{GATEWAY}"


@pytest.mark.parametrize(
    "key_path",
    ["/home/a b/key", "/tmp/it's; rm -rf ~", "C:\\Users\\Jürgen\\key.pem", "~/keys/my key $HOME"],
)
def test_ssh_command_is_one_argument_per_value_in_a_shell(key_path: str) -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    command = ssh_command(_info(key_path=key_path))
    printed = subprocess.run(
        [bash, "-c", "printf '%s\\n' " + command.removeprefix("ssh ")],
        env={"HOME": "/home/alice", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    expected_key = (
        key_path.replace("~", "/home/alice", 1) if key_path.startswith("~/") else key_path
    )
    assert printed == ["-i", expected_key, "-p", "30123", f"ubuntu@{GATEWAY}"]


def test_ssh_command_splits_back_with_shlex() -> None:
    command = ssh_command(_info(key_path="/keys/with space"))
    assert shlex.split(command) == [
        "ssh",
        "-i",
        "/keys/with space",
        "-p",
        "30123",
        f"ubuntu@{GATEWAY}",
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"user": "ubuntu; rm -rf /"},
        {"user": "-oProxyCommand=evil"},
        {"user": ""},
        {"host": "gw.example.org; reboot"},
        {"host": "-oProxyCommand=evil"},
        {"host": ""},
        {"port": 0},
        {"port": 70000},
        {"port": True},
        {"port": "22"},
        {"key_path": "/keys/a\nHost *"},
        {"key_path": '/keys/"quoted"'},
        {"key_path": "  "},
    ],
)
def test_values_that_could_inject_commands_or_config_are_rejected(
    changes: dict[str, object],
) -> None:
    with pytest.raises(UserInputError):
        _info(**changes)


def test_ip_addresses_are_accepted_as_gateway() -> None:
    assert ssh_command(_info(host="192.0.2.10", key_path=None)) == "ssh -p 30123 ubuntu@192.0.2.10"
    assert _info(host="2001:db8::1").host == "2001:db8::1"


def test_connection_info_for_vm_uses_the_site_port_formula() -> None:
    info = ConnectionInfo.for_vm(
        gateway=GATEWAY,
        port_formula="30000 + 256*oct3 + oct4",
        private_ip="192.168.3.4",
        user="centos",
        server_name="vm",
    )
    assert (info.host, info.port, info.user, info.key_path) == (GATEWAY, 30772, "centos", None)


def test_config_block_has_alias_hostname_port_user_and_identity() -> None:
    assert ssh_config_block(_info()) == (
        "Host analysis-vm\n"
        f"    HostName {GATEWAY}\n"
        "    Port 30123\n"
        "    User ubuntu\n"
        "    IdentityFile ~/.ssh/id_ed25519\n"
        "    IdentitiesOnly yes\n"
    )


def test_config_block_without_key_has_no_identity_lines() -> None:
    block = ssh_config_block(_info(key_path=None))
    assert "IdentityFile" not in block
    assert "IdentitiesOnly" not in block


@pytest.mark.parametrize(
    ("name", "alias"),
    [
        ("My VM *prod*", "my-vm-prod"),
        ("analysis-vm", "analysis-vm"),
        ("!negated?", "negated"),
        ("../../etc", "etc"),
        ("vm.example_1", "vm.example_1"),
        ("", "denbi-vm"),
        ("***", "denbi-vm"),
        ("x" * 100, "x" * 64),
    ],
)
def test_alias_is_sanitised(name: str, alias: str) -> None:
    assert ssh_alias(name) == alias


def test_explicit_alias_is_sanitised_too() -> None:
    assert ssh_config_block(_info(), alias="Lab Box #1").startswith("Host lab-box-1\n")


def test_config_quotes_paths_with_spaces_and_escapes_percent() -> None:
    block = ssh_config_block(_info(key_path="/home/a b/100%key"))
    assert '    IdentityFile "/home/a b/100%%key"\n' in block


def test_openssh_reads_the_config_block(tmp_path: Path) -> None:
    ssh = shutil.which("ssh")
    if ssh is None:
        pytest.skip("the OpenSSH client is not installed")
    config = tmp_path / "config"
    config.write_text(ssh_config_block(_info(key_path="/home/a b/100%key", server_name="My VM")))
    resolved = subprocess.run(
        [ssh, "-F", str(config), "-G", "my-vm"],
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
    ).stdout.splitlines()
    assert f"hostname {GATEWAY}" in resolved
    assert "port 30123" in resolved
    assert "user ubuntu" in resolved
    # `ssh -G` shows IdentityFile before token expansion turns "%%" into "%"
    assert "identityfile /home/a b/100%%key" in resolved
    assert "identitiesonly yes" in resolved
