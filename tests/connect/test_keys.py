"""Key files on disk: generated Ed25519 pairs and converted PuTTY keys, checked with ssh-keygen."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from denbi_jupyter.connect import (
    KeyFileExistsError,
    convert_ppk,
    generate_ed25519,
    public_key_path,
    write_key_files,
)
from tests.support.keys import file_mode, needs_ssh_keygen, ssh_keygen_fingerprint
from tests.support.puttygen import PuttyKeyFile, needs_puttygen


@needs_ssh_keygen
@pytest.mark.usefixtures("permissive_umask")
def test_generated_pair_is_0600_with_a_pub_that_ssh_keygen_reads(tmp_path: Path) -> None:
    files = generate_ed25519(tmp_path / "id_denbi", comment="my laptop")
    assert files.private_path == tmp_path / "id_denbi"
    assert files.public_path == tmp_path / "id_denbi.pub" == public_key_path(files.private_path)
    assert file_mode(files.private_path) == 0o600
    assert file_mode(files.public_path) == 0o644
    assert files.public_path.read_text() == files.public_line + "\n"
    assert files.public_line.startswith("ssh-ed25519 ") and files.public_line.endswith(" my laptop")
    assert files.fingerprint == ssh_keygen_fingerprint(files.public_path)
    assert not files.encrypted


def test_generated_private_key_is_openssh_and_matches_the_public_key(tmp_path: Path) -> None:
    files = generate_ed25519(tmp_path / "k", comment="c")
    text = files.private_path.read_bytes()
    assert text.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    private = serialization.load_ssh_private_key(text, password=None)
    assert isinstance(private, Ed25519PrivateKey)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert files.public_line.split()[:2] == public.decode().split()
    assert "PRIVATE" not in repr(files) and text.decode() not in repr(files)


def test_each_generated_pair_is_new(tmp_path: Path) -> None:
    first = generate_ed25519(tmp_path / "a", comment="x")
    second = generate_ed25519(tmp_path / "b", comment="x")
    assert first.fingerprint != second.fingerprint


def test_an_existing_private_or_public_file_is_not_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "id_denbi"
    target.write_text("keep me")
    with pytest.raises(KeyFileExistsError, match="already exists"):
        generate_ed25519(target, comment="x")
    assert target.read_text() == "keep me" and not public_key_path(target).exists()
    other = tmp_path / "other"
    public_key_path(other).write_text("keep me too")
    with pytest.raises(KeyFileExistsError):
        generate_ed25519(other, comment="x")
    assert not other.exists() and public_key_path(other).read_text() == "keep me too"


def test_overwrite_replaces_both_files(tmp_path: Path) -> None:
    old = generate_ed25519(tmp_path / "k", comment="x")
    new = generate_ed25519(tmp_path / "k", comment="x", overwrite=True)
    assert new.fingerprint != old.fingerprint
    assert new.public_path.read_text() == new.public_line + "\n"
    assert file_mode(new.private_path) == 0o600


@needs_puttygen
@needs_ssh_keygen
def test_a_converted_ppk_gets_the_public_key_puttygen_derives(
    putty_keys: dict[str, PuttyKeyFile], tmp_path: Path
) -> None:
    key_file = putty_keys["ed25519-v3-plain"]
    key = convert_ppk(key_file.path.read_bytes())
    files = write_key_files(tmp_path / "id_ppk", key)
    assert files.public_path.read_text().strip() == key_file.public_openssh
    assert file_mode(files.private_path) == 0o600
    assert file_mode(files.public_path) & 0o022 == 0
    assert files.fingerprint == key.fingerprint == ssh_keygen_fingerprint(files.public_path)
