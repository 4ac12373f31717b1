"""The cloud package's public surface: a sorted ``__all__``, no openstack at import time."""

from __future__ import annotations

import subprocess
import sys

import denbi_jupyter.cloud as cloud


def test_all_is_sorted_unique_and_resolves() -> None:
    assert cloud.__all__ == sorted(cloud.__all__)
    assert len(set(cloud.__all__)) == len(cloud.__all__)
    for name in cloud.__all__:
        assert getattr(cloud, name) is not None, name


def test_importing_the_cloud_package_does_not_import_openstack() -> None:
    code = "import sys, denbi_jupyter.cloud; print('openstack' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# Which modules may import openstack / keystoneauth1: tests/package/test_layers.py.
