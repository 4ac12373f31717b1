"""PPK key derivation, decryption and MAC (PuTTY manual, appendix "PPK file format").

Version 2 derives the AES key from SHA-1 of the passphrase and uses HMAC-SHA-1; version 3 runs
Argon2 for 80 bytes (AES-256 key, IV, MAC key) and uses HMAC-SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from argon2.low_level import Type as Argon2Type
from argon2.low_level import hash_secret_raw
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from denbi_jupyter.connect._ppk_errors import KeyFormatError, UnsupportedKeyError
from denbi_jupyter.connect._ppk_file import PpkFile
from denbi_jupyter.connect._ppk_keys import ssh_string

__all__ = ["Passphrase", "open_private_blob", "passphrase_bytes", "passphrase_candidates"]

Passphrase = str | bytes

_ARGON2_MAX_MEMORY_KIB: Final = 1024 * 1024  # 1 GiB; PuTTY's default is 8 MiB
_ARGON2_MAX_PASSES: Final = 10_000
_ARGON2_MAX_PARALLELISM: Final = 64
#: Memory × passes (KiB) a key may ask for: 8 GiB, ~1,000 of PuTTYgen's 8 MiB passes. PuTTYgen
#: makes 8 MiB and tunes the passes to ~0.1 s (a few dozen); a file asking 1 GiB × 10,000
#: passes would take hours to open.
_ARGON2_MAX_COST_KIB: Final = 8 * 1024 * 1024
_V2_MAC_KEY_PREFIX: Final = b"putty-private-key-file-mac-key"
_ARGON2_FLAVOURS: Final = {
    "Argon2id": Argon2Type.ID,
    "Argon2i": Argon2Type.I,
    "Argon2d": Argon2Type.D,
}


def passphrase_bytes(passphrase: Passphrase) -> bytes:
    return passphrase.encode("utf-8") if isinstance(passphrase, str) else bytes(passphrase)


def passphrase_candidates(passphrase: Passphrase) -> list[bytes]:
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
    if len(text.lstrip("0")) > len(str(high)):  # int() refuses 4,300+ digits; all are too big
        raise UnsupportedKeyError(
            f"The key file asks for a {name} far outside the accepted {low}..{high}; "
            "re-save the key with PuTTYgen's default settings."
        )
    value = int(text)
    if not low <= value <= high:
        raise UnsupportedKeyError(
            f"The key file asks for {name} {value}, outside the accepted {low}..{high}; "
            "re-save the key with PuTTYgen's default settings."
        )
    return value


def _v3_keys(ppk: PpkFile, secret: bytes) -> tuple[bytes, bytes, bytes]:
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
    if memory * passes > _ARGON2_MAX_COST_KIB:
        raise UnsupportedKeyError(
            f"The key file asks Argon2 for {memory} KiB × {passes} passes, over "
            f"{_ARGON2_MAX_COST_KIB // (1024 * 1024)} GiB of work: PuTTYgen makes 8 MiB and tunes "
            "the passes to about 0.1 s, so opening this file would take very long and it is "
            "refused. Re-save the key with PuTTYgen's default settings."
        )
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


def _v2_keys(ppk: PpkFile, secret: bytes) -> tuple[bytes, bytes, bytes]:
    """Cipher key, IV and MAC key of a version 2 file."""
    mac_key = hashlib.sha1(_V2_MAC_KEY_PREFIX + secret).digest()
    if ppk.encryption == "none":
        return b"", b"", mac_key
    cipher_key = (
        hashlib.sha1(b"\0\0\0\0" + secret).digest() + hashlib.sha1(b"\0\0\0\1" + secret).digest()
    )[:32]
    return cipher_key, bytes(16), mac_key


def open_private_blob(ppk: PpkFile, secret: bytes) -> bytes | None:
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
        ssh_string(part)
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
