"""``FakeCloud``: the real :class:`~denbi_jupyter.cloud.OpenStackCloud` over a :class:`FakeGateway`.

For UNIT tests of flows, jobs, panels and the CLI (integration tests use the local cloud). Every
rule (which images may be deleted, name checks, paging, the snapshot index, 409 guards) is the
real client's; only the services behind the gateway are in memory (see ``fake_gateway.py`` for
what they do). This module adds the knobs tests use to seed and script them::

    cloud = FakeCloud(project_name="my-project", other_projects={"p-other": "other-project"})
    img = cloud.add_image("Ubuntu-22.04", tags=["base_image"], properties={"os_distro": "ubuntu"})
    foreign = cloud.add_image("theirs", owner="p-other", visibility="shared")
    locked = cloud.add_snapshot("keep-me", protected=True)
    vm = cloud.add_server("vm1", status="SHUTOFF", flavor_name="de.NBI small")
    cloud.script_server(vm.id, [("ACTIVE", "powering-off"), ("SHUTOFF", None)])
    cloud.snapshot_outcome = "killed"           # or "active" (default), "vanish", "queued"
    cloud.fail_next("create_snapshot", ConflictError("busy"), times=2)
    cloud.conflict_next("delete_server")        # a 409 from the service behind that call
    cloud.add_flavor("de.NBI large", vcpus=8, ram_mb=32768, disk_gb=50)
    cloud.limits_value = Limits(...)
    cloud.calls                                 # [("create_snapshot", (server_id, name, {})), ...]
    cloud.gateway.calls                         # what reached the services, one per request

``images`` and ``servers`` are live views (id → domain object) of the services' records; assign
``cloud.images[id] = replace(image, created_at=...)`` to change a record. ``calls`` lists the
CloudClient calls made from outside (a call the client makes of itself is not listed).
``fail_next`` scripts the service call behind a client method (``create_snapshot`` fails the
Nova createImage, ``list_images`` the next Glance listing page, ``get_image`` every image read),
so the real client handles the failure; gateway method names are accepted too.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, TypeVar

from denbi_jupyter.cloud import OpenStackCloud, provenance
from denbi_jupyter.cloud._records import (
    GLANCE_BASE_FIELDS,
    flavor_from_nova,
    image_from_glance,
    keypair_from_nova,
    limits_from_nova,
    server_from_nova,
    snapshot_from_image,
)
from denbi_jupyter.cloud.types import (
    Flavor,
    Image,
    KeyPair,
    Limits,
    Server,
    SiteSettings,
    Snapshot,
)
from denbi_jupyter.errors import ConflictError, DenbiError

from .fake_gateway import FakeGateway, Record, glance_time
from .sites import fake_site

__all__ = ["FakeCloud"]

T = TypeVar("T")

#: CloudClient methods recorded in ``FakeCloud.calls``.
_RECORDED = (
    "project_names", "list_images", "find_image", "get_image", "find_images_by_property",
    "set_image_tags", "delete_image", "list_snapshots", "get_snapshot", "create_snapshot",
    "list_flavors", "find_flavor", "list_keypairs", "import_keypair", "list_servers",
    "find_server", "get_server", "create_server", "delete_server", "limits",
    "stop_server", "start_server", "reboot_server",
)  # fmt: skip
#: The service call that carries a CloudClient method (where it differs in name).
_GATEWAY_CALL: Mapping[str, str] = {
    "create_snapshot": "create_image",
    "list_images": "image_page",
    "list_snapshots": "image_page",
    "find_images_by_property": "image_page",
    "get_snapshot": "get_image",
    "set_image_tags": "replace_image_tags",
    "project_names": "auth_projects",
    "find_flavor": "list_flavors",
    "stop_server": "server_action",
    "start_server": "server_action",
    "reboot_server": "server_action",
}


# --- domain object → record (the inverse of cloud/_records.py, for test edits) ------------------
def _glance_record(image: Image, old: Mapping[str, Any]) -> Record:
    kept = {k: v for k, v in old.items() if k in GLANCE_BASE_FIELDS}
    return {
        **kept,
        "id": image.id,
        "name": image.name,
        "status": image.status,
        "visibility": image.visibility,
        "owner": image.owner,
        "protected": image.protected,
        "size": image.size,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "created_at": glance_time(image.created_at),
        "updated_at": glance_time(image.updated_at),
        "tags": list(image.tags),
        **image.properties,
    }


def _nova_record(server: Server, old: Mapping[str, Any]) -> Record:
    flavor: Any = old.get("flavor") or {}
    if server.flavor is not None:
        flavor = {
            "original_name": server.flavor.name,
            "vcpus": server.flavor.vcpus,
            "ram": server.flavor.ram_mb,
            "disk": server.flavor.disk_gb,
            "ephemeral": server.flavor.ephemeral_gb,
        }
    elif server.flavor_name:
        flavor = {**flavor, "original_name": server.flavor_name}
    ip = server.private_ipv4
    return {
        **old,
        "id": server.id,
        "name": server.name,
        "status": server.status,
        "OS-EXT-STS:task_state": server.task_state,
        "OS-EXT-STS:power_state": server.power_state,
        "tenant_id": server.project_id,
        "image": {"id": server.image_id} if server.image_id else "",
        "flavor": flavor,
        "key_name": server.key_name,
        "addresses": {"private": [{"version": 4, "addr": ip}]} if ip else {},
        "created": glance_time(server.created_at) if server.created_at else None,
        "metadata": dict(server.metadata),
        "fault": {"code": 500, "message": server.fault} if server.fault else None,
        "locked": server.locked,
    }


class _RecordView(MutableMapping[str, T]):
    """Records by id seen as domain objects; assigning one writes the record back."""

    def __init__(
        self,
        records: dict[str, Record],
        lock: threading.RLock,
        load: Callable[[Record], T],
        dump: Callable[[T, Mapping[str, Any]], Record],
    ) -> None:
        self._records, self._lock, self._load, self._dump = records, lock, load, dump

    def __getitem__(self, key: str) -> T:
        with self._lock:
            return self._load(dict(self._records[key]))

    def __setitem__(self, key: str, value: T) -> None:
        with self._lock:
            self._records[key] = self._dump(value, self._records.get(key, {}))

    def __delitem__(self, key: str) -> None:
        with self._lock:
            del self._records[key]

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)


class FakeCloud(OpenStackCloud):
    """The real client over an in-memory site; see the module docstring for its knobs.

    Args:
        site: The site settings to report (a made-up ``fake`` site by default).
        project_id: The current project's id.
        project_name: The current project's name.
        other_projects: Further projects the user can see (id → name).
        index_timeout: Seconds a name search waits for the snapshot index.
    """

    def __init__(
        self,
        *,
        site: SiteSettings | None = None,
        project_id: str = "p-own",
        project_name: str = "my-project",
        other_projects: Mapping[str, str] | None = None,
        index_timeout: float = 10.0,
    ) -> None:
        settings = site or fake_site()
        self._fake = FakeGateway(
            site=settings.name,
            project_id=project_id,
            project_name=project_name,
            other_projects=other_projects,
        )
        super().__init__(settings, self._fake, index_timeout=index_timeout)
        fake = self._fake
        #: Every CloudClient call made from outside, as (method, arguments), in order.
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._outer = threading.local()
        self.images: MutableMapping[str, Image] = _RecordView(
            fake.images, fake._lock, image_from_glance, _glance_record
        )
        self.servers: MutableMapping[str, Server] = _RecordView(
            fake.servers, fake._lock, server_from_nova, _nova_record
        )
        self.add_flavor("de.NBI mini", vcpus=1, ram_mb=2048, disk_gb=20)
        self.add_flavor("de.NBI small", vcpus=2, ram_mb=4096, disk_gb=20)

    @property
    def gateway(self) -> FakeGateway:
        """The in-memory services (records, ``calls`` per request, scripting)."""
        return self._fake

    # --- views and knobs ----------------------------------------------------------------------
    @property
    def flavors(self) -> Mapping[str, Flavor]:
        """Flavors by id."""
        return {key: flavor_from_nova(r) for key, r in self._fake.flavors.items()}

    @property
    def keypairs(self) -> Mapping[str, KeyPair]:
        """Key pairs by name."""
        return {key: keypair_from_nova(r) for key, r in self._fake.keypairs.items()}

    @property
    def limits_value(self) -> Limits:
        """What Nova's ``/limits`` answers."""
        return limits_from_nova(self._fake.absolute_limits)

    @limits_value.setter
    def limits_value(self, value: Limits) -> None:
        self._fake.absolute_limits = {
            "maxTotalInstances": value.max_instances,
            "totalInstancesUsed": value.used_instances,
            "maxTotalCores": value.max_cores,
            "totalCoresUsed": value.used_cores,
            "maxTotalRAMSize": value.max_ram_mb,
            "totalRAMUsed": value.used_ram_mb,
        }

    @property
    def snapshot_outcome(self) -> str:
        """How the next snapshots end: "active", "killed", "vanish" or "queued"."""
        return self._fake.snapshot_outcome

    @snapshot_outcome.setter
    def snapshot_outcome(self, value: str) -> None:
        self._fake.snapshot_outcome = value

    def script_server(self, server_id: str, steps: Sequence[tuple[str, str | None]]) -> None:
        """Make each ``get_server`` take the next (status, task_state); the last one sticks."""
        self._fake.script_server(server_id, steps)

    def fail_next(self, method: str, error: DenbiError, *, times: int = 1) -> None:
        """Make the next ``times`` service calls behind ``method`` raise ``error``."""
        self._fake.fail_next(_GATEWAY_CALL.get(method, method), error, times=times)

    def conflict_next(self, method: str, *, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` fail as an HTTP 409 would."""
        self.fail_next(
            method,
            ConflictError(f"{self.site.name} cannot do {method} right now (injected 409)."),
            times=times,
        )

    # --- seeding ------------------------------------------------------------------------------
    def add_image(
        self,
        name: str,
        *,
        tags: Sequence[str] = (),
        properties: Mapping[str, str] | None = None,
        owner: str | None = None,
        visibility: str = "public",
        protected: bool = False,
        status: str = "active",
        size: int | None = 2 * 1024**3,
        min_disk: int = 0,
        image_id: str | None = None,
    ) -> Image:
        """Add a Glance image (owned by the current project unless ``owner`` says otherwise)."""
        new_id, now = self._fake.next_id("image")
        record = self._fake.put_image(
            {
                "id": image_id or new_id,
                "name": name,
                "status": status,
                "visibility": visibility,
                "owner": owner or self._fake.project_id,
                "protected": protected,
                "size": size,
                "min_disk": min_disk,
                "min_ram": 0,
                "container_format": "bare",
                "disk_format": "qcow2",
                "created_at": now,
                "updated_at": now,
                "tags": sorted(tags),
                **(properties or {}),
            }
        )
        return image_from_glance(record)

    def add_snapshot(
        self,
        name: str,
        *,
        owner: str | None = None,
        protected: bool = False,
        status: str = "active",
        visibility: str = "private",
        properties: Mapping[str, str] | None = None,
        tags: Sequence[str] = (),
        size: int | None = 1024**3,
    ) -> Snapshot:
        """Add a snapshot image (``image_type=snapshot``) and return its snapshot view."""
        owner_id = owner or self._fake.project_id
        projects = self._fake.projects
        props = {
            "image_type": "snapshot",
            provenance.OWNER_PROJECT_NAME: projects.get(owner_id, owner_id),
            **(properties or {}),
        }
        image = self.add_image(
            name,
            tags=tags,
            properties=props,
            owner=owner_id,
            visibility=visibility,
            protected=protected,
            status=status,
            size=size,
        )
        return snapshot_from_image(image, projects)

    def add_server(
        self,
        name: str,
        *,
        status: str = "ACTIVE",
        task_state: str | None = None,
        image_id: str | None = None,
        flavor_name: str = "de.NBI small",
        key_name: str | None = None,
        private_ipv4: str | None = "192.168.1.10",
        metadata: Mapping[str, str] | None = None,
    ) -> Server:
        """Add a server of the current project (booted from ``image_id``, if given)."""
        record = self._fake.new_server_record(
            name=name,
            status=status,
            task_state=task_state,
            image_id=image_id,
            flavor_ref=flavor_name,
            key_name=key_name,
            private_ipv4=private_ipv4,
            metadata=metadata or {},
        )
        self._fake.put_server(record, boot_properties=self._fake.boot_properties_of(image_id))
        return server_from_nova(record)

    def add_flavor(
        self, name: str, *, vcpus: int, ram_mb: int, disk_gb: int, ephemeral_gb: int = 0
    ) -> Flavor:
        """Add a flavor."""
        new_id, _ = self._fake.next_id("flavor")
        record = {
            "id": new_id,
            "name": name,
            "vcpus": vcpus,
            "ram": ram_mb,
            "disk": disk_gb,
            "OS-FLV-EXT-DATA:ephemeral": ephemeral_gb,
        }
        self._fake.put_flavor(record)
        return flavor_from_nova(record)


def _recorded(name: str) -> Callable[..., Any]:
    method = getattr(OpenStackCloud, name)
    signature = inspect.signature(method)

    @functools.wraps(method)
    def call(self: FakeCloud, *args: Any, **kwargs: Any) -> Any:
        if getattr(self._outer, "active", False):
            return method(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        self.calls.append((name, tuple(bound.arguments.values())[1:]))
        self._outer.active = True
        try:
            return method(self, *args, **kwargs)
        finally:
            self._outer.active = False

    return call


for _name in _RECORDED:
    setattr(FakeCloud, _name, _recorded(_name))
del _name

#: Server-metadata calls (issue 11), recorded like the calls above.
for _name in ("set_server_metadata", "delete_server_metadata"):
    setattr(FakeCloud, _name, _recorded(_name))
del _name
