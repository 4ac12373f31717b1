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

The work is split over private modules: ``_ppk_file`` (the text layer), ``_ppk_crypto`` (key
derivation, decryption, MAC), ``_ppk_keys`` (key blobs to ``cryptography`` keys and OpenSSH
files) and ``_ppk_errors``. This module holds the public types and functions.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from denbi_jupyter.connect._ppk_crypto import (
    Passphrase,
    open_private_blob,
    passphrase_bytes,
    passphrase_candidates,
)
from denbi_jupyter.connect._ppk_errors import (
    KeyEncryptionUnavailableError,
    KeyFormatError,
    KeyIntegrityError,
    PassphraseRequiredError,
    UnsupportedKeyError,
    WrongPassphraseError,
)
from denbi_jupyter.connect._ppk_file import MAX_FILE_BYTES, parse_ppk
from denbi_jupyter.connect._ppk_keys import (
    CURVES,
    SUPPORTED_TEXT,
    PrivateKey,
    build_key,
    openssh_private_pem,
)

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

_SUPPORTED: Final = frozenset({"ssh-rsa", "ssh-ed25519", *CURVES})
_NOT_SUPPORTED: Final = {
    "ssh-dss": "DSA keys are no longer accepted by OpenSSH; create an Ed25519 key instead",
    "ssh-ed448": "OpenSSH does not support Ed448 keys; create an Ed25519 key instead",
}


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
        secret = passphrase_bytes(new_passphrase) if new_passphrase else b""
        return OpenSSHKey(
            private_pem=openssh_private_pem(self.private_key, secret),
            public_line=self.public_line,
            fingerprint=self.fingerprint,
            encrypted=bool(secret),
        )


def peek_ppk(data: bytes | str) -> PpkSummary:
    """Read a PPK file's header without a passphrase, e.g. to know whether to ask for one.

    The values are not authenticated until :func:`read_ppk` checks the MAC.

    Raises:
        KeyFormatError: The data is not a readable PPK file.
    """
    ppk = parse_ppk(data)
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
    ppk = parse_ppk(data)
    if ppk.algorithm not in _SUPPORTED:
        reason = _NOT_SUPPORTED.get(ppk.algorithm, SUPPORTED_TEXT)
        raise UnsupportedKeyError(f"Key type {ppk.algorithm!r} cannot be converted: {reason}.")
    if ppk.encryption == "none":
        plain = open_private_blob(ppk, b"")
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
        for secret in passphrase_candidates(passphrase):
            plain = open_private_blob(ppk, secret)
            if plain is not None:
                break
        if plain is None:
            raise WrongPassphraseError(
                "The passphrase does not open this key (or the key file was modified). Check "
                "the passphrase and try again."
            )
    private_key = build_key(ppk.algorithm, ppk.public_blob, plain)
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
            data = handle.read(MAX_FILE_BYTES + 1)
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
