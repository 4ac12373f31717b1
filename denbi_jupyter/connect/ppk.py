"""PuTTY private key files (``.ppk``, versions 2 and 3) to OpenSSH keys.

X2Go Client and OpenSSH need an OpenSSH private key; Windows users often have only PuTTYgen's
``.ppk``. This module reads both PPK versions PuTTY writes, with or without a passphrase,
checks the file's MAC, and hands back a ``cryptography`` key that serialises to OpenSSH.

Format (PuTTY manual, appendix "PPK file format"): a text header (``PuTTY-User-Key-File-N``,
``Encryption``, ``Comment``), the public key blob in base64, for encrypted version 3 files the
Argon2 parameters, the private blob in base64 (AES-256-CBC when encrypted) and a MAC over all
of it. Version 2 derives the AES key from SHA-1 of the passphrase and uses HMAC-SHA-1;
version 3 runs Argon2 for 80 bytes (AES key, IV, MAC key) and uses HMAC-SHA-256.

Errors (all :class:`~denbi_jupyter.errors.UserInputError`, the user can fix them)::

    KeyFormatError                not a readable PPK file (truncated, bad base64, bad header)
    ├── UnsupportedKeyError       a PPK this converter does not handle (v1, DSA, Ed448, ...)
    └── KeyIntegrityError         an unencrypted key whose MAC or key data does not match
    PassphraseRequiredError       the key is encrypted and no passphrase was given
    WrongPassphraseError          the passphrase does not open the key (or the file was edited)

No message ever contains key material or a passphrase.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from argon2.low_level import Type as Argon2Type
from argon2.low_level import hash_secret_raw
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from denbi_jupyter.errors import DenbiError, UserInputError

__all__ = [
    "KeyEncryptionUnavailableError",
    "KeyFormatError",
    "KeyIntegrityError",
    "OpenSSHKey",
    "PassphraseRequiredError",
    "PpkSummary",
    "PuttyKey",
    "UnsupportedKeyError",
    "WrongPassphraseError",
    "convert_ppk",
    "load_ppk",
    "peek_ppk",
    "read_ppk",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
Passphrase = str | bytes

_MAX_FILE_BYTES: Final = 256 * 1024
_MAX_BLOB_LINES: Final = 2048
_ARGON2_MAX_MEMORY_KIB: Final = 1024 * 1024  # 1 GiB; PuTTY's default is 8 MiB
_ARGON2_MAX_PASSES: Final = 10_000
_ARGON2_MAX_PARALLELISM: Final = 64
_V2_MAC_KEY_PREFIX: Final = b"putty-private-key-file-mac-key"
_HEADER = re.compile(rb"^PuTTY-User-Key-File-(\d+): (.*)$")
_ARGON2_FLAVOURS: Final = {
    "Argon2id": Argon2Type.ID,
    "Argon2i": Argon2Type.I,
    "Argon2d": Argon2Type.D,
}
_CURVES: Final[dict[str, tuple[str, ec.EllipticCurve]]] = {
    "ecdsa-sha2-nistp256": ("nistp256", ec.SECP256R1()),
    "ecdsa-sha2-nistp384": ("nistp384", ec.SECP384R1()),
    "ecdsa-sha2-nistp521": ("nistp521", ec.SECP521R1()),
}
_SUPPORTED: Final = frozenset({"ssh-rsa", "ssh-ed25519", *_CURVES})
_SUPPORTED_TEXT: Final = "supported are RSA, ECDSA (NIST P-256, P-384, P-521) and Ed25519"
_NOT_SUPPORTED: Final = {
    "ssh-dss": "DSA keys are no longer accepted by OpenSSH; create an Ed25519 key instead",
    "ssh-ed448": "OpenSSH does not support Ed448 keys; create an Ed25519 key instead",
}


class KeyFormatError(UserInputError):
    """The file is not a readable PuTTY private key."""


class UnsupportedKeyError(KeyFormatError):
    """The PPK is valid but uses a version, cipher or key type this converter does not handle."""


class KeyIntegrityError(KeyFormatError):
    """An unencrypted key's MAC or key data does not match: the file was damaged or edited."""


