"""Key pairs on the local cloud: import (checked), list, generate here, delete."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest

from denbi_jupyter.cloud import OpenStackCloud
from denbi_jupyter.cloud._keypairs import check_public_key, sha256_fingerprint
from denbi_jupyter.connect import KeyFileExistsError
from denbi_jupyter.errors import CloudUnavailableError, ConflictError, NotFoundError, UserInputError
from tests.support.fake_gateway import FakeGateway
from tests.support.keys import ed25519_public_line, needs_ssh_keygen, ssh_keygen_fingerprint
from tests.support.sites import fake_site


def _unique(kind: str) -> str:
    return f"test-{kind}-{uuid.uuid4().hex[:8]}"


# --- the public key check (pure) ----------------------------------------------------------------
def test_a_valid_line_is_kept_as_given_without_surrounding_space() -> None:
    line = ed25519_public_line()
    assert check_public_key(f"\n  {line}  \n") == line


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nsecretbits\n", "private key"),
        ("PuTTY-User-Key-File-3: ssh-ed25519\nsecretbits", "private key"),
        ("---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n---- END SSH2 PUBLIC KEY ----", "SSH2"),
        ("ssh-ed25519", "not an OpenSSH public key"),
        ("ssh-foo AAAAC3NzaC1lZDI1NTE5 x", "'ssh-foo' is not supported"),
        ("ssh-dss AAAAB3NzaC1kc3M= x", "no longer accepted"),
        ("ssh-ed25519 AAAAC3Nza!! x", "not valid base64"),
        ("ssh-ed25519 AAAAC3Nza laptop", "not valid base64"),
        ("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGdzJFVd x", "does not belong to a 'ssh-rsa' key"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdz x", "damaged or cut off"),
    ],
)
def test_bad_public_keys_are_refused_with_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(UserInputError, match=says) as caught:
        check_public_key(text)
    assert "secretbits" not in str(caught.value)


def test_two_lines_are_refused() -> None:
    with pytest.raises(UserInputError, match="2 lines"):
        check_public_key(ed25519_public_line() + "\n" + ed25519_public_line())


def test_sha256_fingerprint_of_garbage_is_empty() -> None:
    assert sha256_fingerprint("") == sha256_fingerprint("ssh-ed25519 !!") == ""


# --- on the local cloud -------------------------------------------------------------------------
@needs_ssh_keygen
def test_an_imported_key_is_listed_with_the_fingerprint_ssh_keygen_prints(
    bielefeld: OpenStackCloud, tmp_path: Path
) -> None:
    name = _unique("imp")
    public_file = tmp_path / "k.pub"
    public_file.write_text(ed25519_public_line() + "\n")
    pair = bielefeld.import_keypair(name, public_file.read_text())
    expected = ssh_keygen_fingerprint(public_file)
    assert pair.sha256_fingerprint == expected
    listed = {k.name: k for k in bielefeld.list_keypairs()}
    assert listed[name].sha256_fingerprint == expected
    assert listed[name].fingerprint.count(":") == 15  # Nova's MD5 as well
    bielefeld.delete_keypair(name)


def test_a_bad_key_never_reaches_nova(bielefeld: OpenStackCloud) -> None:
    name = _unique("bad")
    with pytest.raises(UserInputError, match="not valid base64"):
        bielefeld.import_keypair(name, "ssh-ed25519 AAAA==x= cut")
    assert name not in [k.name for k in bielefeld.list_keypairs()]


def test_delete_removes_the_key_and_a_second_delete_says_not_found(
    bielefeld: OpenStackCloud,
) -> None:
    name = _unique("del")
    bielefeld.import_keypair(name, ed25519_public_line())
    bielefeld.delete_keypair(name)
    assert name not in [k.name for k in bielefeld.list_keypairs()]
    with pytest.raises(NotFoundError, match=f"has no key pair '{name}'") as caught:
        bielefeld.delete_keypair(name)
    assert caught.value.site == "bielefeld"


@needs_ssh_keygen
def test_generate_writes_0600_and_pub_and_imports_only_the_public_key(
    bielefeld: OpenStackCloud, tmp_path: Path
) -> None:
    name = _unique("gen")
    made = bielefeld.generate_keypair(name, private_key_path=tmp_path / "id_gen")
    assert made.private_key_path == tmp_path / "id_gen"
    assert made.public_key_path == tmp_path / "id_gen.pub"
    assert stat.S_IMODE(made.private_key_path.stat().st_mode) == 0o600
    private_text = made.private_key_path.read_text()
    assert private_text.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert private_text not in repr(made) and "PRIVATE" not in repr(made)
    assert made.sha256_fingerprint == ssh_keygen_fingerprint(made.public_key_path)
    listed = {k.name: k for k in bielefeld.list_keypairs()}
    assert listed[name].sha256_fingerprint == made.sha256_fingerprint
    assert listed[name].fingerprint == made.fingerprint
    bielefeld.delete_keypair(name)


def test_generate_refuses_an_existing_file_and_imports_nothing(
    bielefeld: OpenStackCloud, tmp_path: Path
) -> None:
    name = _unique("exists")
    target = tmp_path / "id_taken"
    target.write_text("an older key")
    with pytest.raises(KeyFileExistsError, match="already exists"):
        bielefeld.generate_keypair(name, private_key_path=target)
    assert target.read_text() == "an older key"
    assert name not in [k.name for k in bielefeld.list_keypairs()]
    made = bielefeld.generate_keypair(name, private_key_path=target, overwrite=True)
    assert target.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert made.public_key_path.exists()
    bielefeld.delete_keypair(name)


def test_generate_with_a_taken_name_writes_no_file(
    bielefeld: OpenStackCloud, tmp_path: Path
) -> None:
    name = _unique("taken")
    bielefeld.import_keypair(name, ed25519_public_line())
    with pytest.raises(ConflictError, match="already has a key pair"):
        bielefeld.generate_keypair(name, private_key_path=tmp_path / "k")
    assert list(tmp_path.iterdir()) == []
    bielefeld.delete_keypair(name)


def test_generate_with_a_bad_name_writes_no_file(bielefeld: OpenStackCloud, tmp_path: Path) -> None:
    with pytest.raises(UserInputError):
        bielefeld.generate_keypair("bad/name", private_key_path=tmp_path / "k")
    assert list(tmp_path.iterdir()) == []


def test_generated_files_are_removed_when_the_import_fails(tmp_path: Path) -> None:
    gateway = FakeGateway()
    client = OpenStackCloud(fake_site(), gateway)
    gateway.fail_next("import_keypair", CloudUnavailableError("Nova is down"))
    with pytest.raises(CloudUnavailableError):
        client.generate_keypair("laptop", private_key_path=tmp_path / "k")
    assert list(tmp_path.iterdir()) == []
    assert client.list_keypairs() == []
