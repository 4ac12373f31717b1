"""What the tier creates through the APIs, idempotently: the service catalog and a de.NBI user.

Catalog: a `service` project, one user per service (roles admin and service), and public,
internal and admin endpoints of image, compute, placement and network. User fixtures: a
non-admin `denbi-user`, member of two projects, the flavors `de.NBI tiny` and `de.NBI small`,
quotas for a few VMs, and one public, tagged qcow2 base image.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from denbi_jupyter.localcloud import seed_catalog
from denbi_jupyter.localcloud.seed_catalog import QUOTAS, USER_NAME, FlavorSpec
from openstack_tier.configs import TierConfig
from openstack_tier.qcow2 import qcow2_image
from openstack_tier.settings import REGION

if TYPE_CHECKING:
    from openstack.connection import Connection

__all__ = [
    "BASE_IMAGE",
    "CLOUD_NAME",
    "FLAVORS",
    "PROJECTS",
    "QUOTAS",
    "SERVICE_USERS",
    "USER_NAME",
    "FlavorSpec",
    "admin_connection",
    "clouds_yaml",
    "ensure_catalog",
    "ensure_user_fixtures",
    "write_clouds_yaml",
]

CLOUD_NAME = "openstack-real"
# The user, projects, quotas and flavors are the local cloud's (USER_NAME and QUOTAS come from
# its seed catalog too), so the same scenarios read the same on both.
PROJECTS: tuple[str, ...] = (seed_catalog.PRIMARY_PROJECT, seed_catalog.SECOND_PROJECT)
#: The local cloud's flavors that the contract scenarios boot with.
FLAVORS: tuple[FlavorSpec, ...] = tuple(
    spec for spec in seed_catalog.FLAVORS if spec.name in ("de.NBI tiny", "de.NBI small")
)
SERVICE_USERS: tuple[str, ...] = ("glance", "nova", "placement", "neutron")
BASE_IMAGE = "Ubuntu-24.04 de.NBI (openstack-tier)"
DENBI_SETTINGS: dict[str, str] = {
    "gateway_host": "127.0.0.1",
    "ssh_port_formula": "30000 + 256*oct3 + oct4",
    "guacamole_base_url": "http://127.0.0.1:8080/guacamole",
    "ssh_user": "ubuntu",
}


def admin_connection(config: TierConfig) -> Connection:
    """An openstacksdk connection as the bootstrap admin (credentials stay in memory)."""
    from openstack.connection import Connection

    return Connection(
        auth_url=config.keystone_url,
        username="admin",
        password=config.secrets.admin,
        project_name="admin",
        user_domain_name="Default",
        project_domain_name="Default",
        region_name=REGION,
        interface="public",
        identity_api_version="3",
    )


def _ensure_user(conn: Connection, name: str, password: str, project: Any | None) -> Any:
    identity: Any = conn.identity  # typed as v2 | v3 in the SDK; Keystone here is v3
    user = identity.find_user(name, domain_id="default")
    extra = {"default_project_id": project.id} if project is not None else {}
    if user is None:
        return identity.create_user(name=name, password=password, domain_id="default", **extra)
    return identity.update_user(user, password=password, **extra)


def _ensure_project(conn: Connection, name: str, description: str) -> Any:
    identity: Any = conn.identity
    project = identity.find_project(name, domain_id="default")
    if project is None:
        project = identity.create_project(name=name, domain_id="default", description=description)
    return project


def _ensure_role(conn: Connection, name: str) -> Any:
    identity: Any = conn.identity
    return identity.find_role(name) or identity.create_role(name=name)


def ensure_catalog(conn: Connection, config: TierConfig) -> None:
    """Service project, service users and the endpoints of every service but identity."""
    identity: Any = conn.identity
    service_project = _ensure_project(conn, "service", "OpenStack services")
    roles = [_ensure_role(conn, "admin"), _ensure_role(conn, "service")]
    for name in SERVICE_USERS:
        user = _ensure_user(conn, name, config.secrets.service, None)
        for role in roles:
            identity.assign_project_role_to_user(service_project, user, role)
    for name, (kind, url) in config.endpoints().items():
        service = next(iter(identity.services(type=kind)), None)
        if service is None:
            service = identity.create_service(name=name, type=kind, is_enabled=True)
        for interface in ("public", "internal", "admin"):
            found = list(
                identity.endpoints(service_id=service.id, interface=interface, region_id=REGION)
            )
            if not found:
                identity.create_endpoint(
                    service_id=service.id, interface=interface, url=url, region_id=REGION
                )
            elif found[0].url != url:
                identity.update_endpoint(found[0], url=url)


def ensure_user_fixtures(conn: Connection, config: TierConfig) -> None:
    """The de.NBI user, projects, flavors, quotas and base image."""
    identity: Any = conn.identity
    compute: Any = conn.compute
    member = _ensure_role(conn, "member")
    projects = [_ensure_project(conn, name, "de.NBI tier project") for name in PROJECTS]
    user = _ensure_user(conn, USER_NAME, config.secrets.user, projects[0])
    for project in projects:
        identity.assign_project_role_to_user(project, user, member)
        compute.update_quota_set(project.id, **QUOTAS)
    for spec in FLAVORS:
        if compute.find_flavor(spec.name) is None:
            compute.create_flavor(
                name=spec.name, vcpus=spec.vcpus, ram=spec.ram, disk=spec.disk, is_public=True
            )
    _ensure_base_image(conn)


def _ensure_base_image(conn: Connection) -> None:
    images: Any = conn.image
    existing = [image for image in images.images(name=BASE_IMAGE) if image.status == "active"]
    if existing:
        return
    for stale in images.images(name=BASE_IMAGE):
        images.delete_image(stale)
    images.create_image(
        BASE_IMAGE,
        data=qcow2_image(),
        disk_format="qcow2",
        container_format="bare",
        visibility="public",
        tags=["base_image"],
        allow_duplicates=True,
        wait=True,
        timeout=60,
        os_distro="ubuntu",
        os_version="24.04",
    )


def clouds_yaml(config: TierConfig) -> dict[str, Any]:
    """The clouds.yaml content: `openstack-real` (first project) and one entry per other."""
    clouds: dict[str, Any] = {}
    for index, project in enumerate(PROJECTS):
        name = CLOUD_NAME if index == 0 else f"{CLOUD_NAME}-{project}"
        clouds[name] = {
            "auth": {
                "auth_url": config.keystone_url,
                "username": USER_NAME,
                "password": config.secrets.user,
                "project_name": project,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "region_name": REGION,
            "identity_api_version": 3,
            "interface": "public",
            "denbi": {"site": name, **DENBI_SETTINGS, "local_cloud": False},
        }
    return {"clouds": clouds}


def write_clouds_yaml(config: TierConfig, path: Path | None = None) -> Path:
    """Writes clouds.yaml with mode 0600 (it holds the user's password)."""
    target = path or config.paths.clouds_yaml
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(clouds_yaml(config), handle, sort_keys=False)
    os.chmod(target, 0o600)
    return target
