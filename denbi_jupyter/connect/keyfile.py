"""Writing private key files safely: mode 0600 from the first byte, atomically, no clobbering.

The key is written to a fresh temporary file in the target folder, created with ``os.open``
and mode 0600 (so it is never readable by others, not even briefly), flushed to disk, and
then moved into place: with :func:`os.replace` when overwriting is allowed, otherwise with a
hard link, which fails if the target exists, so a concurrent writer is never overwritten.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from denbi_jupyter.connect.ppk import OpenSSHKey
from denbi_jupyter.errors import UserInputError

__all__ = ["KeyFileExistsError", "write_openssh_key", "write_private_file"]

_PRIVATE_MODE = 0o600
_PUBLIC_MODE = 0o644
_CREATE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


class KeyFileExistsError(UserInputError):
    """The target key file exists and overwriting was not asked for."""


def _refuse(target: Path) -> KeyFileExistsError:
    return KeyFileExistsError(
        f"{str(target)!r} already exists; choose another file name or allow overwriting."
    )


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` (which must not exist) with ``mode`` and write ``data`` to disk."""
    fd = os.open(path, _CREATE_FLAGS, mode)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)  # the umask may have removed bits; set exactly ``mode``
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _install(data: bytes, target: Path, *, mode: int, overwrite: bool) -> None:
    """Write ``data`` to ``target`` atomically with ``mode``."""
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    _write_new(temp, data, mode)
    try:
        if overwrite:
            os.replace(temp, target)
            return
        try:
            os.link(temp, target)
        except FileExistsError:
            raise _refuse(target) from None
        except OSError:
            # No hard links on this file system: create the target exclusively instead.
            try:
                _write_new(target, data, mode)
            except FileExistsError:
                raise _refuse(target) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def write_openssh_key(
    path: str | os.PathLike[str],
    key: OpenSSHKey,
    *,
    overwrite: bool = False,
    write_public: bool = False,
) -> Path:
    """Write an OpenSSH private key to ``path`` with mode 0600.

    Args:
        path: The private key file to create, e.g. ``~/.ssh/denbi_ed25519``.
        key: The converted key.
        overwrite: Replace an existing file instead of refusing.
        write_public: Also write the public key line to ``path + ".pub"`` (mode 0644).

    Returns:
        The path written (with ``~`` expanded).

    Raises:
        KeyFileExistsError: The file (or its ``.pub``) exists and ``overwrite`` is false.
        UserInputError: The folder does not exist or cannot be written.
    """
    target = Path(path).expanduser()
    public_target = target.with_name(target.name + ".pub")
    if not target.parent.is_dir():
        raise UserInputError(
            f"The folder {str(target.parent)!r} does not exist; create it or choose another path."
        )
    if target.is_dir():
        raise UserInputError(f"{str(target)!r} is a folder; give a file name for the key.")
    if not overwrite:
        for candidate in (target, public_target) if write_public else (target,):
            if candidate.exists() or candidate.is_symlink():
                raise _refuse(candidate)
    try:
        _install(key.private_pem, target, mode=_PRIVATE_MODE, overwrite=overwrite)
        if write_public:
            line = (key.public_line + "\n").encode("utf-8")
            _install(line, public_target, mode=_PUBLIC_MODE, overwrite=overwrite)
    except KeyFileExistsError:
        raise
    except OSError as exc:
        raise UserInputError(
            f"Cannot write the key to {str(target)!r}: {exc.strerror or type(exc).__name__}; "
            "choose a folder you can write to."
        ) from None
    _fsync_directory(target.parent)
    return target


def write_private_file(
    path: str | os.PathLike[str], text: str, *, overwrite: bool = False, what: str = "file"
) -> Path:
    """Write ``text`` to ``path`` with mode 0600, atomically, as the key files are written.

    An existing file (or a symbolic link, which is never written through) is refused unless
    ``overwrite``; with it, the file (or the link itself) is replaced, never followed.

    Raises:
        KeyFileExistsError: ``path`` exists and ``overwrite`` is false.
        UserInputError: The folder does not exist, ``path`` is a folder, it cannot be written,
            or ``text`` is not valid Unicode.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise UserInputError(f"{str(target)!r} is a folder; give a file name for the {what}.")
    if not target.parent.is_dir():
        raise UserInputError(f"The folder {str(target.parent)!r} does not exist.")
    if not overwrite and (target.exists() or target.is_symlink()):
        raise _refuse(target)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise UserInputError(
            f"The {what} holds text that is not valid Unicode (a lone surrogate, e.g. in a name "
            "the cloud returned); nothing was written."
        ) from None
    try:
        _install(data, target, mode=_PRIVATE_MODE, overwrite=overwrite)
    except OSError as exc:
        raise UserInputError(
            f"Cannot write the {what} to {str(target)!r}: "
            f"{exc.strerror or type(exc).__name__}; choose a folder you can write to."
        ) from None
    _fsync_directory(target.parent)
    return target
