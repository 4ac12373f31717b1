"""SSH wire-format key blobs to ``cryptography`` keys, and those keys to OpenSSH files."""

from __future__ import annotations

from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from denbi_jupyter.connect._ppk_errors import (
    KeyEncryptionUnavailableError,
    KeyFormatError,
    KeyIntegrityError,
    UnsupportedKeyError,
)

__all__ = [
    "CURVES",
    "SUPPORTED_TEXT",
    "PrivateKey",
    "build_key",
    "openssh_private_pem",
    "ssh_string",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

CURVES: Final[dict[str, tuple[str, ec.EllipticCurve]]] = {
    "ecdsa-sha2-nistp256": ("nistp256", ec.SECP256R1()),
    "ecdsa-sha2-nistp384": ("nistp384", ec.SECP384R1()),
    "ecdsa-sha2-nistp521": ("nistp521", ec.SECP521R1()),
}
#: OpenSSH's ``SSH_RSA_MAXIMUM_MODULUS_SIZE``; checking a bigger key's primes takes minutes.
_RSA_MAX_BITS: Final = 16384
SUPPORTED_TEXT: Final = "supported are RSA, ECDSA (NIST P-256, P-384, P-521) and Ed25519"


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


def ssh_string(data: bytes) -> bytes:
    """``data`` as an SSH wire-format string (length-prefixed)."""
    return len(data).to_bytes(4, "big") + data


def _mismatch() -> KeyIntegrityError:
    return KeyIntegrityError(
        "The private and public halves of the key do not match; the file is damaged."
    )


def _rsa_key(public: _Reader, private: _Reader) -> PrivateKey:
    e, n = public.mpint(), public.mpint()
    if n.bit_length() > _RSA_MAX_BITS:
        raise UnsupportedKeyError(
            f"The RSA key has {n.bit_length()} bits; OpenSSH accepts at most {_RSA_MAX_BITS}."
        )
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


def _ecdsa_key(algorithm: str, public: _Reader, private: _Reader) -> PrivateKey:
    curve_name, curve = CURVES[algorithm]
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


def _ed25519_key(public: _Reader, private: _Reader) -> PrivateKey:
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


def build_key(algorithm: str, public_blob: bytes, private_blob: bytes) -> PrivateKey:
    """The private key from a PPK's public and (decrypted) private blobs, halves checked."""
    public = _Reader(public_blob, "public key")
    private = _Reader(private_blob, "private key")
    if public.string() != algorithm.encode("ascii", errors="replace"):
        raise KeyIntegrityError("The key file's public key does not match its key type.")
    if algorithm == "ssh-rsa":
        return _rsa_key(public, private)
    if algorithm in CURVES:
        return _ecdsa_key(algorithm, public, private)
    if algorithm == "ssh-ed25519":
        return _ed25519_key(public, private)
    raise UnsupportedKeyError(f"Key type {algorithm!r} cannot be converted: {SUPPORTED_TEXT}.")


# --- writing OpenSSH -------------------------------------------------------------------------


def openssh_private_pem(private_key: PrivateKey, secret: bytes) -> bytes:
    """The ``-----BEGIN OPENSSH PRIVATE KEY-----`` file, encrypted when ``secret`` is not empty.

    Raises:
        KeyEncryptionUnavailableError: ``secret`` given but ``bcrypt`` is missing.
    """
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(secret) if secret else serialization.NoEncryption()
    )
    try:
        return private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
        )
    except UnsupportedAlgorithm:
        raise KeyEncryptionUnavailableError(
            "Encrypting an OpenSSH key needs the 'bcrypt' package: install it "
            "(pip install bcrypt) or convert without a new passphrase."
        ) from None
