"""Helpers of the guard tests: plain openstacksdk connections (user and admin) and counts."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import yaml

from denbi_jupyter.localcloud.seed_catalog import ADMIN_PROJECT, ADMIN_USER

__all__ = ["RUN", "admin_connection", "image_ids", "server_ids", "unique", "user_connection"]

#: A prefix no other test uses; everything named so is removed by the fixture that made it.
RUN = f"guard-{uuid.uuid4().hex[:6]}"


def unique(prefix: str) -> str:
    """A name of this run."""
    return f"{RUN}-{prefix}-{uuid.uuid4().hex[:6]}"


def _entry(clouds_yaml: Path, site: str) -> dict[str, Any]:
    entry: dict[str, Any] = yaml.safe_load(clouds_yaml.read_text())["clouds"][site]
    entry.pop("denbi", None)
    return entry


@contextlib.contextmanager
def user_connection(clouds_yaml: Path, site: str, *, project: str | None = None) -> Iterator[Any]:
    """The seeded user's openstacksdk connection (to ``project``, default the primary one)."""
    entry = _entry(clouds_yaml, site)
    if project is not None:
        entry["auth"]["project_name"] = project
    conn = openstack.connect(**entry)
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def admin_connection(clouds_yaml: Path, site: str) -> Iterator[Any]:
    """The local cloud's admin (same password as the seeded user), for what only admins do."""
    entry = _entry(clouds_yaml, site)
    entry["auth"]["username"] = ADMIN_USER
    entry["auth"]["project_name"] = ADMIN_PROJECT
    conn = openstack.connect(**entry)
    try:
        yield conn
    finally:
        conn.close()


def image_ids(conn: Any) -> set[str]:
    """Every image id the connection's project can see (Glance ``visibility=all``)."""
    return {str(image.id) for image in conn.image.images(visibility="all")}


def server_ids(conn: Any) -> set[str]:
    """Every server id of the connection's project."""
    return {str(server.id) for server in conn.compute.servers()}
