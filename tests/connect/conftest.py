"""Fixtures for the connect tests: PuTTY keys made by Debian's puttygen, the test oracle."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.puttygen import (
    EXTRA_KDFS,
    KEY_TYPES,
    MATRIX,
    PASSPHRASE,
    PUTTYGEN,
    PuttyKeyFile,
    puttygen_public_key,
)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """A umask of 0 for the test: files get exactly the mode they are created with."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture(scope="session")
def passphrase_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("passphrases")
    files = {"empty": folder / "empty", "secret": folder / "secret"}
    files["empty"].write_bytes(b"")
    files["secret"].write_text(PASSPHRASE, encoding="utf-8")
    return files


@pytest.fixture(scope="session")
def putty_keys(
    tmp_path_factory: pytest.TempPathFactory, passphrase_files: dict[str, Path]
) -> dict[str, PuttyKeyFile]:
    """Every key type x PPK version x with/without passphrase, plus Argon2i/Argon2d."""
    if PUTTYGEN is None:
        pytest.skip("puttygen (Debian package putty-tools) is not installed")
    folder = tmp_path_factory.mktemp("ppk")
    type_args = dict(KEY_TYPES)
    jobs: dict[str, subprocess.Popen[bytes]] = {}
    for spec in MATRIX + EXTRA_KDFS:
        key_type, version_text, lock, *kdf = spec.split("-")
        params = f"version={version_text[1:]}" + (f",kdf={kdf[0]}" if kdf else "")
        secret = passphrase_files["secret" if lock == "enc" else "empty"]
        jobs[spec] = subprocess.Popen(  # generated in parallel: RSA takes about a second
            [
                PUTTYGEN,
                *type_args[key_type],
                *("-C", f"{spec} comment", "-q", "--ppk-param", params),
                *("--new-passphrase", str(secret), "-o", str(folder / f"{spec}.ppk")),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    keys: dict[str, PuttyKeyFile] = {}
    for spec, job in jobs.items():
        _, stderr = job.communicate(timeout=120)
        assert job.returncode == 0, stderr.decode()
        encrypted = "-enc" in spec
        path = folder / f"{spec}.ppk"
        keys[spec] = PuttyKeyFile(
            name=spec,
            path=path,
            version=int(spec.split("-")[1][1:]),
            passphrase=PASSPHRASE if encrypted else None,
            public_openssh=puttygen_public_key(
                path, passphrase_files["secret"] if encrypted else None
            ),
        )
    return keys
