"""The errors of PuTTY key conversion (see :mod:`denbi_jupyter.connect.ppk` for the tree)."""

from __future__ import annotations

from denbi_jupyter.errors import DenbiError, UserInputError

__all__ = [
    "KeyEncryptionUnavailableError",
    "KeyFormatError",
    "KeyIntegrityError",
    "PassphraseRequiredError",
    "UnsupportedKeyError",
    "WrongPassphraseError",
]


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
