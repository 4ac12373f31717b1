"""What a local-cloud VM answers over SSH: a handful of commands, computed, never executed.

Nothing here runs a process or touches the host: each command is answered from the VM's
record (:class:`VmIdentity`). Known: ``true``, ``false``, ``hostname``, ``echo [-n] …``,
``whoami``, ``id``, ``uname [-a|-s|-n|-r|-m]``, ``cat /etc/os-release`` and ``cat
/etc/hostname``. Anything else answers ``<name>: command not found`` with exit status 127, as
bash does. There is no shell: no pipes, redirections, variables or ``&&``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["SHELL_BANNER", "CommandResult", "VmIdentity", "run_command"]

#: What an interactive login (``ssh user@host`` without a command) prints before it closes.
SHELL_BANNER = (
    "This is a VM of the denbi-jupyter local cloud. It answers simple commands "
    "(hostname, echo, whoami, uname, true) but has no interactive shell.\r\n"
)

_KERNEL = "5.15.0-denbi-local"
_MACHINE = "x86_64"


@dataclass(frozen=True, slots=True)
class VmIdentity:
    """The facts a VM's commands answer from.

    Attributes:
        hostname: The VM's host name (Nova's ``hostname``, the sanitised VM name).
        user: The login user.
        distro: ``os_distro`` of its image (``ubuntu``), empty when unknown.
        version: ``os_version`` of its image (``22.04``), empty when unknown.
    """

    hostname: str
    user: str
    distro: str = ""
    version: str = ""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The output and exit status of one command."""

    stdout: str = ""
    stderr: str = ""
    exit_status: int = 0


def _os_release(vm: VmIdentity) -> str:
    distro = (vm.distro or "linux").lower()
    name = distro.capitalize() if distro != "centos" else "CentOS Linux"
    pretty = f"{name} {vm.version}".strip()
    lines = [f'NAME="{name}"', f"ID={distro}", f'PRETTY_NAME="{pretty}"']
    if vm.version:
        lines.insert(1, f'VERSION_ID="{vm.version}"')
    return "\n".join(lines) + "\n"


def _uname(vm: VmIdentity, args: list[str]) -> CommandResult:
    parts = {"-s": "Linux", "-n": vm.hostname, "-r": _KERNEL, "-m": _MACHINE}
    if not args:
        return CommandResult("Linux\n")
    if args == ["-a"]:
        return CommandResult(f"Linux {vm.hostname} {_KERNEL} #1 SMP {_MACHINE} GNU/Linux\n")
    if all(arg in parts for arg in args):
        return CommandResult(" ".join(parts[arg] for arg in args) + "\n")
    return CommandResult(stderr=f"uname: invalid option -- '{args[0]}'\n", exit_status=1)


def _cat(vm: VmIdentity, args: list[str]) -> CommandResult:
    files = {"/etc/os-release": _os_release(vm), "/etc/hostname": vm.hostname + "\n"}
    out: list[str] = []
    for path in args:
        if path not in files:
            return CommandResult(
                "".join(out), f"cat: {path}: No such file or directory\n", exit_status=1
            )
        out.append(files[path])
    return CommandResult("".join(out))


def _echo(args: list[str]) -> CommandResult:
    if args[:1] == ["-n"]:
        return CommandResult(" ".join(args[1:]))
    return CommandResult(" ".join(args) + "\n")


def _id(vm: VmIdentity) -> CommandResult:
    return CommandResult(f"uid=1000({vm.user}) gid=1000({vm.user}) groups=1000({vm.user})\n")


_Command = Callable[[VmIdentity, list[str]], CommandResult]

_COMMANDS: dict[str, _Command] = {
    "true": lambda _vm, _args: CommandResult(),
    "false": lambda _vm, _args: CommandResult(exit_status=1),
    "hostname": lambda vm, _args: CommandResult(vm.hostname + "\n"),
    "whoami": lambda vm, _args: CommandResult(vm.user + "\n"),
    "id": lambda vm, _args: _id(vm),
    "echo": lambda _vm, args: _echo(args),
    "uname": _uname,
    "cat": _cat,
}


def run_command(command: str, vm: VmIdentity) -> CommandResult:
    """Answer ``command`` (the string an SSH client sent) as the VM ``vm`` would.

    Unknown commands answer ``bash: NAME: command not found`` with exit status 127; a
    command that cannot be split (an unclosed quote) answers a syntax error with status 2.
    """
    try:
        words = shlex.split(command)
    except ValueError:
        return CommandResult(stderr="bash: syntax error: unexpected end of file\n", exit_status=2)
    if not words:
        return CommandResult()
    handler = _COMMANDS.get(words[0])
    if handler is None:
        return CommandResult(stderr=f"bash: {words[0]}: command not found\n", exit_status=127)
    return handler(vm, words[1:])
