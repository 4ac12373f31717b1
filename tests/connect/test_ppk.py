"""PPK → OpenSSH conversion, checked against Debian's puttygen."""

from __future__ import annotations

import base64
import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from denbi_jupyter.connect import convert_ppk, load_ppk, peek_ppk, read_ppk, write_openssh_key
from denbi_jupyter.connect import ppk as errors  # the error types, by their module
from denbi_jupyter.errors import UserInputError
from tests.support.puttygen import (
    EXTRA_KDFS,
    MATRIX,
    PASSPHRASE,
    PuttyKeyFile,
    needs_puttygen,
    puttygen_public_key,
    run_puttygen,
)

pytestmark = needs_puttygen


def _key_fields(line: str) -> list[str]:
    """Algorithm and base64 blob of a public key line (comments are not compared)."""
    return line.split()[:2]


def _openssh_public(private_pem: bytes, password: bytes | None = None) -> str:
    key = serialization.load_ssh_private_key(private_pem, password=password)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def _replace_line(path: Path, prefix: str, new_line: str) -> bytes:
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(prefix))
    lines[index] = new_line
    return ("\n".join(lines) + "\n").encode()


def _flip_private_byte(path: Path, index: int = 6) -> bytes:
    """The key file with one bit of its private blob flipped."""
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Private-Lines"))
    count = int(lines[start].split(": ")[1])
    blob = bytearray(base64.b64decode("".join(lines[start + 1 : start + 1 + count])))
    blob[index] ^= 0x01
    encoded = base64.b64encode(bytes(blob)).decode()
    chunks = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    lines[start : start + 1 + count] = [f"Private-Lines: {len(chunks)}", *chunks]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("spec", MATRIX + EXTRA_KDFS)
def test_public_key_matches_puttygen(putty_keys: dict[str, PuttyKeyFile], spec: str) -> None:
    key_file = putty_keys[spec]
    key = load_ppk(key_file.path, passphrase=key_file.passphrase)
    assert key.public_line == key_file.public_openssh
    assert key.version == key_file.version
    assert key.encrypted == (key_file.passphrase is not None)
    assert key.comment == f"{spec} comment"


