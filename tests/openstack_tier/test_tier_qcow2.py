"""The pure-Python qcow2 image Glance accepts as `disk_format=qcow2`."""

from __future__ import annotations

import struct

import pytest

from openstack_tier.qcow2 import QCOW2_MAGIC, qcow2_image, qcow2_virtual_size


def test_image_is_four_512_byte_clusters_with_a_v3_header() -> None:
    data = qcow2_image()
    assert len(data) == 2048
    assert data[:4] == QCOW2_MAGIC
    (version,) = struct.unpack(">I", data[4:8])
    (cluster_bits,) = struct.unpack(">I", data[20:24])
    (header_length,) = struct.unpack(">I", data[100:104])
    assert (version, cluster_bits, header_length) == (3, 9, 104)
    assert qcow2_virtual_size(data) == 1 << 20


def test_tables_point_inside_the_file_and_refcount_every_cluster() -> None:
    data = qcow2_image(4096)
    l1_size, l1_offset, refcount_table, refcount_clusters = struct.unpack(">IQQI", data[36:60])
    assert (l1_size, l1_offset, refcount_table, refcount_clusters) == (1, 512, 1024, 1)
    assert data[l1_offset : l1_offset + 8 * l1_size] == bytes(8)  # unallocated: reads zeros
    (block,) = struct.unpack(">Q", data[refcount_table : refcount_table + 8])
    assert block == 1536
    assert struct.unpack(">5H", data[block : block + 10]) == (1, 1, 1, 1, 0)
    (backing_offset,) = struct.unpack(">Q", data[8:16])
    assert backing_offset == 0  # Glance refuses images with a backing file


@pytest.mark.parametrize("size", [0, (2 << 20) + 1])
def test_sizes_outside_one_l1_cluster_are_refused(size: int) -> None:
    with pytest.raises(ValueError):
        qcow2_image(size)


def test_virtual_size_refuses_other_data() -> None:
    with pytest.raises(ValueError):
        qcow2_virtual_size(b"raw bytes" * 10)
