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

from denbi_jupyter.localcloud.seed_catalog import ADMIN_PROJECT, ADMIN_USER

__all__ = ["sdk_connection"]


@contextlib.contextmanager
def sdk_connection(
    clouds_yaml: Path, site: str, *, project: str | None = None, admin: bool = False
) -> Iterator[Any]:
    """An openstacksdk connection to ``site`` of ``clouds_yaml``; closed on exit.

    ``project`` scopes it to another project of the entry's user; ``admin`` logs in as the
    local cloud's admin instead (same password as the seeded user).
    """
    entry = yaml.safe_load(clouds_yaml.read_text())["clouds"][site]
    entry.pop("denbi", None)
    if admin:
        entry["auth"]["username"], entry["auth"]["project_name"] = ADMIN_USER, ADMIN_PROJECT
    if project is not None:
        entry["auth"]["project_name"] = project
    conn = openstack.connect(**entry)
    try:
        yield conn
    finally:
        conn.close()