class PassphraseRequiredError(UserInputError):
    """The key is encrypted and no passphrase was given."""


class WrongPassphraseError(UserInputError):
    """The passphrase does not open the key, or the encrypted file was edited."""


class KeyEncryptionUnavailableError(DenbiError):
    """Encrypting an OpenSSH key needs the ``bcrypt`` package, which is not installed."""


@dataclass(frozen=True, slots=True)
class PpkSummary:
    """What a PPK file says about itself before it is opened (not yet authenticated).

    Attributes:
        version: PPK format version (2 or 3).
        algorithm: SSH key algorithm, e.g. ``ssh-ed25519``.
        encrypted: Whether a passphrase is needed.
        comment: The key comment.
    """

    version: int
    algorithm: str
    encrypted: bool
    comment: str


@dataclass(frozen=True, slots=True)
class OpenSSHKey:
    """A key in OpenSSH format, ready to write to disk.

    Attributes:
        private_pem: The ``-----BEGIN OPENSSH PRIVATE KEY-----`` file contents.
        public_line: The ``authorized_keys`` line: algorithm, base64 blob and comment.
        fingerprint: ``SHA256:...`` as ``ssh-keygen -l`` prints it.
        encrypted: Whether ``private_pem`` is protected by a passphrase.
    """

    private_pem: bytes = field(repr=False)
    public_line: str
    fingerprint: str
    encrypted: bool


@dataclass(frozen=True, slots=True)
class PuttyKey:
    """A PPK key whose MAC has been verified.

    Attributes:
        version: PPK format version the key was read from (2 or 3).
        algorithm: SSH key algorithm, e.g. ``ssh-rsa`` or ``ecdsa-sha2-nistp256``.
        comment: The key comment.
        encrypted: Whether the PPK file was passphrase-protected.
        public_blob: The SSH wire-format public key.
        private_key: The private key as a ``cryptography`` object.
    """

    version: int
    algorithm: str
    comment: str
    encrypted: bool
    public_blob: bytes = field(repr=False)
    private_key: PrivateKey = field(repr=False)

    @property
    def public_line(self) -> str:
        """The OpenSSH public key line, as ``puttygen -O public-openssh`` prints it."""
        line = f"{self.algorithm} {base64.b64encode(self.public_blob).decode('ascii')}"
        return f"{line} {self.comment}" if self.comment else line

    @property
    def fingerprint(self) -> str:
        """The SHA-256 fingerprint, ``SHA256:`` plus unpadded base64."""
        digest = hashlib.sha256(self.public_blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")

    def to_openssh(self, *, new_passphrase: Passphrase | None = None) -> OpenSSHKey:
        """Serialise to the OpenSSH private key format.

        Args:
            new_passphrase: Encrypt the OpenSSH key with this passphrase (bcrypt KDF and
                AES-256, as ``ssh-keygen`` does). ``None`` or empty writes it unencrypted.

        Raises:
            KeyEncryptionUnavailableError: A passphrase was given but ``bcrypt`` is missing.
        """
        secret = _passphrase_bytes(new_passphrase) if new_passphrase else b""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(secret)
            if secret
            else serialization.NoEncryption()
        )
        try:
            pem = self.private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
            )
        except UnsupportedAlgorithm:
            raise KeyEncryptionUnavailableError(
                "Encrypting an OpenSSH key needs the 'bcrypt' package: install it "
                "(pip install bcrypt) or convert without a new passphrase."
            ) from None
        return OpenSSHKey(
            private_pem=pem,
            public_line=self.public_line,
            fingerprint=self.fingerprint,
            encrypted=bool(secret),
        )


# --- SSH wire format -------------------------------------------------------------------------


