"""Where each key pair's private key is, and which key pair was last booted with, per site.

A small JSON file under the user's state folder (:func:`state_dir`), mode 0600, holding file
paths and key pair names only, never key material::

    {"version": 1,
     "keys": {"bielefeld": {"laptop": "/home/me/.ssh/denbi_laptop"}},
     "last_boot_key": {"bielefeld": "laptop"}}

It is written when a key is generated or a converted key is imported (panels and CLI), and
read to fill in ``IdentityFile`` and to preselect the key pair of a boot. A path whose file
has vanished is ignored. Every change re-reads the file under an exclusive lock, writes a
temporary file and renames it over the old one, so concurrent writers never leave a torn
file; a file that cannot be read is treated as empty (it only ever holds hints).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["STATE_DIR_ENV", "KeyRegistry", "state_dir"]

#: Overrides the state folder (tests, shared machines).
STATE_DIR_ENV = "DENBI_JUPYTER_STATE_DIR"
_FILE_NAME = "keys.json"
_VERSION = 1

try:  # POSIX: serialise read-modify-write between processes
    import fcntl
except ImportError:  # pragma: no cover - Windows: the rename alone keeps the file whole
    fcntl = None  # type: ignore[assignment]


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user's state folder: ``$DENBI_JUPYTER_STATE_DIR``, else the XDG state home's
    ``denbi-jupyter`` (``$XDG_STATE_HOME`` or ``~/.local/state``)."""
    env = os.environ if environ is None else environ
    if env.get(STATE_DIR_ENV):
        return Path(env[STATE_DIR_ENV]).expanduser()
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser() / "denbi-jupyter"


def _section(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    return value if isinstance(value, dict) else {}


class KeyRegistry:
    """The remembered private key paths and last boot keys (a JSON file of hints).

    Args:
        path: The registry file; ``keys.json`` in :func:`state_dir` by default (resolved now).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else state_dir() / _FILE_NAME

    # --- reading -------------------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def private_key(self, site: str, key_name: str | None) -> Path | None:
        """The private key remembered for ``key_name`` on ``site``, if its file still exists."""
        if not key_name:
            return None
        value = _section(self._read(), "keys").get(site, {})
        path = value.get(key_name) if isinstance(value, dict) else None
        if not isinstance(path, str) or not path:
            return None
        candidate = Path(path)
        return candidate if candidate.is_file() else None

    def last_boot_key(self, site: str) -> str | None:
        """The key pair of the last boot on ``site`` (from the panels or the CLI), if any."""
        value = _section(self._read(), "last_boot_key").get(site)
        return value if isinstance(value, str) and value else None

    # --- writing -------------------------------------------------------------------------
    def remember_key(self, site: str, key_name: str, private_key: str | os.PathLike[str]) -> None:
        """Remember that ``key_name`` on ``site`` has its private key at ``private_key``."""
        path = str(Path(private_key).expanduser().absolute())

        def change(data: dict[str, Any]) -> None:
            keys = data.setdefault("keys", {})
            keys.setdefault(site, {})[key_name] = path

        self._update(change)

    def remember_boot_key(self, site: str, key_name: str | None) -> None:
        """Remember ``key_name`` as the key pair last booted with on ``site`` (None: no-op)."""
        if not key_name:
            return
        self._update(lambda data: data.setdefault("last_boot_key", {}).__setitem__(site, key_name))

    def _update(self, change: Callable[[dict[str, Any]], object]) -> None:
        """Re-read, change and atomically replace the file, under the lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._locked():
            data = self._read()
            for name in ("keys", "last_boot_key"):
                data[name] = _section(data, name)
            change(data)
            data["version"] = _VERSION
            self._replace(json.dumps(data, indent=1, sort_keys=True) + "\n")

    def _replace(self, text: str) -> None:
        temp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover
            yield
            return
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock
