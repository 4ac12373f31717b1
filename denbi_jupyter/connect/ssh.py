"""How to reach a VM over SSH: the command line and an ``~/.ssh/config`` block.

A de.NBI VM is reached through the site's gateway on a per-VM port (see
:mod:`denbi_jupyter.connect.ports`). Everything here is text building; nothing connects.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import unicodedata
from dataclasses import dataclass

from denbi_jupyter.connect._checks import check_port
from denbi_jupyter.connect.ports import PortFormula
from denbi_jupyter.errors import UserInputError

__all__ = ["ConnectionInfo", "ssh_alias", "ssh_command", "ssh_config_block"]

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
_ALIAS_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_FORBIDDEN_IN_PATH = frozenset('"\n\r\0')
#: Characters that make ``ssh_config`` split or end a value unless it is quoted.
_CONFIG_SPECIAL = frozenset("'\\#=")
_DEFAULT_ALIAS = "denbi-vm"


def _check_host(host: str) -> str:
    text = host.strip() if isinstance(host, str) else ""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if not _HOSTNAME.fullmatch(text):
            raise UserInputError(
                f"{host!r} is not a host name or IP address; give the site's SSH gateway, "
                "e.g. 'denbi-gateway.example.org'."
            ) from None
    return text


def _check_user(user: str) -> str:
    if not isinstance(user, str) or not _USER.fullmatch(user):
        raise UserInputError(
            f"{user!r} is not a valid login name; use the image's default user, e.g. 'ubuntu' "
            "(letters, digits, '.', '_' and '-')."
        )
    return user


def _one_line(text: str) -> bool:
    """True when ``text`` has no control character and no line or paragraph separator."""
    return not any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in text)


def _check_key_path(key_path: str | None) -> str | None:
    if key_path is None:
        return None
    if not isinstance(key_path, str) or not key_path.strip():
        raise UserInputError("The key path is empty; give the path of your private key file.")
    if _FORBIDDEN_IN_PATH.intersection(key_path) or not _one_line(key_path):
        raise UserInputError(
            "The key path contains a double quote, a line break, a NUL or another control "
            "character, which SSH configuration cannot express; move or rename the key file."
        )
    return key_path


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """Everything needed to open SSH to one VM through the site's gateway.

    Attributes:
        host: The site's SSH gateway (host name or IP address).
        port: The VM's port on the gateway.
        user: The login name on the VM, e.g. ``ubuntu``.
        key_path: Path of the private key on the user's machine, or ``None`` to let SSH choose.
        server_name: The VM's name, used for the config alias and session titles.
    """

    host: str
    port: int
    user: str
    key_path: str | None = None
    server_name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "host", _check_host(self.host))
        check_port(self.port)
        _check_user(self.user)
        _check_key_path(self.key_path)
        if not isinstance(self.server_name, str):
            raise UserInputError(f"{self.server_name!r} is not a server name.")

    @classmethod
    def for_vm(
        cls,
        *,
        gateway: str,
        port_formula: str | PortFormula,
        private_ip: str,
        user: str,
        key_path: str | None = None,
        server_name: str = "",
    ) -> ConnectionInfo:
        """Build the connection info for a VM from the site's gateway and port formula.

        Raises:
            UserInputError: The formula, address, gateway, user or key path is invalid.
        """
        formula = (
            port_formula
            if isinstance(port_formula, PortFormula)
            else PortFormula.parse(port_formula)
        )
        return cls(
            host=gateway,
            port=formula.port_for(private_ip),
            user=user,
            key_path=key_path,
            server_name=server_name,
        )


def _shell_path(path: str) -> str:
    """Quote a path for a POSIX shell, leaving a leading ``~/`` unquoted so it expands."""
    if path.startswith("~/"):
        return "~/" + shlex.quote(path[2:]) if path[2:] else "~/"
    return shlex.quote(path)


def ssh_command(info: ConnectionInfo) -> str:
    """The command line that opens SSH to the VM, quoted for a POSIX shell.

    Example: ``ssh -i ~/.ssh/id_ed25519 -p 30123 ubuntu@gateway.example.org``.
    """
    parts = ["ssh"]
    if info.key_path is not None:
        parts += ["-i", _shell_path(info.key_path)]
    parts += ["-p", str(info.port), shlex.quote(f"{info.user}@{info.host}")]
    return " ".join(parts)


def ssh_alias(name: str) -> str:
    """A ``Host`` alias made from a server name: lower case, ``[a-z0-9._-]`` only.

    Pattern characters (``* ? !``), spaces and anything else become ``-``; an empty result
    becomes ``denbi-vm``.
    """
    alias = _ALIAS_UNSAFE.sub("-", name.strip().lower()).strip("-.")
    return alias[:64].rstrip("-.") or _DEFAULT_ALIAS


def _config_value(value: str) -> str:
    """Quote a value for ``ssh_config`` and escape ``%`` so it is not read as a token.

    OpenSSH (8.7 and later) splits values like a shell: whitespace, ``'`` and ``#`` need the
    double quotes, and inside them a backslash escapes ``\\``; ``"`` is refused earlier.
    """
    value = value.replace("%", "%%")
    if not any(ch.isspace() or ch in _CONFIG_SPECIAL for ch in value):
        return value
    return '"' + value.replace("\\", "\\\\") + '"'


def ssh_config_block(info: ConnectionInfo, *, alias: str | None = None) -> str:
    """An ``~/.ssh/config`` block for the VM, ending with a newline.

    Args:
        info: The connection.
        alias: The ``Host`` name to use; sanitised like :func:`ssh_alias`. Defaults to the
            server name, or ``denbi-vm`` when there is none.
    """
    host_alias = ssh_alias(alias if alias is not None else info.server_name)
    lines = [
        f"Host {host_alias}",
        f"    HostName {info.host}",
        f"    Port {info.port}",
        f"    User {info.user}",
    ]
    if info.key_path is not None:
        lines.append(f"    IdentityFile {_config_value(info.key_path)}")
        lines.append("    IdentitiesOnly yes")
    return "\n".join(lines) + "\n"