class _Reader:
    """Reads SSH wire-format fields; any overrun is a :class:`KeyFormatError`."""

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._pos = 0
        self._what = what

    def _take(self, size: int) -> bytes:
        end = self._pos + size
        if size < 0 or end > len(self._data):
            raise KeyFormatError(f"The {self._what} in the key file is truncated or malformed.")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def string(self) -> bytes:
        return self._take(int.from_bytes(self._take(4), "big"))

    def mpint(self) -> int:
        return int.from_bytes(self.string(), "big", signed=True)


def _ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


# --- the text layer --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _PpkFile:
    version: int
    algorithm: str
    encryption: str
    comment: bytes
    public_blob: bytes
    kdf: dict[str, str]
    private_data: bytes = field(repr=False)
    mac: bytes


class _Lines:
    def __init__(self, lines: list[bytes]) -> None:
        self._lines = lines
        self._pos = 0

    def next(self) -> bytes:
        if self._pos >= len(self._lines):
            raise KeyFormatError("The key file ends too early; it is incomplete.")
        line = self._lines[self._pos]
        self._pos += 1
        return line

    def field(self, name: str) -> bytes:
        line = self.next()
        prefix = name.encode("ascii") + b": "
        if not line.startswith(prefix):
            raise KeyFormatError(f"The key file has no '{name}' line where one is expected.")
        return line[len(prefix) :]

    def text_field(self, name: str) -> str:
        try:
            return self.field(name).decode("ascii").strip()
        except UnicodeDecodeError:
            raise KeyFormatError(f"The '{name}' line of the key file is not ASCII.") from None

    def blob(self, name: str) -> bytes:
        count_text = self.text_field(name)
        if not count_text.isdigit() or int(count_text) > _MAX_BLOB_LINES:
            raise KeyFormatError(f"The '{name}' count in the key file is not a valid number.")
        encoded = b"".join(self.next().strip() for _ in range(int(count_text)))
        try:
            return base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise KeyFormatError(f"The data after '{name}' is not valid base64.") from None

    def at_end(self) -> bool:
        return self._pos == len(self._lines)


def _split_lines(data: bytes) -> list[bytes]:
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _parse(data: bytes | str) -> _PpkFile:
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > _MAX_FILE_BYTES:
        raise KeyFormatError("The file is too large to be a PuTTY private key.")
    lines = _Lines(_split_lines(raw.lstrip(b"\xef\xbb\xbf")))
    first = lines.next() if raw.strip() else b""
    match = _HEADER.match(first.rstrip())
    if match is None:
        if raw.lstrip().startswith(b"-----BEGIN"):
            raise KeyFormatError(
                "This is a PEM/OpenSSH key, not a PuTTY .ppk file; it needs no conversion."
            )
        raise KeyFormatError(
            "This is not a PuTTY private key file (it does not start with 'PuTTY-User-Key-File-')."
        )
    version = int(match.group(1))
    if version not in (2, 3):
        raise UnsupportedKeyError(
            f"PPK format version {version} is not supported (only 2 and 3); re-save the key "
            "with a current PuTTYgen."
        )
    algorithm = match.group(2).decode("ascii", errors="replace").strip()
    encryption = lines.text_field("Encryption")
    if encryption not in ("none", "aes256-cbc"):
        raise UnsupportedKeyError(
            f"Key encryption {encryption!r} is not supported; PuTTY writes 'aes256-cbc' or 'none'."
        )
    comment = lines.field("Comment")
    public_blob = lines.blob("Public-Lines")
    kdf: dict[str, str] = {}
    if version == 3 and encryption != "none":
        for name in (
            "Key-Derivation",
            "Argon2-Memory",
            "Argon2-Passes",
            "Argon2-Parallelism",
            "Argon2-Salt",
        ):
            kdf[name] = lines.text_field(name)
    private_data = lines.blob("Private-Lines")
    mac_hex = lines.text_field("Private-MAC")
    if not lines.at_end():
        raise KeyFormatError("The key file has unexpected lines after 'Private-MAC'.")
    mac_size = 20 if version == 2 else 32
    try:
        mac = bytes.fromhex(mac_hex)
    except ValueError:
        mac = b""
    if len(mac) != mac_size:
        raise KeyFormatError("The 'Private-MAC' line of the key file is malformed.")
    return _PpkFile(
        version=version,
        algorithm=algorithm,
        encryption=encryption,
        comment=comment,
        public_blob=public_blob,
        kdf=kdf,
        private_data=private_data,
        mac=mac,
    )


