"""The local cloud's VMs answer SSH: one asyncssh server per ACTIVE VM, on loopback.

What the endpoint does:

* For every ACTIVE VM with a private IPv4 address it listens on ``127.0.0.1`` (the config's
  host) at the port the site's formula gives (``30000 + 256*oct3 + oct4``), exactly where the
  connection card points. It starts when the VM becomes ACTIVE and stops (dropping open
  sessions) when it leaves ACTIVE (stop, reboot, delete) or the local cloud stops.
* It accepts exactly one login: the image's default user (``ubuntu``, or the image's
  ``os_admin_user``) with the public key of the key pair the VM was booted with, as the key pair
  is now in the site's database. Every other key, every other user and every password or
  keyboard-interactive attempt is refused ("Permission denied"). A VM booted without a key pair
  refuses every key: the port answers but nobody logs in.
* ``ssh … COMMAND`` answers a few commands from the VM's record (``true``, ``hostname``,
  ``echo``, ``whoami``, ``id``, ``uname``, ``cat /etc/os-release``; see
  :mod:`~denbi_jupyter.localcloud.ssh_commands`); anything else is "command not found", exit 127.
  An interactive login prints a short banner and closes with exit status 0.
* One Ed25519 host key per state folder (``ssh_host_ed25519_key``), generated once (when the
  first VM becomes ACTIVE) and kept.

What it does not do: no shell and no command is ever executed on the host; no SFTP or SCP, no
port forwarding (local or remote), no agent or X11 forwarding, so X2Go (which needs a shell, X11
and its own server-side programs) does not work against it. A port that is already taken is
logged and skipped (retried on the next state change); the cloud keeps running.

State changes apply lazily (see ``timeline.py``): the gateway reconciles "ACTIVE VMs with a
port" with its running listeners whenever a site's database commits a change, so a VM's
listener appears once a request has seen it ACTIVE.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from denbi_jupyter.localcloud.ssh_commands import SHELL_BANNER, run_command
from denbi_jupyter.localcloud.ssh_targets import SshTarget, wanted_listeners

if TYPE_CHECKING:
    import asyncssh

    from denbi_jupyter.localcloud.site import CloudState

__all__ = ["HOST_KEY_FILE", "SshGateway", "load_host_key"]

HOST_KEY_FILE = "ssh_host_ed25519_key"

_log = logging.getLogger(__name__)


def load_host_key(state_dir: Path) -> asyncssh.SSHKey:
    """The state folder's Ed25519 host key; generated (mode 0600) on first use."""
    import asyncssh

    path = state_dir / HOST_KEY_FILE
    if path.exists():
        return asyncssh.read_private_key(path)
    key = asyncssh.generate_private_key("ssh-ed25519", comment="denbi-jupyter local cloud")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.export_private_key())
    return key


def _server_class(target: SshTarget, sessions: set[Any]) -> type[Any]:
    """An ``asyncssh.SSHServer`` subclass that lets in exactly ``target``'s key and user."""
    import asyncssh

    allowed = None
    if target.public_key:
        try:
            allowed = asyncssh.import_public_key(target.public_key)
        except (asyncssh.KeyImportError, ValueError):
            _log.warning("key pair of VM %s is not an OpenSSH public key", target.server_id)

    class _VmServer(asyncssh.SSHServer):
        def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
            self._conn = conn
            sessions.add(conn)

        def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002 - asyncssh API
            sessions.discard(self._conn)

        def begin_auth(self, username: str) -> bool:  # noqa: ARG002 - asyncssh API
            return True

        def password_auth_supported(self) -> bool:
            return False

        def kbdint_auth_supported(self) -> bool:
            return False

        def public_key_auth_supported(self) -> bool:
            return True

        def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
            return (
                allowed is not None
                and username == target.identity.user
                and key.public_data == allowed.public_data
            )

    return _VmServer


def _session(target: SshTarget) -> Any:
    """The process factory: answer the command (or the shell request) and exit."""

    def handle(process: asyncssh.SSHServerProcess[str]) -> None:
        if process.command is None:
            process.stdout.write(SHELL_BANNER)
            process.exit(0)
            return
        result = run_command(process.command, target.identity)
        process.stdout.write(result.stdout)
        process.stderr.write(result.stderr)
        process.exit(result.exit_status)

    return handle


