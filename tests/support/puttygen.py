"""Helpers around Debian's puttygen, the PPK test oracle of the key tests and the journeys."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

PUTTYGEN = shutil.which("puttygen")
PASSPHRASE = "correct horse battery staple"

needs_puttygen = pytest.mark.skipif(
    PUTTYGEN is None,
    reason="puttygen (Debian package putty-tools) is not installed; `make system-deps` adds it",
)

# (name, puttygen -t/-b arguments)
KEY_TYPES = [
    ("rsa2048", ["-t", "rsa", "-b", "2048"]),
    ("ecdsa256", ["-t", "ecdsa", "-b", "256"]),
    ("ecdsa384", ["-t", "ecdsa", "-b", "384"]),
    ("ecdsa521", ["-t", "ecdsa", "-b", "521"]),
    ("ed25519", ["-t", "ed25519"]),
]


@dataclass(frozen=True)
class PuttyKeyFile:
    """A .ppk written by puttygen, and what puttygen says its public key is."""

    name: str
    path: Path
    version: int
    passphrase: str | None
    public_openssh: str


def run_puttygen(*args: str | Path) -> str:
    """Run puttygen non-interactively and return its standard output."""
    assert PUTTYGEN is not None
    done = subprocess.run(
        [PUTTYGEN, *map(str, args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def puttygen_public_key(path: Path, passphrase_file: Path | None = None) -> str:
    """The OpenSSH public key line puttygen prints for a key file."""
    extra: list[str | Path] = ["--old-passphrase", passphrase_file] if passphrase_file else []
    return run_puttygen(path, "-O", "public-openssh", *extra).strip()


def _spec(key_type: str, version: int, encrypted: bool, kdf: str = "argon2id") -> str:
    lock = "enc" if encrypted else "plain"
    suffix = "" if kdf == "argon2id" else f"-{kdf}"
    return f"{key_type}-v{version}-{lock}{suffix}"


MATRIX = [
    _spec(key_type, version, encrypted)
    for key_type, _ in KEY_TYPES
    for version in (2, 3)
    for encrypted in (False, True)
]
EXTRA_KDFS = [_spec("ed25519", 3, True, "argon2i"), _spec("ed25519", 3, True, "argon2d")]
