"""SQLite state of one site, shared by its Keystone, Glance, Nova and Neutron parts.

Each site has its own database file (separate clouds share nothing). All access goes through
:meth:`SiteStore.tx`, which holds the site's lock for the whole transaction, so request handlers
in uvicorn's threads and the timeline never interleave half-done changes.

Which part owns which tables:

* Keystone: ``domains``, ``projects``, ``users``, ``role_assignments``, ``app_credentials``,
  ``tokens``
* Glance: ``images``, ``image_tags``, ``image_members`` (image data lives in files under
  ``data_dir``)
* Nova: ``flavors``, ``keypairs``, ``servers``, ``quotas``
* Neutron: ``networks``, ``subnets``, ``ports``
* Timeline: ``events`` (state changes that fall due later, see ``timeline.py``)

Other parts read foreign tables only through the owner's functions (e.g. Nova creates its
snapshot image through ``glance.create_image_record``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA", "SiteStore", "dumps", "loads"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS domains (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, domain_id TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, domain_id TEXT NOT NULL,
    password_hash TEXT NOT NULL, email TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS role_assignments (
    user_id TEXT NOT NULL, project_id TEXT NOT NULL, role TEXT NOT NULL,
    PRIMARY KEY (user_id, project_id, role)
);
CREATE TABLE IF NOT EXISTS app_credentials (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, user_id TEXT NOT NULL, project_id TEXT NOT NULL,
    secret_hash TEXT NOT NULL, expires_at TEXT
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, project_id TEXT,
    methods TEXT NOT NULL, issued_at TEXT NOT NULL, expires_at TEXT NOT NULL,
    audit_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY, name TEXT, status TEXT NOT NULL, visibility TEXT NOT NULL,
    owner TEXT, protected INTEGER NOT NULL DEFAULT 0,
    container_format TEXT, disk_format TEXT, size INTEGER, virtual_size INTEGER,
    checksum TEXT, os_hash_algo TEXT, os_hash_value TEXT,
    min_disk INTEGER NOT NULL DEFAULT 0, min_ram INTEGER NOT NULL DEFAULT 0,
    os_hidden INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    properties TEXT NOT NULL DEFAULT '{}',
    image_type TEXT GENERATED ALWAYS AS (json_extract(properties, '$.image_type')) VIRTUAL
);
CREATE INDEX IF NOT EXISTS images_created ON images (created_at, id);
CREATE INDEX IF NOT EXISTS images_name ON images (name);
CREATE INDEX IF NOT EXISTS images_owner ON images (owner, created_at);
CREATE INDEX IF NOT EXISTS images_type ON images (image_type, created_at);
CREATE INDEX IF NOT EXISTS images_type_name ON images (image_type, COALESCE(name, ''), id);
CREATE TABLE IF NOT EXISTS image_tags (
    image_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (image_id, tag)
);
CREATE INDEX IF NOT EXISTS image_tags_tag ON image_tags (tag);
CREATE TABLE IF NOT EXISTS image_members (
    image_id TEXT NOT NULL, member_id TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (image_id, member_id)
);
CREATE INDEX IF NOT EXISTS image_members_member ON image_members (member_id, status);
CREATE TABLE IF NOT EXISTS flavors (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, vcpus INTEGER NOT NULL,
    ram INTEGER NOT NULL, disk INTEGER NOT NULL, ephemeral INTEGER NOT NULL DEFAULT 0,
    swap INTEGER NOT NULL DEFAULT 0, is_public INTEGER NOT NULL DEFAULT 1,
    description TEXT, extra_specs TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS keypairs (
    name TEXT NOT NULL, user_id TEXT NOT NULL, public_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL, type TEXT NOT NULL DEFAULT 'ssh', created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
);
CREATE TABLE IF NOT EXISTS servers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, project_id TEXT NOT NULL, user_id TEXT NOT NULL,
    image_id TEXT, flavor_id TEXT NOT NULL, key_name TEXT,
    status TEXT NOT NULL, vm_state TEXT NOT NULL, task_state TEXT, power_state INTEGER NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, launched_at TEXT,
    metadata TEXT NOT NULL DEFAULT '{}', addresses TEXT NOT NULL DEFAULT '{}',
    fault TEXT, deleted INTEGER NOT NULL DEFAULT 0, extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS servers_project ON servers (project_id, created_at);
CREATE TABLE IF NOT EXISTS quotas (
    project_id TEXT NOT NULL, resource TEXT NOT NULL, hard_limit INTEGER NOT NULL,
    PRIMARY KEY (project_id, resource)
);
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, project_id TEXT NOT NULL,
    shared INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'ACTIVE',
    created_at TEXT NOT NULL, external INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS subnets (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, network_id TEXT NOT NULL, project_id TEXT NOT NULL,
    cidr TEXT NOT NULL, gateway_ip TEXT, ip_version INTEGER NOT NULL DEFAULT 4
);
CREATE TABLE IF NOT EXISTS ports (
    id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', network_id TEXT NOT NULL,
    project_id TEXT NOT NULL, device_id TEXT NOT NULL DEFAULT '',
    device_owner TEXT NOT NULL DEFAULT '', mac_address TEXT NOT NULL,
    fixed_ips TEXT NOT NULL DEFAULT '[]', status TEXT NOT NULL DEFAULT 'DOWN',
    created_at TEXT NOT NULL, extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS ports_device ON ports (device_id);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, due_at REAL NOT NULL, kind TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_due ON events (due_at, seq);
"""


def dumps(value: Any) -> str:
    """Serialise a JSON column value compactly."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def loads(text: str | None) -> Any:
    """Read a JSON column value (None stays None)."""
    return None if text is None else json.loads(text)


class SiteStore:
    """The SQLite database and image-data folder of one site."""

    def __init__(self, *, path: Path, data_dir: Path) -> None:
        self.path = path
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)

    def add_commit_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (no arguments, must not block) after each transaction that
        committed a change; it runs outside the site's lock."""
        self._listeners.append(listener)

    def remove_commit_listener(self, listener: Callable[[], None]) -> None:
        """Stop calling ``listener``; nothing happens if it was never added."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """Hold the site's lock and run one transaction; roll back on error."""
        with self._lock:
            before = self._conn.total_changes
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            changed = self._conn.total_changes != before
        if changed:
            for listener in tuple(self._listeners):
                listener()

    def is_empty(self) -> bool:
        """True when nothing has been seeded yet (a fresh state folder)."""
        with self._lock:
            row = self._conn.execute("SELECT COUNT(*) FROM projects").fetchone()
        return int(row[0]) == 0

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()