# --- key derivation and decryption -----------------------------------------------------------


def _passphrase_bytes(passphrase: Passphrase) -> bytes:
    return passphrase.encode("utf-8") if isinstance(passphrase, str) else bytes(passphrase)


def _passphrase_candidates(passphrase: Passphrase) -> list[bytes]:
    """UTF-8 first; older Windows PuTTYgen builds used the ANSI code page for non-ASCII."""
    if isinstance(passphrase, bytes):
        return [passphrase]
    candidates = [passphrase.encode("utf-8")]
    for codec in ("cp1252", "latin-1"):
        try:
            encoded = passphrase.encode(codec)
        except UnicodeEncodeError:
            continue
        if encoded not in candidates:
            candidates.append(encoded)
    return candidates


def _kdf_int(kdf: dict[str, str], name: str, low: int, high: int) -> int:
    text = kdf[name]
    if not text.isdigit():
        raise KeyFormatError(f"The '{name}' line of the key file is not a number.")
    value = int(text)
    if not low <= value <= high:
        raise UnsupportedKeyError(
            f"The key file asks for {name} {value}, outside the accepted {low}..{high}; "
            "re-save the key with PuTTYgen's default settings."
        )
    return value


def _v3_keys(ppk: _PpkFile, secret: bytes) -> tuple[bytes, bytes, bytes]:
    """Cipher key, IV and MAC key of a version 3 file."""
    if ppk.encryption == "none":
        return b"", b"", b""
    flavour = _ARGON2_FLAVOURS.get(ppk.kdf["Key-Derivation"])
    if flavour is None:
        raise UnsupportedKeyError(
            "The key file uses an unknown key derivation; PuTTY writes Argon2id, Argon2i or "
            "Argon2d."
        )
    parallelism = _kdf_int(ppk.kdf, "Argon2-Parallelism", 1, _ARGON2_MAX_PARALLELISM)
    memory = _kdf_int(ppk.kdf, "Argon2-Memory", 8 * parallelism, _ARGON2_MAX_MEMORY_KIB)
    passes = _kdf_int(ppk.kdf, "Argon2-Passes", 1, _ARGON2_MAX_PASSES)
    try:
        salt = bytes.fromhex(ppk.kdf["Argon2-Salt"])
    except ValueError:
        raise KeyFormatError("The 'Argon2-Salt' line of the key file is not hex.") from None
    if not 8 <= len(salt) <= 1024:
        raise KeyFormatError("The 'Argon2-Salt' of the key file has an invalid length.")
    material = hash_secret_raw(
        secret=secret,
        salt=salt,
        time_cost=passes,
        memory_cost=memory,
        parallelism=parallelism,
        hash_len=80,
        type=flavour,
        version=19,
    )
    return material[:32], material[32:48], material[48:]


def _v2_keys(ppk: _PpkFile, secret: bytes) -> tuple[bytes, bytes, bytes]:
    """Cipher key, IV and MAC key of a version 2 file."""
    mac_key = hashlib.sha1(_V2_MAC_KEY_PREFIX + secret).digest()
    if ppk.encryption == "none":
        return b"", b"", mac_key
    cipher_key = (
        hashlib.sha1(b"\0\0\0\0" + secret).digest() + hashlib.sha1(b"\0\0\0\1" + secret).digest()
    )[:32]
    return cipher_key, bytes(16), mac_key