@pytest.mark.parametrize("spec", MATRIX)
def test_openssh_key_opens_in_cryptography_puttygen_and_ssh_keygen(
    putty_keys: dict[str, PuttyKeyFile], spec: str, tmp_path: Path
) -> None:
    key_file = putty_keys[spec]
    converted = convert_ppk(key_file.path.read_bytes(), passphrase=key_file.passphrase)
    assert converted.private_pem.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert not converted.encrypted
    assert _key_fields(_openssh_public(converted.private_pem)) == _key_fields(
        key_file.public_openssh
    )
    written = write_openssh_key(tmp_path / "id_converted", converted)
    assert _key_fields(puttygen_public_key(written)) == _key_fields(key_file.public_openssh)
    ssh_keygen = shutil.which("ssh-keygen")
    if ssh_keygen is not None:  # a second oracle where OpenSSH is installed
        derived = subprocess.run(
            [ssh_keygen, "-y", "-f", str(written)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        assert _key_fields(derived) == _key_fields(key_file.public_openssh)


def test_fingerprint_matches_puttygen(putty_keys: dict[str, PuttyKeyFile]) -> None:
    key_file = putty_keys["ed25519-v3-plain"]
    expected = run_puttygen(key_file.path, "-l", "-E", "sha256").split()[2]
    assert read_ppk(key_file.path.read_bytes()).fingerprint == expected


@pytest.mark.parametrize("spec", ["ed25519-v3-enc", "rsa2048-v2-plain", "ecdsa384-v3-plain"])
def test_reencrypted_openssh_key_needs_the_new_passphrase(
    putty_keys: dict[str, PuttyKeyFile], spec: str, tmp_path: Path
) -> None:
    pytest.importorskip("bcrypt", reason="encrypting OpenSSH keys needs the bcrypt package")
    key_file = putty_keys[spec]
    converted = convert_ppk(
        key_file.path.read_bytes(), passphrase=key_file.passphrase, new_passphrase="new pass"
    )
    assert converted.encrypted
    with pytest.raises(TypeError):  # cryptography: "Key is password-protected"
        serialization.load_ssh_private_key(converted.private_pem, password=None)
    assert _key_fields(_openssh_public(converted.private_pem, b"new pass")) == _key_fields(
        key_file.public_openssh
    )
    written = write_openssh_key(tmp_path / "id_new", converted)
    new_passphrase_file = tmp_path / "new-pass"
    new_passphrase_file.write_text("new pass")
    assert _key_fields(puttygen_public_key(written, new_passphrase_file)) == _key_fields(
        key_file.public_openssh
    )


@pytest.mark.parametrize("spec", ["ed25519-v2-enc", "ecdsa256-v3-enc", "rsa2048-v3-enc"])
def test_wrong_passphrase_is_reported(putty_keys: dict[str, PuttyKeyFile], spec: str) -> None:
    with pytest.raises(errors.WrongPassphraseError) as caught:
        load_ppk(putty_keys[spec].path, passphrase="not the passphrase")
    assert "not the passphrase" not in str(caught.value)
    assert isinstance(caught.value, UserInputError)


@pytest.mark.parametrize("passphrase", [None, ""])
def test_missing_passphrase_for_encrypted_key_is_reported(
    putty_keys: dict[str, PuttyKeyFile], passphrase: str | None
) -> None:
    with pytest.raises(errors.PassphraseRequiredError, match="passphrase"):
        load_ppk(putty_keys["ed25519-v3-enc"].path, passphrase=passphrase)


def test_passphrase_given_for_unencrypted_key_is_ignored(
    putty_keys: dict[str, PuttyKeyFile],
) -> None:
    key_file = putty_keys["ecdsa256-v2-plain"]
    key = load_ppk(key_file.path, passphrase="anything")
    assert key.public_line == key_file.public_openssh


def test_passphrase_may_be_given_as_bytes(putty_keys: dict[str, PuttyKeyFile]) -> None:
    key_file = putty_keys["ed25519-v2-enc"]
    key = load_ppk(key_file.path, passphrase=PASSPHRASE.encode())
    assert key.public_line == key_file.public_openssh


def test_non_ascii_passphrase_opens_a_puttygen_key(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("Grüße, Ключ 🔑", encoding="utf-8")
    key_path = tmp_path / "umlaut.ppk"
    run_puttygen("-t", "ed25519", "-q", "--new-passphrase", secret, "-o", key_path)
    key = load_ppk(key_path, passphrase="Grüße, Ключ 🔑")
    assert key.public_line == puttygen_public_key(key_path, secret)


@pytest.mark.parametrize("spec", ["ed25519-v2-plain", "rsa2048-v3-plain"])
def test_tampered_private_data_in_unencrypted_key_fails_the_mac(
    putty_keys: dict[str, PuttyKeyFile], spec: str
) -> None:
    with pytest.raises(errors.KeyIntegrityError, match="MAC"):
        read_ppk(_flip_private_byte(putty_keys[spec].path))


@pytest.mark.parametrize("spec", ["ed25519-v2-enc", "ecdsa521-v3-enc"])
def test_tampered_encrypted_key_is_rejected(putty_keys: dict[str, PuttyKeyFile], spec: str) -> None:
    with pytest.raises(errors.WrongPassphraseError, match="modified"):
        read_ppk(_flip_private_byte(putty_keys[spec].path), passphrase=PASSPHRASE)


@pytest.mark.parametrize("spec", ["ecdsa256-v2-plain", "ed25519-v3-plain", "rsa2048-v3-enc"])
def test_edited_mac_line_is_rejected(putty_keys: dict[str, PuttyKeyFile], spec: str) -> None:
    key_file = putty_keys[spec]
    size = 40 if key_file.version == 2 else 64
    data = _replace_line(key_file.path, "Private-MAC:", "Private-MAC: " + "0" * size)
    with pytest.raises((errors.KeyIntegrityError, errors.WrongPassphraseError)):
        read_ppk(data, passphrase=key_file.passphrase)


def test_edited_comment_is_rejected(putty_keys: dict[str, PuttyKeyFile]) -> None:
    data = _replace_line(putty_keys["ed25519-v3-plain"].path, "Comment:", "Comment: swapped")
    with pytest.raises(errors.KeyIntegrityError):
        read_ppk(data)


def test_swapped_public_key_is_rejected(putty_keys: dict[str, PuttyKeyFile]) -> None:
    donor = putty_keys["ed25519-v2-enc"].path.read_text().splitlines()
    target = putty_keys["ed25519-v2-plain"].path.read_text().splitlines()
    start = next(i for i, line in enumerate(target) if line.startswith("Public-Lines"))
    count = int(target[start].split(": ")[1])
    donor_start = next(i for i, line in enumerate(donor) if line.startswith("Public-Lines"))
    target[start + 1 : start + 1 + count] = donor[donor_start + 1 : donor_start + 1 + count]
    with pytest.raises(errors.KeyIntegrityError):
        read_ppk("\n".join(target) + "\n")


def test_error_messages_never_contain_key_material(
    putty_keys: dict[str, PuttyKeyFile],
) -> None:
    key_file = putty_keys["ed25519-v2-plain"]
    text = key_file.path.read_text()
    private_lines = text.split("Private-Lines: ")[1].splitlines()[1:2]
    public_b64 = key_file.public_openssh.split()[1]
    failures: list[Exception] = []
    for data in (
        _flip_private_byte(key_file.path),
        text.replace("Private-MAC:", "Private-Mac:"),
        text.replace("Encryption: none", "Encryption: aes256-cbc"),
        text[: len(text) // 2],
    ):
        with pytest.raises(UserInputError) as caught:
            read_ppk(data, passphrase=PASSPHRASE)
        failures.append(caught.value)
    for failure in failures:
        message = str(failure)
        assert PASSPHRASE not in message
        assert public_b64[:16] not in message
        assert all(line[:16] not in message for line in private_lines)
        # no chained exception can carry library messages with key bytes
        assert failure.__cause__ is None
        assert failure.__context__ is None or failure.__suppress_context__


def test_key_repr_hides_private_material(putty_keys: dict[str, PuttyKeyFile]) -> None:
    key_file = putty_keys["ed25519-v3-enc"]
    key = load_ppk(key_file.path, passphrase=PASSPHRASE)
    converted = key.to_openssh()
    assert "private_key" not in repr(key)
    assert "OPENSSH PRIVATE KEY" not in repr(converted)
    assert PASSPHRASE not in repr(key) + repr(converted)


def test_peek_tells_whether_a_passphrase_is_needed(putty_keys: dict[str, PuttyKeyFile]) -> None:
    encrypted = peek_ppk(putty_keys["ecdsa384-v3-enc"].path.read_bytes())
    plain = peek_ppk(putty_keys["ecdsa384-v2-plain"].path.read_text())
    assert (encrypted.encrypted, encrypted.version, encrypted.algorithm) == (
        True,
        3,
        "ecdsa-sha2-nistp384",
    )
    assert (plain.encrypted, plain.version) == (False, 2)
    assert plain.comment == "ecdsa384-v2-plain comment"


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_windows_and_old_mac_line_endings_are_accepted(
    putty_keys: dict[str, PuttyKeyFile], newline: str
) -> None:
    key_file = putty_keys["rsa2048-v3-enc"]
    data = key_file.path.read_text().replace("\n", newline)
    assert read_ppk(data, passphrase=PASSPHRASE).public_line == key_file.public_openssh


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a PuTTY private key"),
        (b"hello world\n", "not a PuTTY private key"),
        (b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n", "needs no conversion"),
        (b"PuTTY-User-Key-File-3: ssh-ed25519\n", "ends too early"),
        (
            b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: x\n"
            b"Public-Lines: 1\n!!!!\n",
            "not valid base64",
        ),
        (
            b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: x\n"
            b"Public-Lines: many\n",
            "not a valid number",
        ),
        (b"x" * (300 * 1024), "too large"),
    ],
)
def test_malformed_files_are_rejected_clearly(data: bytes, message: str) -> None:
    with pytest.raises(errors.KeyFormatError, match=message):
        read_ppk(data)


def test_truncated_private_blob_is_rejected(putty_keys: dict[str, PuttyKeyFile]) -> None:
    text = putty_keys["rsa2048-v2-plain"].path.read_text()
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("Private-Lines"))
    lines[index] = "Private-Lines: 1"
    del lines[index + 2 : index + int(text.split("Private-Lines: ")[1].split()[0]) + 1]
    with pytest.raises(errors.KeyFormatError):
        read_ppk("\n".join(lines) + "\n")


def test_ppk_version_1_is_unsupported(putty_keys: dict[str, PuttyKeyFile]) -> None:
    text = putty_keys["ed25519-v2-plain"].path.read_text()
    with pytest.raises(errors.UnsupportedKeyError, match="version 1"):
        read_ppk(text.replace("PuTTY-User-Key-File-2", "PuTTY-User-Key-File-1"))


@pytest.mark.parametrize("algorithm", ["ssh-dss", "ssh-ed448", "sk-ssh-ed25519@openssh.com"])
def test_key_types_openssh_cannot_use_are_unsupported(
    putty_keys: dict[str, PuttyKeyFile], algorithm: str
) -> None:
    text = putty_keys["ed25519-v3-plain"].path.read_text()
    with pytest.raises(errors.UnsupportedKeyError, match="cannot be converted"):
        read_ppk(text.replace("File-3: ssh-ed25519", f"File-3: {algorithm}"))


def test_real_ed448_key_from_puttygen_is_unsupported(tmp_path: Path) -> None:
    key_path = tmp_path / "ed448.ppk"
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    run_puttygen("-t", "ed448", "-q", "--new-passphrase", empty, "-o", key_path)
    with pytest.raises(errors.UnsupportedKeyError, match="Ed448"):
        load_ppk(key_path)


def test_unknown_cipher_is_unsupported(putty_keys: dict[str, PuttyKeyFile]) -> None:
    text = putty_keys["ed25519-v3-plain"].path.read_text()
    with pytest.raises(errors.UnsupportedKeyError, match="aes256-cbc"):
        read_ppk(text.replace("Encryption: none", "Encryption: 3des-cbc"))


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Argon2-Memory", "99999999"),
        ("Argon2-Passes", "0"),
        ("Argon2-Parallelism", "1000"),
        ("Key-Derivation", "scrypt"),
    ],
)
def test_unreasonable_argon2_parameters_are_refused_before_hashing(
    putty_keys: dict[str, PuttyKeyFile], header: str, value: str
) -> None:
    data = _replace_line(putty_keys["ed25519-v3-enc"].path, f"{header}:", f"{header}: {value}")
    with pytest.raises(errors.UnsupportedKeyError, match=re.escape(header) + "|key derivation"):
        read_ppk(data, passphrase=PASSPHRASE)