class _Listener:
    """One running SSH server and its open connections."""

    def __init__(self, target: SshTarget, acceptor: Any, sessions: set[Any]) -> None:
        self.target = target
        self.acceptor = acceptor
        self.sessions = sessions

    async def close(self) -> None:
        self.acceptor.close()
        for conn in list(self.sessions):
            conn.close()
        await self.acceptor.wait_closed()
        for conn in list(self.sessions):
            await conn.wait_closed()


class SshGateway:
    """Runs the SSH servers of the local cloud's ACTIVE VMs from a thread with its own loop.

    :meth:`notify` (called by every site's database after a committed change) wakes the
    thread, which reconciles the wanted listeners (:func:`wanted_listeners`) with the running
    ones; :meth:`ports` tells which are running.
    """

    def __init__(self, state: CloudState, *, host: str, state_dir: Path) -> None:
        self._state = state
        self._host = host
        self._state_dir = state_dir
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._ready = threading.Event()
        self._stopping = False
        self._listeners: dict[tuple[str, str], _Listener] = {}
        self._skipped: set[tuple[str, str, int]] = set()
        self._ports: dict[str, int] = {}
        self._ports_lock = threading.Lock()
        self._host_key: asyncssh.SSHKey | None = None

    def start(self) -> SshGateway:
        """Start the thread and subscribe to every site's committed changes."""
        for site in self._state.sites.values():
            site.store.add_commit_listener(self.notify)
        self._thread = threading.Thread(target=self._run, name="denbi-localcloud-ssh", daemon=True)
        self._thread.start()
        return self

    def notify(self) -> None:
        """Ask for a reconcile soon (thread-safe, cheap, never blocks)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the loop closed in between
                return

    def ports(self) -> dict[str, int]:
        """``{server id: port}`` of the listeners running now."""
        with self._ports_lock:
            return dict(self._ports)

    def stop(self) -> None:
        """Close every listener and session and end the thread."""
        for site in self._state.sites.values():
            site.store.remove_commit_listener(self.notify)
        self._stopping = True
        self._ready.wait(timeout=10)
        self.notify()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._wake.set()
        self._ready.set()
        try:
            while not self._stopping:
                await self._wake.wait()
                self._wake.clear()
                if not self._stopping:
                    await self._reconcile()
        finally:
            await self._close_all(list(self._listeners))
            self._loop = None

    def _wanted(self) -> dict[tuple[str, str], SshTarget]:
        wanted: dict[tuple[str, str], SshTarget] = {}
        for site in self._state.sites.values():
            if self._state.closed:
                break
            for target in wanted_listeners(site):
                wanted[(target.site, target.server_id)] = target
        return wanted

    async def _reconcile(self) -> None:
        # The short database reads and, once, importing asyncssh and loading the host key run
        # on this thread's loop (it serves nothing else): no executor threads, nothing heavy
        # while no VM is ACTIVE, so the cloud starts as fast as without SSH.
        wanted = self._wanted()
        stale = [
            key for key, running in self._listeners.items() if wanted.get(key) != running.target
        ]
        await self._close_all(stale)
        for key, target in wanted.items():
            if key not in self._listeners:
                if self._host_key is None:
                    self._host_key = load_host_key(self._state_dir)
                await self._open(key, target, self._host_key)

    async def _open(self, key: tuple[str, str], target: SshTarget, host_key: Any) -> None:
        import asyncssh

        sessions: set[Any] = set()
        try:
            acceptor = await asyncssh.create_server(
                _server_class(target, sessions),
                self._host,
                target.port,
                server_host_keys=[host_key],
                process_factory=_session(target),
                encoding="utf-8",
                allow_pty=True,
                line_editor=False,
                agent_forwarding=False,
                x11_forwarding=False,
                allow_scp=False,
                sftp_factory=None,
                reuse_address=True,
            )
        except OSError as exc:
            skip = (target.site, target.server_id, target.port)
            if skip not in self._skipped:
                self._skipped.add(skip)
                _log.warning(
                    "SSH of VM %s not served: cannot listen on %s:%s (%s)",
                    target.server_id,
                    self._host,
                    target.port,
                    exc.strerror or exc,
                )
            return
        self._listeners[key] = _Listener(target, acceptor, sessions)
        with self._ports_lock:
            self._ports[target.server_id] = target.port

    async def _close_all(self, keys: Iterable[tuple[str, str]]) -> None:
        for key in keys:
            listener = self._listeners.pop(key)
            with self._ports_lock:
                self._ports.pop(listener.target.server_id, None)
            await listener.close()