def _open(ppk: _PpkFile, secret: bytes) -> bytes | None:
    """Decrypt the private blob and check the MAC; ``None`` when the MAC does not match."""
    cipher_key, iv, mac_key = (_v2_keys if ppk.version == 2 else _v3_keys)(ppk, secret)
    if ppk.encryption == "none":
        plain = ppk.private_data
    else:
        if len(ppk.private_data) % 16:
            raise KeyFormatError("The encrypted private key has an invalid length.")
        decryptor = Cipher(algorithms.AES(cipher_key), modes.CBC(iv)).decryptor()
        plain = decryptor.update(ppk.private_data) + decryptor.finalize()
    mac_input = b"".join(
        _ssh_string(part)
        for part in (
            ppk.algorithm.encode("ascii", errors="replace"),
            ppk.encryption.encode("ascii"),
            ppk.comment,
            ppk.public_blob,
            plain,
        )
    )
    digest = hashlib.sha1 if ppk.version == 2 else hashlib.sha256
    expected = hmac.new(mac_key, mac_input, digest).digest()
    return plain if hmac.compare_digest(expected, ppk.mac) else None


# --- key construction ------------------------------------------------------------------------


def _mismatch() -> KeyIntegrityError:
    return KeyIntegrityError(
        "The private and public halves of the key do not match; the file is damaged."
    )


def _build_key(algorithm: str, public_blob: bytes, private_blob: bytes) -> PrivateKey:
    public = _Reader(public_blob, "public key")
    private = _Reader(private_blob, "private key")
    if public.string() != algorithm.encode("ascii", errors="replace"):
        raise KeyIntegrityError("The key file's public key does not match its key type.")
    if algorithm == "ssh-rsa":
        e, n = public.mpint(), public.mpint()
        d, p, q, iqmp = private.mpint(), private.mpint(), private.mpint(), private.mpint()
        if min(e, n, d, p, q, iqmp) <= 1 or p * q != n:
            raise _mismatch()
        numbers = rsa.RSAPrivateNumbers(
            p=p,
            q=q,
            d=d,
            dmp1=d % (p - 1),
            dmq1=d % (q - 1),
            iqmp=iqmp,
            public_numbers=rsa.RSAPublicNumbers(e=e, n=n),
        )
        try:
            return numbers.private_key()
        except ValueError:
            raise _mismatch() from None
    if algorithm in _CURVES:
        curve_name, curve = _CURVES[algorithm]
        if public.string() != curve_name.encode("ascii"):
            raise KeyIntegrityError("The key file's curve does not match its key type.")
        point = public.string()
        scalar = private.mpint()
        try:
            ec_key = ec.derive_private_key(scalar, curve)
        except ValueError:
            raise _mismatch() from None
        derived = ec_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        if derived != point:
            raise _mismatch()
        return ec_key
    if algorithm == "ssh-ed25519":
        point = public.string()
        # The 32-byte seed, big-endian, as an mpint (a leading zero byte may be added or
        # dropped); read it unsigned so a plain 32-byte string works too.
        seed = int.from_bytes(private.string(), "big")
        if seed >= 2**256:
            raise _mismatch()
        ed_key = ed25519.Ed25519PrivateKey.from_private_bytes(seed.to_bytes(32, "big"))
        derived = ed_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        if derived != point:
            raise _mismatch()
        return ed_key
    raise UnsupportedKeyError(f"Key type {algorithm!r} cannot be converted: {_SUPPORTED_TEXT}.")


# --- public functions ------------------------------------------------------------------------


