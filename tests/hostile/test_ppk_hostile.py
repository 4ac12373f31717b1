"""PuTTY key files, damaged on purpose: every input ends in a key or in the converter's errors.

Real keys come from Debian's puttygen (see ``conftest.py``); hypothesis flips, cuts, inserts
and rewrites their bytes and fields. Synthetic files carry a correct MAC (computed here from
the PuTTY manual's rules, not by the converter) over nonsense key data, so the key-building
code is fuzzed too, not only the MAC check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from denbi_jupyter.connect.ppk import (
    KeyFormatError,
    PassphraseRequiredError,
    UnsupportedKeyError,
    WrongPassphraseError,
    peek_ppk,
    read_ppk,
)
from tests.hostile._budget import examples
from tests.hostile.conftest import PPK_PASSPHRASE

#: What reading a PPK may raise; anything else (ValueError, IndexError, ...) is a bug.
_TYPED = (KeyFormatError, PassphraseRequiredError, WrongPassphraseError)
_KEY_NAMES = [
    "ed25519-v3-enc",
    "ed25519-v3-plain",
    "ecdsa256-v2-enc",
    "rsa1024-v2-plain",
    "ecdsa384-v3-plain",
]
_FIELDS = [
    "PuTTY-User-Key-File-3",
    "PuTTY-User-Key-File-2",
    "Encryption",
    "Comment",
    "Public-Lines",
    "Key-Derivation",
    "Argon2-Memory",
    "Argon2-Passes",
    "Argon2-Parallelism",
    "Argon2-Salt",
    "Private-Lines",
    "Private-MAC",
]
_FIELD_VALUES = st.one_of(
    st.sampled_from(["", "0", "1", "-1", "2049", "9" * 5000, "00000000000000000000008", "none"]),
    st.sampled_from(["aes256-cbc", "Argon2id", "Argon2x", "ssh-dss", "ssh-ed448", "ssh-rsa"]),
    st.text(max_size=30).map(lambda text: text.replace("\n", " ")),
)


@st.composite
def _mutation(draw: st.DrawFn) -> tuple[str, int, bytes | str]:
    kind = draw(st.sampled_from(["flip", "delete", "insert", "truncate", "field", "line"]))
    position = draw(st.integers(0, 10_000))
    if kind == "field":
        return kind, position, draw(st.sampled_from(_FIELDS)) + "\0" + draw(_FIELD_VALUES)
    payload = draw(st.binary(min_size=1, max_size=40)) if kind == "insert" else b""
    return kind, position, payload


def _mutate(data: bytes, mutation: tuple[str, int, bytes | str]) -> bytes:
    kind, position, payload = mutation
    at = position % (len(data) + 1)
    if kind == "flip":
        if not data:
            return data
        at %= len(data)
        return data[:at] + bytes([data[at] ^ (1 << (position % 8))]) + data[at + 1 :]
    if kind == "delete":
        return data[:at] + data[at + 1 + position % 50 :]
    if kind == "insert":
        assert isinstance(payload, bytes)
        return data[:at] + payload + data[at:]
    if kind == "truncate":
        return data[:at]
    lines = data.split(b"\n")
    if kind == "line":  # drop or repeat one line
        index = position % len(lines)
        if position % 2:
            del lines[index]
        else:
            lines.insert(index, lines[index])
        return b"\n".join(lines)
    assert isinstance(payload, str)
    field, _, value = payload.partition("\0")
    pattern = re.compile(rb"^" + re.escape(field.encode()) + rb": .*$", re.MULTILINE)
    return pattern.sub(lambda _: field.encode() + b": " + value.encode("utf-8"), data, count=1)


def _argon2_is_cheap(data: bytes) -> bool:
    """False when the file asks Argon2 for much work (mutated digits may ask for up to 1 GiB)."""
    for name in (rb"Argon2-Memory", rb"Argon2-Passes", rb"Argon2-Parallelism"):
        found = re.search(rb"^" + name + rb": *(\d+)\s*$", data, re.MULTILINE)
        if found and (len(found.group(1)) > 4 or int(found.group(1)) > 64):
            return False
    return True


def _check_outcome(data: bytes, passphrase: str | None, original: bytes) -> None:
    try:
        key = read_ppk(data, passphrase=passphrase)
    except _TYPED as error:
        assert str(error) and PPK_PASSPHRASE not in str(error)
        return
    # The MAC passed: the key is the original one, and it converts.
    reference = read_ppk(original, passphrase=PPK_PASSPHRASE)
    assert (key.algorithm, key.public_blob) == (reference.algorithm, reference.public_blob)
    assert key.to_openssh().private_pem.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")


@settings(max_examples=examples(80))
@given(
    name=st.sampled_from(_KEY_NAMES),
    mutations=st.lists(_mutation(), min_size=1, max_size=4),
    passphrase=st.sampled_from([None, "", PPK_PASSPHRASE, "wrong", "pässwörd"]),
)
@example(
    name="ed25519-v3-plain",
    mutations=[("field", 0, "Public-Lines\0" + "9" * 5000)],  # int() refused 4,300+ digits
    passphrase=None,
)
@example(
    name="ed25519-v3-enc",
    mutations=[("field", 0, "Argon2-Memory\0" + "9" * 5000)],
    passphrase=PPK_PASSPHRASE,
)
@example(name="rsa1024-v2-plain", mutations=[("truncate", 100, b"")], passphrase=None)
def test_a_damaged_real_ppk_ends_in_the_key_or_a_typed_error(
    real_ppks: dict[str, bytes],
    name: str,
    mutations: list[tuple[str, int, bytes | str]],
    passphrase: str | None,
) -> None:
    original = real_ppks[name]
    data = original
    for mutation in mutations:
        data = _mutate(data, mutation)
    if passphrase and not _argon2_is_cheap(data):
        passphrase = None  # a legitimate but slow Argon2 setting is not what this fuzzes
    try:
        peek_ppk(data)
    except KeyFormatError as error:
        assert str(error)
    _check_outcome(data, passphrase, original)


def _ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _mpint(value: int) -> bytes:
    size = (value.bit_length() + 8) // 8 if value else 0
    return _ssh_string(value.to_bytes(size, "big", signed=True))


def _base64_lines(blob: bytes) -> list[bytes]:
    encoded = base64.b64encode(blob)
    return [encoded[i : i + 64] for i in range(0, len(encoded), 64)]


def _unencrypted_ppk(
    version: int, algorithm: str, comment: bytes, public: bytes, private: bytes
) -> bytes:
    """A PPK whose MAC is right (PuTTY manual: HMAC over the five fields, key from '')."""
    mac_input = b"".join(
        _ssh_string(part) for part in (algorithm.encode(), b"none", comment, public, private)
    )
    if version == 2:
        mac_key = hashlib.sha1(b"putty-private-key-file-mac-key").digest()
        mac = hmac.new(mac_key, mac_input, hashlib.sha1).hexdigest()
    else:
        mac = hmac.new(b"", mac_input, hashlib.sha256).hexdigest()
    public_lines, private_lines = _base64_lines(public), _base64_lines(private)
    return b"\n".join(
        [
            f"PuTTY-User-Key-File-{version}: {algorithm}".encode(),
            b"Encryption: none",
            b"Comment: " + comment,
            f"Public-Lines: {len(public_lines)}".encode(),
            *public_lines,
            f"Private-Lines: {len(private_lines)}".encode(),
            *private_lines,
            f"Private-MAC: {mac}".encode(),
            b"",
        ]
    )


_NUMBERS = st.one_of(
    st.integers(-(2**70), 2**300),
    st.sampled_from([0, 1, 2, 3, 65537, 2**255 - 19, 2**521 - 1, -1]),
)
_FIELD_BLOBS = st.one_of(
    _NUMBERS.map(_mpint),
    st.binary(max_size=70).map(_ssh_string),
    st.sampled_from([b"nistp256", b"nistp384", b"ssh-rsa", b"ssh-ed25519"]).map(_ssh_string),
    st.binary(max_size=8),  # a truncated field or a lying length
    st.just(b"\xff\xff\xff\xff"),
)


@settings(max_examples=examples(80))
@given(
    version=st.sampled_from([2, 3]),
    algorithm=st.sampled_from(
        ["ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp521", "ssh-dss", "x"]
    ),
    blob_algorithm=st.sampled_from(["same", "ssh-rsa", "ssh-ed25519", ""]),
    public_fields=st.lists(_FIELD_BLOBS, max_size=3),
    private_fields=st.lists(_FIELD_BLOBS, max_size=5),
    comment=st.binary(max_size=40).map(lambda raw: raw.replace(b"\n", b" ").replace(b"\r", b" ")),
)
def test_nonsense_key_data_under_a_correct_mac_ends_in_a_typed_error(
    version: int,
    algorithm: str,
    blob_algorithm: str,
    public_fields: list[bytes],
    private_fields: list[bytes],
    comment: bytes,
) -> None:
    named = algorithm if blob_algorithm == "same" else blob_algorithm
    public = _ssh_string(named.encode()) + b"".join(public_fields)
    data = _unencrypted_ppk(version, algorithm, comment, public, b"".join(private_fields))
    try:
        key = read_ppk(data)
    except KeyFormatError as error:
        assert str(error)
        return
    assert key.public_blob == public  # only a real key pair gets here


@settings(max_examples=examples(30))
@given(
    data=st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=500).map(lambda text: text.encode("utf-8", "surrogatepass")),
        st.binary(max_size=300).map(lambda raw: b"PuTTY-User-Key-File-3: ssh-ed25519\n" + raw),
        st.sampled_from(
            [
                b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
                b"PuTTY-User-Key-File-1: ssh-rsa\n",
                b"PuTTY-User-Key-File-" + b"9" * 5000 + b": ssh-rsa\n",
                b"\xef\xbb\xbf",
                b"\x00" * 100,
            ]
        ),
    )
)
def test_anything_that_is_not_a_ppk_is_refused_as_such(data: bytes) -> None:
    with pytest.raises(_TYPED):
        read_ppk(data, passphrase="x")


def test_an_rsa_key_over_openssh_s_16384_bits_is_refused_before_its_primes_are_checked() -> None:
    p = q = 2**10000 + 1
    public = _ssh_string(b"ssh-rsa") + _mpint(65537) + _mpint(p * q)
    private = _mpint(3) + _mpint(p) + _mpint(q) + _mpint(5)
    with pytest.raises(UnsupportedKeyError, match="at most 16384"):
        read_ppk(_unencrypted_ppk(2, "ssh-rsa", b"huge", public, private))


def test_a_huge_file_is_refused_without_parsing_it(real_ppks: dict[str, bytes]) -> None:
    huge = real_ppks["ed25519-v3-plain"] + b"\n" * (300 * 1024)
    with pytest.raises(KeyFormatError, match="too large"):
        read_ppk(huge)
