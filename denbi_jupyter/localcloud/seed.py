"""Seed an empty site: Keystone people and projects, Nova flavors and quotas, Neutron networks,
and a de.NBI-like Glance catalog with snapshots (optionally thousands more for scale tests).

Everything is written with bulk ``executemany`` in one transaction. Image data are small real
files (1 to 8 KiB); the extra snapshots share a few files through hard links.

The user's application credential secret is not stored in plain text anywhere: it is derived
from the user's password and the site name (:func:`app_credential`), so whoever holds the
password (``credentials.json``) can write a ``clouds.yaml`` application-credential entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import os
import secrets
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from denbi_jupyter.localcloud.glance_records import data_path, db_time
from denbi_jupyter.localcloud.keystone_secrets import hash_secret
from denbi_jupyter.localcloud.seed_catalog import (
    ADMIN_PROJECT,
    ADMIN_USER,
    FLAVORS,
    IMAGES,
    OTHER_PEOPLE,
    PRIMARY_PROJECT,
    QUOTAS,
    SECOND_PROJECT,
    SNAPSHOTS,
    USER_NAME,
    ImageSpec,
)
from denbi_jupyter.localcloud.site import Site
from denbi_jupyter.localcloud.store import dumps

__all__ = [
    "ADMIN_USER",
    "APP_CREDENTIAL_NAME",
    "PRIMARY_PROJECT",
    "SECOND_PROJECT",
    "SHARED_NETWORK",
    "USER_NAME",
    "AppCredential",
    "app_credential",
    "seed_site",
]

#: Name of the seeded user's application credential (one per site).
APP_CREDENTIAL_NAME = "denbi-jupyter"
#: Name of the network every project may use; its subnet is the site's ``network_cidr``.
SHARED_NETWORK = "denbi-shared-net"

_DOMAIN_ID = "default"
_DOMAIN_NAME = "Default"
_ID_NAMESPACE = uuid.UUID("0b7d7c1e-3f0e-4a57-9d7c-6b2f1f0f5a21")
_EXTRA_PREFIXES = ("analysis", "assembly", "rnaseq", "training", "backup", "pipeline", "course")
_EXTRA_START = dt.datetime(2026, 7, 1, 12, 0, 0)
_BLOB_COUNT = 8
#: Source-image properties Nova copies onto a snapshot.
_INHERITED = ("os_distro", "os_version", "hw_rng_model")

_IMAGE_INSERT = (
    "INSERT INTO images (id, name, status, visibility, owner, protected, container_format, "
    "disk_format, size, virtual_size, checksum, os_hash_algo, os_hash_value, min_disk, min_ram, "
    "os_hidden, created_at, updated_at, properties) "
    "VALUES (?, ?, 'active', ?, ?, ?, 'bare', 'qcow2', ?, ?, ?, 'sha512', ?, ?, 0, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class AppCredential:
    """The seeded user's application credential on one site."""

    id: str
    name: str
    secret: str


def app_credential(site_name: str, password: str) -> AppCredential:
    """The id, name and secret of the user's application credential on ``site_name``.

    The secret is derived from the user's password, so it is never stored in plain text.
    """
    secret = hmac.new(password.encode(), f"app-credential/{site_name}".encode(), "sha256")
    return AppCredential(
        id=uuid.uuid5(_ID_NAMESPACE, f"{site_name}/app-credential").hex,
        name=APP_CREDENTIAL_NAME,
        secret=secret.hexdigest(),
    )


def _hex_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class _Blob:
    path: Path
    size: int
    md5: str
    sha512: str


def _write_blob(path: Path, data: bytes) -> _Blob:
    path.write_bytes(data)
    return _Blob(
        path=path,
        size=len(data),
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        sha512=hashlib.sha512(data).hexdigest(),
    )


def _data_for(name: str, kib: int = 1) -> bytes:
    return hashlib.sha512(name.encode()).digest() * (16 * kib)