def peek_ppk(data: bytes | str) -> PpkSummary:
    """Read a PPK file's header without a passphrase, e.g. to know whether to ask for one.

    The values are not authenticated until :func:`read_ppk` checks the MAC.

    Raises:
        KeyFormatError: The data is not a readable PPK file.
    """
    ppk = _parse(data)
    return PpkSummary(
        version=ppk.version,
        algorithm=ppk.algorithm,
        encrypted=ppk.encryption != "none",
        comment=ppk.comment.decode("utf-8", errors="replace"),
    )


def read_ppk(data: bytes | str, *, passphrase: Passphrase | None = None) -> PuttyKey:
    """Open a PPK file's contents, verifying its MAC.

    Args:
        data: The file contents.
        passphrase: The key's passphrase; ignored for unencrypted keys.

    Raises:
        KeyFormatError: The data is not a readable PPK file (or a subclass: unsupported
            key type or version, damaged unencrypted key).
        PassphraseRequiredError: The key is encrypted and no passphrase was given.
        WrongPassphraseError: The passphrase is wrong, or the encrypted file was edited.
    """
    ppk = _parse(data)
    if ppk.algorithm not in _SUPPORTED:
        reason = _NOT_SUPPORTED.get(ppk.algorithm, _SUPPORTED_TEXT)
        raise UnsupportedKeyError(f"Key type {ppk.algorithm!r} cannot be converted: {reason}.")
    if ppk.encryption == "none":
        plain = _open(ppk, b"")
        if plain is None:
            raise KeyIntegrityError(
                "The key file's MAC does not match: the file was damaged or edited. Export "
                "the key again from PuTTYgen."
            )
    else:
        if not passphrase:
            raise PassphraseRequiredError(
                "This PuTTY key is protected by a passphrase; enter the passphrase to convert it."
            )
        plain = None
        for secret in _passphrase_candidates(passphrase):
            plain = _open(ppk, secret)
            if plain is not None:
                break
        if plain is None:
            raise WrongPassphraseError(
                "The passphrase does not open this key (or the key file was modified). Check "
                "the passphrase and try again."
            )
    private_key = _build_key(ppk.algorithm, ppk.public_blob, plain)
    return PuttyKey(
        version=ppk.version,
        algorithm=ppk.algorithm,
        comment=ppk.comment.decode("utf-8", errors="replace"),
        encrypted=ppk.encryption != "none",
        public_blob=ppk.public_blob,
        private_key=private_key,
    )


def load_ppk(path: str | os.PathLike[str], *, passphrase: Passphrase | None = None) -> PuttyKey:
    """Read and open a ``.ppk`` file; see :func:`read_ppk`.

    Raises:
        KeyFormatError: The file cannot be read or is not a readable PPK file.
        PassphraseRequiredError: The key is encrypted and no passphrase was given.
        WrongPassphraseError: The passphrase is wrong, or the encrypted file was edited.
    """
    file = Path(path).expanduser()
    try:
        with file.open("rb") as handle:
            data = handle.read(_MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyFormatError(
            f"Cannot read the key file {str(file)!r}: {exc.strerror or type(exc).__name__}."
        ) from None
    return read_ppk(data, passphrase=passphrase)


def convert_ppk(
    data: bytes | str,
    *,
    passphrase: Passphrase | None = None,
    new_passphrase: Passphrase | None = None,
) -> OpenSSHKey:
    """Convert a PPK file's contents to an OpenSSH private key.

    Args:
        data: The ``.ppk`` file contents.
        passphrase: The PPK's passphrase, if it is encrypted.
        new_passphrase: Encrypt the OpenSSH key with this passphrase; ``None`` or empty
            writes it unencrypted.

    Raises:
        KeyFormatError: Not a readable or convertible PPK file.
        PassphraseRequiredError: The key is encrypted and no passphrase was given.
        WrongPassphraseError: The passphrase is wrong, or the encrypted file was edited.
        KeyEncryptionUnavailableError: ``new_passphrase`` given but ``bcrypt`` is missing.
    """
    return read_ppk(data, passphrase=passphrase).to_openssh(new_passphrase=new_passphrase)
