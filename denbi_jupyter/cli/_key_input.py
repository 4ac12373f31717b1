"""Reading key files and passphrases for ``convert-key`` and ``keypair``, never echoing them.

A passphrase comes from a file (its first line) or, on a terminal, from a hidden prompt; an
encrypted key off a terminal without ``--passphrase-file`` is refused.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from denbi_jupyter.errors import UserInputError

__all__ = ["ppk_passphrase", "read_key_file", "read_passphrase"]

_MAX_PASSPHRASE_FILE = 64 * 1024
#: Bigger than any key file we read (the converter refuses a PPK over 256 KiB, MAX_FILE_BYTES).
_MAX_KEY_FILE = 2 * 1024 * 1024


def read_passphrase(path: Path) -> bytes:
    """The first line of ``path`` (without its line break), as bytes."""
    try:
        with path.open("rb") as handle:  # never the whole of a huge file (or /dev/zero)
            data = handle.read(_MAX_PASSPHRASE_FILE)
    except OSError as exc:
        raise UserInputError(
            f"Cannot read the passphrase file {str(path)!r}: {exc.strerror or exc}."
        ) from None
    return data.split(b"\n", 1)[0].removesuffix(b"\r")


def read_key_file(path: Path) -> bytes:
    """The contents of a key file (UserInputError naming the file when it cannot be read)."""
    try:
        with path.open("rb") as handle:
            return handle.read(_MAX_KEY_FILE)
    except OSError as exc:
        raise UserInputError(f"Cannot read {str(path)!r}: {exc.strerror or exc}.") from None


def ppk_passphrase(data: bytes, passphrase_file: Path | None) -> bytes | str | None:
    """The passphrase for a ``.ppk``: from the file, a hidden prompt, or None if unencrypted.

    Raises:
        PassphraseRequiredError: The key is encrypted, no file was given and stdin is no
            terminal.
    """
    from denbi_jupyter.connect import PassphraseRequiredError, peek_ppk

    if passphrase_file is not None:
        return read_passphrase(passphrase_file)
    if not peek_ppk(data).encrypted:
        return None
    if not sys.stdin.isatty():
        raise PassphraseRequiredError(
            "The key is encrypted: give its passphrase with --passphrase-file FILE."
        )
    return getpass.getpass("Passphrase of the PuTTY key: ")
