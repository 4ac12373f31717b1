"""The text layer of a PPK file: header, base64 blobs, KDF parameters and MAC, unchecked.

Nothing here decrypts or verifies; :mod:`denbi_jupyter.connect._ppk_crypto` does.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Final

from denbi_jupyter.connect._ppk_errors import KeyFormatError, UnsupportedKeyError

__all__ = ["MAX_FILE_BYTES", "PpkFile", "parse_ppk"]

MAX_FILE_BYTES: Final = 256 * 1024
_MAX_BLOB_LINES: Final = 2048
_HEADER = re.compile(rb"^PuTTY-User-Key-File-(\d+): (.*)$")
_V3_KDF_FIELDS: Final = (
    "Key-Derivation",
    "Argon2-Memory",
    "Argon2-Passes",
    "Argon2-Parallelism",
    "Argon2-Salt",
)


@dataclass(frozen=True, slots=True)
class PpkFile:
    """A PPK file's fields as written, before any check of its MAC."""

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
        if not count_text.isdigit() or len(count_text) > 6 or int(count_text) > _MAX_BLOB_LINES:
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


def parse_ppk(data: bytes | str) -> PpkFile:
    """Split a PPK file into its fields; :class:`KeyFormatError` for anything malformed."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_FILE_BYTES:
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
    digits = match.group(1)
    version = int(digits) if len(digits) <= 4 else -1  # Python refuses 4,300+ digit ints
    if version not in (2, 3):
        raise UnsupportedKeyError(
            f"PPK format version {digits[:8].decode() + ('…' if len(digits) > 8 else '')} is "
            "not supported (only 2 and 3); re-save the key "
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
        kdf = {name: lines.text_field(name) for name in _V3_KDF_FIELDS}
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
    return PpkFile(
        version=version,
        algorithm=algorithm,
        encryption=encryption,
        comment=comment,
        public_blob=public_blob,
        kdf=kdf,
        private_data=private_data,
        mac=mac,
    )
