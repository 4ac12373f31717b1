"""A plain openstacksdk connection to a site of a clouds.yaml, for test set-up and clean-up.

For what the code under test has no call for (a snapshot record with any name, raw uploads):
the test reaches the cloud as any other openstacksdk user would.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import yaml

__all__ = ["sdk_connection"]


@contextlib.contextmanager
def sdk_connection(clouds_yaml: Path, site: str) -> Iterator[Any]:
    """An openstacksdk connection to ``site`` of ``clouds_yaml``; closed on exit."""
    entry = yaml.safe_load(clouds_yaml.read_text())["clouds"][site]
    entry.pop("denbi", None)
    conn = openstack.connect(**entry)
    try:
        yield conn
    finally:
        conn.close()