def _seed_identity(
    conn: sqlite3.Connection, site: Site, password: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Domain, projects, users, roles, app credential; returns name → id maps."""
    conn.execute("INSERT INTO domains (id, name) VALUES (?, ?)", (_DOMAIN_ID, _DOMAIN_NAME))
    project_names = [
        ADMIN_PROJECT,
        PRIMARY_PROJECT,
        SECOND_PROJECT,
        *(project for _, project in OTHER_PEOPLE),
    ]
    projects = {name: _hex_id() for name in project_names}
    descriptions = {
        ADMIN_PROJECT: "Cloud administration.",
        PRIMARY_PROJECT: "de.NBI demo project.",
        SECOND_PROJECT: "de.NBI training course.",
    }
    conn.executemany(
        "INSERT INTO projects (id, name, domain_id, description) VALUES (?, ?, ?, ?)",
        [
            (pid, name, _DOMAIN_ID, descriptions.get(name, f"Project {name}."))
            for name, pid in projects.items()
        ],
    )
    user_hash = hash_secret(password)
    locked_hash = hash_secret(secrets.token_urlsafe(24))
    users = {USER_NAME: _hex_id(), ADMIN_USER: _hex_id()}
    users.update({person: _hex_id() for person, _ in OTHER_PEOPLE})
    conn.executemany(
        "INSERT INTO users (id, name, domain_id, password_hash, email) VALUES (?, ?, ?, ?, ?)",
        [
            (
                uid,
                name,
                _DOMAIN_ID,
                user_hash if name in (USER_NAME, ADMIN_USER) else locked_hash,
                f"{name}@example.org",
            )
            for name, uid in users.items()
        ],
    )
    member = ("member", "reader")
    assignments = [
        (users[USER_NAME], projects[p], r)
        for p in (PRIMARY_PROJECT, SECOND_PROJECT)
        for r in member
    ]
    assignments += [
        (users[ADMIN_USER], projects[ADMIN_PROJECT], r) for r in ("admin", "member", "reader")
    ]
    assignments += [(users[u], projects[p], r) for u, p in OTHER_PEOPLE for r in member]
    conn.executemany(
        "INSERT INTO role_assignments (user_id, project_id, role) VALUES (?, ?, ?)", assignments
    )
    cred = app_credential(site.name, password)
    conn.execute(
        "INSERT INTO app_credentials (id, name, user_id, project_id, secret_hash, expires_at) "
        "VALUES (?, ?, ?, ?, ?, NULL)",
        (cred.id, cred.name, users[USER_NAME], projects[PRIMARY_PROJECT], hash_secret(cred.secret)),
    )
    return projects, users


def _seed_compute(conn: sqlite3.Connection, projects: dict[str, str]) -> None:
    conn.executemany(
        "INSERT INTO flavors (id, name, vcpus, ram, disk, ephemeral, description) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                str(uuid.uuid5(_ID_NAMESPACE, f"flavor/{f.name}")),
                f.name,
                f.vcpus,
                f.ram,
                f.disk,
                f.ephemeral,
                f.description or None,
            )
            for f in FLAVORS
        ],
    )
    conn.executemany(
        "INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)",
        [(pid, resource, limit) for pid in projects.values() for resource, limit in QUOTAS.items()],
    )


def _seed_networks(conn: sqlite3.Connection, site: Site, projects: dict[str, str]) -> None:
    """The shared network and one network per project, all carved from the site's CIDR.

    Every address then lies in the site's range (e.g. 192.168.1.0/24), so the site's SSH
    port formula gives each VM its own port, as on de.NBI.
    """
    now = db_time()
    owners = [(SHARED_NETWORK, projects[ADMIN_PROJECT], 1)]
    owners += [(f"{name}-net", pid, 0) for name, pid in sorted(projects.items())]
    cidr = ipaddress.ip_network(site.profile.network_cidr)
    extra_bits = max(1, (len(owners) - 1).bit_length())
    blocks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = list(
        cidr.subnets(prefixlen_diff=extra_bits)
    )
    networks: list[tuple[Any, ...]] = []
    subnets: list[tuple[Any, ...]] = []
    for (name, owner, shared), block in zip(owners, blocks, strict=False):
        network_id = str(uuid.uuid4())
        networks.append((network_id, name, owner, shared, now))
        subnets.append(
            (str(uuid.uuid4()), f"{name}-subnet", network_id, owner, str(block),
             str(next(block.hosts())))
        )  # fmt: skip
    conn.executemany(
        "INSERT INTO networks (id, name, project_id, shared, created_at) VALUES (?, ?, ?, ?, ?)",
        networks,
    )
    conn.executemany(
        "INSERT INTO subnets (id, name, network_id, project_id, cidr, gateway_ip) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        subnets,
    )


def _image_row(
    image_id: str, spec: ImageSpec, owner: str, blob: _Blob, properties: dict[str, str]
) -> tuple[Any, ...]:
    return (
        image_id, spec.name, spec.visibility, owner, int(spec.protected), blob.size, blob.size,
        blob.md5, blob.sha512, spec.min_disk, int(spec.os_hidden), spec.created_at,
        spec.created_at, dumps(properties),
    )  # fmt: skip


def _seed_images(
    conn: sqlite3.Connection,
    site: Site,
    projects: dict[str, str],
    users: dict[str, str],
    extra_snapshots: int,
) -> None:
    rows: list[tuple[Any, ...]] = []
    tags: list[tuple[str, str]] = []
    members: list[tuple[str, str, str, str, str]] = []
    by_name: dict[str, tuple[str, ImageSpec]] = {}
    for spec in IMAGES:
        image_id = str(uuid.uuid4())
        by_name[spec.name] = (image_id, spec)
        blob = _write_blob(data_path(site, image_id), _data_for(spec.name))
        rows.append(_image_row(image_id, spec, projects[spec.owner], blob, spec.properties))
        tags += [(image_id, tag) for tag in spec.tags]
        members += [
            (image_id, projects[project], status, spec.created_at, spec.created_at)
            for project, status in spec.members
        ]
    for snap in SNAPSHOTS:
        image_id = str(uuid.uuid4())
        spec = ImageSpec(
            snap.name, snap.tags, {}, snap.created_at, visibility="private",
            owner=snap.project, protected=snap.protected,
        )  # fmt: skip
        properties = _snapshot_properties(snap.project, snap.user, users, by_name[snap.source])
        blob = _write_blob(data_path(site, image_id), _data_for(snap.name, kib=2))
        rows.append(_image_row(image_id, spec, projects[snap.project], blob, properties))
        tags += [(image_id, tag) for tag in snap.tags]
    rows += _extra_snapshot_rows(site, projects, users, by_name, extra_snapshots)
    conn.executemany(_IMAGE_INSERT, rows)
    conn.executemany("INSERT INTO image_tags (image_id, tag) VALUES (?, ?)", tags)
    conn.executemany(
        "INSERT INTO image_members (image_id, member_id, status, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?)",
        members,
    )


def _snapshot_properties(
    project: str,
    user: str,
    users: dict[str, str],
    source: tuple[str, ImageSpec],
) -> dict[str, str]:
    """Properties Nova stamps on a snapshot, plus those it inherits from the source image."""
    source_id, source_spec = source
    inherited = {key: value for key, value in source_spec.properties.items() if key in _INHERITED}
    return {
        **inherited,
        "image_type": "snapshot",
        "image_location": "snapshot",
        "instance_uuid": str(uuid.uuid4()),
        "base_image_ref": source_id,
        "owner_project_name": project,
        "owner_user_name": user,
        "user_id": users[user],
        "boot_roles": "member,reader",
    }


def _extra_snapshot_rows(
    site: Site,
    projects: dict[str, str],
    users: dict[str, str],
    by_name: dict[str, tuple[str, ImageSpec]],
    count: int,
) -> list[tuple[Any, ...]]:
    """``count`` snapshots in the primary project, of varied names, sizes and dates."""
    if count <= 0:
        return []
    blob_dir = site.store.data_dir / "seed-blobs"
    blob_dir.mkdir(exist_ok=True)
    blobs = [
        _write_blob(blob_dir / f"blob-{k}", _data_for(f"extra-{k}", kib=k + 1))
        for k in range(_BLOB_COUNT)
    ]
    sources = [by_name[spec.name] for spec in IMAGES if spec.visibility == "public"]
    owner = projects[PRIMARY_PROJECT]
    rows: list[tuple[Any, ...]] = []
    for index in range(count):
        image_id = str(uuid.uuid4())
        blob = blobs[index % _BLOB_COUNT]
        os.link(blob.path, data_path(site, image_id))
        created = db_time(_EXTRA_START - dt.timedelta(minutes=53 * index, seconds=index % 60))
        prefix = _EXTRA_PREFIXES[index % len(_EXTRA_PREFIXES)]
        properties = _snapshot_properties(
            PRIMARY_PROJECT, USER_NAME, users, sources[index % len(sources)]
        )
        rows.append(
            (
                image_id, f"{prefix}-snap-{index:05d}", "private", owner, 0, blob.size,
                blob.size, blob.md5, blob.sha512, 20, 0, created, created, dumps(properties),
            )
        )  # fmt: skip
    return rows


def seed_site(site: Site, *, password: str, extra_snapshots: int) -> None:
    """Fill an empty site with its people, flavors, quotas, networks and image catalog.

    Args:
        site: The site to seed (its store must be empty).
        password: Password of the seeded user (and of the admin user).
        extra_snapshots: Additional snapshots to create in the user's primary project.
    """
    with site.store.tx() as conn:
        projects, users = _seed_identity(conn, site, password)
        _seed_compute(conn, projects)
        _seed_networks(conn, site, projects)
        _seed_images(conn, site, projects, users, extra_snapshots)
