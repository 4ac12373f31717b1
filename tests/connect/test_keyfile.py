"""Writing OpenSSH keys: mode 0600 from the first byte, atomic, never clobbering by default."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from denbi_jupyter.connect import KeyFileExistsError, OpenSSHKey, write_openssh_key
from denbi_jupyter.errors import UserInputError
from tests.support.keys import file_mode

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


@pytest.fixture
def key() -> OpenSSHKey:
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return OpenSSHKey(
        private_pem=pem,
        public_line=public.decode() + " test",
        fingerprint="SHA256:x",
        encrypted=False,
    )


@pytest.mark.usefixtures("permissive_umask")
def test_key_is_written_with_mode_0600_even_with_umask_0(tmp_path: Path, key: OpenSSHKey) -> None:
    written = write_openssh_key(tmp_path / "id_denbi", key)
    assert written == tmp_path / "id_denbi"
    assert written.read_bytes() == key.private_pem
    assert file_mode(written) == 0o600


@pytest.mark.usefixtures("permissive_umask")
def test_key_is_never_readable_by_others_while_being_written(
    tmp_path: Path, key: OpenSSHKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    modes_seen: list[int] = []
    real_write = os.write

    def watching_write(fd: int, data: bytes | memoryview) -> int:
        modes_seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", watching_write)
    write_openssh_key(tmp_path / "id_denbi", key)
    assert modes_seen and all(mode & 0o077 == 0 for mode in modes_seen)


def test_existing_file_is_not_overwritten(tmp_path: Path, key: OpenSSHKey) -> None:
    target = tmp_path / "id_denbi"
    target.write_text("precious")
    with pytest.raises(KeyFileExistsError, match="already exists"):
        write_openssh_key(target, key)
    assert target.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["id_denbi"]


def test_existing_symlink_is_not_followed_or_replaced(tmp_path: Path, key: OpenSSHKey) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("untouched")
    (tmp_path / "id_denbi").symlink_to(elsewhere)
    with pytest.raises(KeyFileExistsError):
        write_openssh_key(tmp_path / "id_denbi", key)
    assert elsewhere.read_text() == "untouched"


def test_overwrite_replaces_the_file_and_tightens_its_mode(tmp_path: Path, key: OpenSSHKey) -> None:
    target = tmp_path / "id_denbi"
    target.write_text("old")
    target.chmod(0o644)
    write_openssh_key(target, key, overwrite=True)
    assert target.read_bytes() == key.private_pem
    assert file_mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["id_denbi"]


def test_concurrent_creation_between_check_and_link_is_not_clobbered(
    tmp_path: Path, key: OpenSSHKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "id_denbi"
    real_link = os.link

    def racing_link(source: str | Path, destination: str | Path) -> None:
        Path(destination).write_text("written by someone else first")
        real_link(source, destination)

    monkeypatch.setattr(os, "link", racing_link)
    with pytest.raises(KeyFileExistsError):
        write_openssh_key(target, key)
    assert target.read_text() == "written by someone else first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["id_denbi"]


@pytest.mark.usefixtures("permissive_umask")
def test_file_systems_without_hard_links_still_get_a_0600_file(
    tmp_path: Path, key: OpenSSHKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*_: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    written = write_openssh_key(tmp_path / "id_denbi", key)
    assert written.read_bytes() == key.private_pem
    assert file_mode(written) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["id_denbi"]


def test_public_key_is_written_beside_it_when_asked(tmp_path: Path, key: OpenSSHKey) -> None:
    written = write_openssh_key(tmp_path / "id_denbi", key, write_public=True)
    public = tmp_path / "id_denbi.pub"
    assert public.read_text() == key.public_line + "\n"
    assert file_mode(public) & 0o022 == 0
    assert file_mode(written) == 0o600


def test_existing_public_file_blocks_writing_both(tmp_path: Path, key: OpenSSHKey) -> None:
    (tmp_path / "id_denbi.pub").write_text("old public")
    with pytest.raises(KeyFileExistsError):
        write_openssh_key(tmp_path / "id_denbi", key, write_public=True)
    assert not (tmp_path / "id_denbi").exists()


def test_missing_folder_is_a_user_error(tmp_path: Path, key: OpenSSHKey) -> None:
    with pytest.raises(UserInputError, match="does not exist"):
        write_openssh_key(tmp_path / "missing" / "id_denbi", key)


def test_folder_as_target_is_a_user_error(tmp_path: Path, key: OpenSSHKey) -> None:
    with pytest.raises(UserInputError, match="is a folder"):
        write_openssh_key(tmp_path, key)


def test_unwritable_folder_is_a_user_error_and_leaves_nothing(
    tmp_path: Path, key: OpenSSHKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused_open(*_: object, **__: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", refused_open)
    with pytest.raises(UserInputError, match=r"Cannot write .*Permission denied"):
        write_openssh_key(tmp_path / "id_denbi", key)
    assert list(tmp_path.iterdir()) == []


def test_tilde_is_expanded(
    tmp_path: Path, key: OpenSSHKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert write_openssh_key("~/id_denbi", key) == tmp_path / "id_denbi"
