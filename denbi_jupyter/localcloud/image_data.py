"""Image bytes on disk: generated snapshot disks, streamed writes, Glance's size and hashes.

A snapshot's data is a deterministic pseudo-random disk: 64 KiB blocks, block ``i`` being
SHAKE-256 of the seed and ``i`` (so no block repeats and nothing compresses), of
``DENBI_LOCALCLOUD_SNAPSHOT_BYTES`` bytes (default 4 MiB; read each time a snapshot is made, so
tests can change it). Every write streams chunk by chunk into a ``.part`` file and renames it,
hashing as it goes (md5 for ``checksum``, sha512 for ``os_hash_value``, as Glance records them).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BLOCK_BYTES",
    "DEFAULT_SNAPSHOT_BYTES",
    "SNAPSHOT_BYTES_ENV",
    "DataDigest",
    "Hasher",
    "disk_chunks",
    "snapshot_bytes",
    "write_chunks",
]

#: Environment variable holding the size of a new snapshot's data in bytes.
SNAPSHOT_BYTES_ENV = "DENBI_LOCALCLOUD_SNAPSHOT_BYTES"
#: A snapshot's size when the variable is not set: 4 MiB.
DEFAULT_SNAPSHOT_BYTES = 4 * 1024 * 1024
#: The generator's block: each is hashed from the seed and its counter.
BLOCK_BYTES = 64 * 1024
_BLOCKS_PER_CHUNK = 16


@dataclass(frozen=True, slots=True)
class DataDigest:
    """Size and hashes of image data, as Glance records them."""

    size: int
    md5: str
    sha512: str


class Hasher:
    """Counts bytes and computes md5 and sha512 over a stream, chunk by chunk."""

    def __init__(self) -> None:
        self.size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha512 = hashlib.sha512()

    def update(self, chunk: bytes) -> None:
        """Add the next chunk."""
        self.size += len(chunk)
        self._md5.update(chunk)
        self._sha512.update(chunk)

    def digest(self) -> DataDigest:
        """Size and hex hashes of everything added so far."""
        return DataDigest(self.size, self._md5.hexdigest(), self._sha512.hexdigest())


def snapshot_bytes() -> int:
    """The size of a new snapshot's data: ``DENBI_LOCALCLOUD_SNAPSHOT_BYTES`` or 4 MiB.

    Raises:
        ValueError: The variable is set but not a non-negative integer.
    """
    value = os.environ.get(SNAPSHOT_BYTES_ENV, "").strip()
    if not value:
        return DEFAULT_SNAPSHOT_BYTES
    if not value.isdigit():
        raise ValueError(f"{SNAPSHOT_BYTES_ENV} must be a number of bytes, got {value!r}")
    return int(value)


def disk_chunks(seed: str, size: int) -> Iterator[bytes]:
    """``size`` deterministic pseudo-random bytes for ``seed``, in chunks of up to 1 MiB.

    The same seed and size always give the same bytes; a larger size extends a smaller one.
    """
    prefix = hashlib.sha256(seed.encode()).digest()
    counter = 0
    remaining = size
    while remaining > 0:
        blocks = []
        for _ in range(_BLOCKS_PER_CHUNK):
            block = hashlib.shake_256(prefix + counter.to_bytes(8, "big"))
            blocks.append(block.digest(BLOCK_BYTES))
            counter += 1
        chunk = b"".join(blocks)[:remaining]
        remaining -= len(chunk)
        yield chunk


def write_chunks(path: Path, chunks: Iterable[bytes]) -> DataDigest:
    """Stream ``chunks`` into ``path`` (through ``path.part``, renamed at the end).

    Nothing is left behind when ``chunks`` raises.
    """
    temp = path.with_name(path.name + ".part")
    hasher = Hasher()
    try:
        with temp.open("wb") as handle:
            for chunk in chunks:
                hasher.update(chunk)
                handle.write(chunk)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return hasher.digest()