def test_unreadable_key_path_is_a_key_format_error(tmp_path: Path) -> None:
    with pytest.raises(errors.KeyFormatError, match="Cannot read"):
        load_ppk(tmp_path / "missing.ppk")


def test_reencryption_without_bcrypt_is_a_clear_error(putty_keys: dict[str, PuttyKeyFile]) -> None:
    key = load_ppk(putty_keys["ed25519-v2-plain"].path)

    class NoBcryptKey:
        """Stands in for a key when cryptography cannot find the bcrypt package."""

        def private_bytes(self, *_: object) -> bytes:
            raise UnsupportedAlgorithm("Need bcrypt module")

    crippled = dataclasses.replace(key, private_key=NoBcryptKey())  # type: ignore[arg-type]
    with pytest.raises(errors.KeyEncryptionUnavailableError, match="bcrypt"):
        crippled.to_openssh(new_passphrase="new pass")


def test_an_argon2_cost_far_beyond_puttygens_is_refused_with_the_reason(
    putty_keys: dict[str, PuttyKeyFile], tmp_path: Path
) -> None:
    costly = tmp_path / "costly.ppk"
    costly.write_bytes(
        _replace_line(putty_keys["ed25519-v3-enc"].path, "Argon2-Memory:", "Argon2-Memory: 1048576")
    )
    data = _replace_line(costly, "Argon2-Passes:", "Argon2-Passes: 10000")
    with pytest.raises(errors.UnsupportedKeyError, match="1048576 KiB × 10000 passes") as caught:
        read_ppk(data, passphrase=PASSPHRASE)
    assert "PuTTYgen makes 8 MiB" in str(caught.value)


def test_a_version_number_of_thousands_of_digits_is_a_clear_error() -> None:
    data = "PuTTY-User-Key-File-" + "9" * 5000 + ": ssh-ed25519\nEncryption: none\n"
    with pytest.raises(errors.UnsupportedKeyError, match=r"PPK format version 99999999… is not"):
        read_ppk(data)
