"""Key files on disk: a private key (mode 0600) and its ``.pub`` (mode 0644) side by side.

:func:`generate_ed25519` makes a new Ed25519 key pair on this machine; :func:`write_key_files`
writes a converted key (see :mod:`denbi_jupyter.connect.ppk`). Both write through
:func:`~denbi_jupyter.connect.keyfile.write_openssh_key` (exclusive creation, atomic, no
clobbering unless asked) and return a :class:`KeyFiles` that names the files and the public
key, never the private key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from denbi_jupyter.connect.keyfile import write_openssh_key
from denbi_jupyter.connect.ppk import OpenSSHKey

__all__ = ["KeyFiles", "generate_ed25519", "public_key_path", "write_key_files"]


@dataclass(frozen=True, slots=True)
class KeyFiles:
    """A private key file and its public key file (no key material but the public line).

    Attributes:
        private_path: The OpenSSH private key (mode 0600).
        public_path: ``private_path`` plus ``.pub``: the public key line (mode 0644).
        public_line: The public key line, as in ``public_path``.
        fingerprint: ``SHA256:…`` as ``ssh-keygen -lf`` prints it.
        encrypted: Whether the private key file is protected by a passphrase.
    """

    private_path: Path
    public_path: Path
    public_line: str
    fingerprint: str
    encrypted: bool = False


def public_key_path(private_path: str | os.PathLike[str]) -> Path:
    """Where the public key of ``private_path`` goes: the same name plus ``.pub``."""
    path = Path(private_path).expanduser()
    return path.with_name(path.name + ".pub")


def _fingerprint(public_line: str) -> str:
    blob = base64.b64decode(public_line.split()[1])
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def write_key_files(
    path: str | os.PathLike[str], key: OpenSSHKey, *, overwrite: bool = False
) -> KeyFiles:
    """Write ``key`` to ``path`` (0600) and its public key line to ``path.pub`` (0644).

    Raises:
        KeyFileExistsError: Either file exists and ``overwrite`` is false (nothing written).
        UserInputError: The folder does not exist or cannot be written.
    """
    written = write_openssh_key(path, key, overwrite=overwrite, write_public=True)
    return KeyFiles(
        private_path=written,
        public_path=public_key_path(written),
        public_line=key.public_line,
        fingerprint=key.fingerprint,
        encrypted=key.encrypted,
    )


def generate_ed25519(
    path: str | os.PathLike[str], *, comment: str, overwrite: bool = False
) -> KeyFiles:
    """Make a new Ed25519 key pair and write it to ``path`` and ``path.pub``.

    The private key is unencrypted OpenSSH format, mode 0600, and is never returned.

    Args:
        path: The private key file to create, e.g. ``~/.ssh/denbi_ed25519``.
        comment: The comment at the end of the public key line (e.g. the key pair's name).
        overwrite: Replace existing files instead of refusing.

    Raises:
        KeyFileExistsError: Either file exists and ``overwrite`` is false (nothing written).
        UserInputError: The folder does not exist or cannot be written.
    """
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    line = public.decode("ascii")
    clean_comment = " ".join(comment.split())
    key = OpenSSHKey(
        private_pem=private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ),
        public_line=f"{line} {clean_comment}" if clean_comment else line,
        fingerprint=_fingerprint(line),
        encrypted=False,
    )
    return write_key_files(path, key, overwrite=overwrite)
