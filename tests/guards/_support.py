"""Helpers of the guard tests: plain openstacksdk connections (user and admin) and counts."""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from tests.support.sdk import sdk_connection

__all__ = ["RUN", "admin_connection", "image_ids", "server_ids", "unique", "user_connection"]

#: A prefix no other test uses; everything named so is removed by the fixture that made it.
RUN = f"guard-{uuid.uuid4().hex[:6]}"


def unique(prefix: str) -> str:
    """A name of this run."""
    return f"{RUN}-{prefix}-{uuid.uuid4().hex[:6]}"


def user_connection(
    clouds_yaml: Path, site: str, *, project: str | None = None
) -> AbstractContextManager[Any]:
    """The seeded user's openstacksdk connection (to ``project``, default the primary one)."""
    return sdk_connection(clouds_yaml, site, project=project)


def admin_connection(clouds_yaml: Path, site: str) -> AbstractContextManager[Any]:
    """The local cloud's admin (same password as the seeded user), for what only admins do."""
    return sdk_connection(clouds_yaml, site, admin=True)


def image_ids(conn: Any) -> set[str]:
    """Every image id the connection's project can see (Glance ``visibility=all``)."""
    return {str(image.id) for image in conn.image.images(visibility="all")}


def server_ids(conn: Any) -> set[str]:
    """Every server id of the connection's project."""
    return {str(server.id) for server in conn.compute.servers()}
