"""A tiny, structurally valid qcow2 image in pure Python.

Glance inspects uploaded bytes and refuses data that does not match `disk_format` (415), so a
qcow2 image must really be one. Four 512-byte clusters: header, L1 table (all unallocated, so
the disk reads as zeros), refcount table, refcount block.
"""

from __future__ import annotations

import struct

__all__ = ["QCOW2_MAGIC", "qcow2_image", "qcow2_virtual_size"]

QCOW2_MAGIC = b"QFI\xfb"
_CLUSTER_BITS = 9
_CLUSTER = 1 << _CLUSTER_BITS
_HEADER_V3_LENGTH = 104
_REFCOUNT_ORDER = 4  # 16-bit refcounts


def qcow2_image(virtual_size: int = 1 << 20) -> bytes:
    """A qcow2 v3 image of `virtual_size` bytes (at most 2 MiB: one L1 cluster's reach)."""
    l2_entries = _CLUSTER // 8
    if not 0 < virtual_size <= l2_entries * l2_entries * _CLUSTER:
        raise ValueError("virtual_size must be between 1 byte and 2 MiB")
    l1_entries = -(-virtual_size // (_CLUSTER * l2_entries))
    l1_offset, refcount_table_offset, refcount_block_offset = _CLUSTER, 2 * _CLUSTER, 3 * _CLUSTER
    header = struct.pack(
        ">4sIQIIQIIQQIIQQQQII",
        QCOW2_MAGIC,
        3,  # version
        0,  # backing_file_offset
        0,  # backing_file_size
        _CLUSTER_BITS,
        virtual_size,
        0,  # crypt_method
        l1_entries,
        l1_offset,
        refcount_table_offset,
        1,  # refcount_table_clusters
        0,  # nb_snapshots
        0,  # snapshots_offset
        0,  # incompatible_features
        0,  # compatible_features
        0,  # autoclear_features
        _REFCOUNT_ORDER,
        _HEADER_V3_LENGTH,
    )
    assert len(header) == _HEADER_V3_LENGTH
    # The zero bytes after the header are the end-of-extensions marker.
    clusters = [
        header.ljust(_CLUSTER, b"\0"),
        bytes(_CLUSTER),  # L1 table: no L2 tables allocated
        struct.pack(">Q", refcount_block_offset).ljust(_CLUSTER, b"\0"),
        struct.pack(">4H", 1, 1, 1, 1).ljust(_CLUSTER, b"\0"),  # clusters 0-3 in use once
    ]
    return b"".join(clusters)


def qcow2_virtual_size(data: bytes) -> int:
    """The virtual size in a qcow2 header (raises ValueError for anything else)."""
    if len(data) < 32 or data[:4] != QCOW2_MAGIC:
        raise ValueError("not a qcow2 image")
    (size,) = struct.unpack(">Q", data[24:32])
    return int(size)
