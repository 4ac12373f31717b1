"""SSH key helpers of the tests: fresh Ed25519 keys, file modes and ``ssh-keygen``."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SSH_KEYGEN = shutil.which("ssh-keygen")
needs_ssh_keygen = pytest.mark.skipif(SSH_KEYGEN is None, reason="ssh-keygen is not installed")


def file_mode(path: Path) -> int:
    """The permission bits of a file (``0o600``)."""
    return stat.S_IMODE(path.stat().st_mode)


def ed25519_public_line(comment: str = "me@laptop") -> str:
    """A fresh OpenSSH ``ssh-ed25519 AAAA… <comment>`` line (the private half is thrown away)."""
    key = Ed25519PrivateKey.generate().public_key()
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{line.decode()} {comment}"


def ssh_keygen_fingerprint(public_file: Path) -> str:
    """The ``SHA256:…`` fingerprint ``ssh-keygen -lf`` prints for a public key file."""
    assert SSH_KEYGEN is not None
    done = subprocess.run(
        [SSH_KEYGEN, "-lf", str(public_file)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return done.stdout.split()[1]


def ssh_keygen_key(path: Path, comment: str) -> Path:
    """``path``, now a fresh Ed25519 key (no passphrase) and its .pub, made by ``ssh-keygen``."""
    assert SSH_KEYGEN is not None
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        stdin=subprocess.DEVNULL,
        check=True,
        timeout=60,
    )
    return path
