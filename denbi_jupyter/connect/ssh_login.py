"""Does the VM let this key in? One real SSH login with a private key file, bounded in time.

:func:`check_ssh_login` reads the key (unencrypted only: a passphrase is never asked for),
logs in as the image's user with exactly that key, runs ``true`` and disconnects. It never
raises for network or login trouble: the answer is a :class:`LoginResult` whose ``reason`` is
a few words (never key material, never the passphrase). Host keys are not checked: the host is
the site's gateway, whose port leads to a different VM each time, and nothing is sent but the
login itself.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from denbi_jupyter.connect._checks import check_port, check_timeout
from denbi_jupyter.errors import UserInputError

if TYPE_CHECKING:
    import asyncssh

__all__ = ["MAX_LOGIN_TIMEOUT", "LoginOutcome", "LoginResult", "check_ssh_login"]

MAX_LOGIN_TIMEOUT = 60.0
"""The longest timeout :func:`check_ssh_login` accepts, in seconds."""


class LoginOutcome(StrEnum):
    """How a login attempt ended."""

    ACCEPTED = "accepted"
    KEY_REFUSED = "key refused"
    KEY_UNUSABLE = "key unusable"
    PORT_CLOSED = "port closed"
    TIMED_OUT = "timed out"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LoginResult:
    """The outcome of one login attempt.

    Attributes:
        host: The host that was tried.
        port: Its SSH port.
        user: The login name.
        outcome: How it ended.
        reason: What happened, in a few words (safe to show: no key material).
    """

    host: str
    port: int
    user: str
    outcome: LoginOutcome
    reason: str = ""

    @property
    def accepted(self) -> bool:
        """True when the key was accepted (and ``true`` ran)."""
        return self.outcome is LoginOutcome.ACCEPTED


def _load_key(key_path: str) -> asyncssh.SSHKey | str:
    """The unencrypted private key in ``key_path``, or why it cannot be used."""
    import asyncssh

    path = Path(key_path).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"key file unreadable ({exc.strerror or type(exc).__name__}): cannot check"
    try:
        return asyncssh.import_private_key(data)
    except asyncssh.KeyImportError as exc:
        if "passphrase" in str(exc).lower():
            return "key file has a passphrase: cannot check"
        return "key file is not an OpenSSH or PEM private key: cannot check"
    except (asyncssh.KeyEncryptionError, ValueError):
        return "key file has a passphrase: cannot check"


async def _login(
    host: str, port: int, user: str, key: asyncssh.SSHKey, timeout: float
) -> LoginResult:
    import asyncssh

    def result(outcome: LoginOutcome, reason: str) -> LoginResult:
        return LoginResult(host=host, port=port, user=user, outcome=outcome, reason=reason)

    try:
        async with asyncio.timeout(timeout):
            async with asyncssh.connect(
                host, port, username=user, client_keys=[key], known_hosts=None,
                agent_path=None, agent_forwarding=False, password_auth=False,
                kbdint_auth=False, gss_auth=False, host_based_auth=False, config=[],
                connect_timeout=timeout, login_timeout=timeout,
            ) as connection:  # fmt: skip
                done = await connection.run("true", check=False)
    except asyncssh.PermissionDenied:
        return result(LoginOutcome.KEY_REFUSED, f"key refused for user {user}")
    except ConnectionRefusedError:
        return result(LoginOutcome.PORT_CLOSED, "port closed (connection refused)")
    except TimeoutError:
        return result(LoginOutcome.TIMED_OUT, f"timed out: no login within {timeout:g} s")
    except asyncssh.Error as exc:
        return result(LoginOutcome.FAILED, f"SSH failed: {exc.reason or type(exc).__name__}")
    except OSError as exc:
        return result(LoginOutcome.FAILED, exc.strerror or type(exc).__name__)
    status = done.exit_status
    if status not in (0, None):
        return result(LoginOutcome.ACCEPTED, f"logged in as {user}; 'true' exited with {status}")
    return result(LoginOutcome.ACCEPTED, f"logged in as {user} with the key")


def _run_isolated(
    host: str, port: int, user: str, key: asyncssh.SSHKey, timeout: float
) -> LoginResult:
    """Run the login on a fresh event loop, in a thread when this one already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_login(host, port, user, key, timeout))
    outcome: list[LoginResult] = []
    worker = threading.Thread(
        target=lambda: outcome.append(asyncio.run(_login(host, port, user, key, timeout))),
        name="denbi-ssh-login",
        daemon=True,
    )
    worker.start()
    worker.join(timeout + 5.0)
    if outcome:
        return outcome[0]
    return LoginResult(
        host=host, port=port, user=user, outcome=LoginOutcome.TIMED_OUT,
        reason=f"timed out: no login within {timeout:g} s",
    )  # fmt: skip


def check_ssh_login(
    host: str, port: int, *, user: str, key_path: str, timeout: float = 8.0
) -> LoginResult:
    """Log in to ``host:port`` as ``user`` with the key in ``key_path``, run ``true``, leave.

    Args:
        host: The SSH gateway.
        port: The VM's port on it.
        user: The image's login name, e.g. ``ubuntu``.
        key_path: The private key file (``~`` is expanded); one with a passphrase cannot be
            checked and says so.
        timeout: Upper bound for connecting and logging in, in seconds.

    Returns:
        The result; network, key and login failures are reported in it, never raised.

    Raises:
        UserInputError: ``host``, ``user`` or ``key_path`` is empty, or ``port`` or ``timeout``
            is out of range (a caller's mistake).
    """
    if not host.strip() or not user.strip() or not key_path.strip():
        raise UserInputError("An SSH login check needs a host, a user and a key file; give all.")
    check_port(port)
    check_timeout(timeout, maximum=MAX_LOGIN_TIMEOUT, what="Login timeout")
    key = _load_key(key_path)
    if isinstance(key, str):
        return LoginResult(
            host=host, port=port, user=user, outcome=LoginOutcome.KEY_UNUSABLE, reason=key
        )
    return _run_isolated(host.strip(), port, user, key, timeout)
