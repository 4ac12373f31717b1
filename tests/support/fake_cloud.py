"""``FakeCloud``: an in-memory, deterministic :class:`~denbi_jupyter.cloud.CloudClient`.

For UNIT tests of flows, jobs, panels and the CLI (integration tests use the local cloud). It
keeps the protocol's promises: the same errors for the same situations (protected and foreign
images are refused, 409 while a server snapshots, NotFoundError for unknown names), snapshots
paged/filtered/sorted exactly like the real index, and state that changes as a real cloud's
does, one step per read.

Knobs (all public, all optional)::

    cloud = FakeCloud(project_name="my-project", other_projects={"p-other": "other-project"})
    img = cloud.add_image("Ubuntu-22.04", tags=["base_image"], properties={"os_distro": "ubuntu"})
    foreign = cloud.add_image("theirs", owner="p-other", visibility="shared")
    locked = cloud.add_snapshot("keep-me", protected=True)
    vm = cloud.add_server("vm1", status="SHUTOFF", flavor_name="de.NBI small")
    cloud.script_server(vm.id, [("ACTIVE", "powering-off"), ("SHUTOFF", None)])
    cloud.snapshot_outcome = "killed"           # or "active" (default), "vanish", "queued"
    cloud.fail_next("create_snapshot", ConflictError("busy"), times=2)
    cloud.conflict_next("delete_server")        # shorthand for a 409-style ConflictError
    cloud.add_flavor("de.NBI large", vcpus=8, ram_mb=32768, disk_gb=50)
    cloud.limits_value = Limits(...)
    cloud.calls                                 # [("create_snapshot", (server_id, name)), ...]

Progressions, one step per read:

- ``create_server``: ``get_server`` returns BUILD/scheduling, BUILD/spawning, then ACTIVE.
- ``create_snapshot``: the server's ``task_state`` goes ``image_snapshot_pending`` →
  ``image_snapshot`` → ``image_uploading`` → None (one step per ``get_server``), the image
  ``queued`` → ``saving`` → ``active`` (one step per ``get_image``/``get_snapshot``), or ends
  as ``snapshot_outcome`` says: ``killed``, ``vanish`` (then reads give None) or ``queued``
  (stays queued forever). A second ``create_snapshot`` while the server's task_state is set
  raises ConflictError, as Nova does.
- ``script_server(id, steps)``: any (status, task_state) sequence; the last step sticks.

Ids are deterministic UUIDs; timestamps start at 2026-01-01 00:00 UTC and advance one minute per
created object, so ordering tests are stable.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from denbi_jupyter.cloud._records import snapshot_from_image
from denbi_jupyter.cloud.classify import classify
from denbi_jupyter.cloud.index import (
    MemorySnapshotIndex,
    matches_text,
    page_of,
    sort_snapshots,
    validate_query,
)
from denbi_jupyter.cloud.types import (
    Flavor,
    Image,
    ImageQuery,
    KeyPair,
    Limits,
    Page,
    Server,
    SiteSettings,
    Snapshot,
    SnapshotQuery,
)
from denbi_jupyter.errors import (
    ConflictError,
    DenbiError,
    NotFoundError,
    PermissionDeniedError,
    UserInputError,
)

__all__ = ["FakeCloud"]

_NAMESPACE = uuid.UUID("6f1c2a7e-0000-4000-8000-000000000000")
_START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_SNAPSHOT_TASK_STATES: tuple[str | None, ...] = (
    "image_snapshot_pending",
    "image_snapshot",
    "image_uploading",
    None,
)
_BOOT_STEPS: tuple[tuple[str, str | None], ...] = (
    ("BUILD", "scheduling"),
    ("BUILD", "spawning"),
    ("ACTIVE", None),
)
_ALL_IMAGES = ImageQuery()


def _default_site() -> SiteSettings:
    return SiteSettings(
        name="fake",
        region="Fake",
        auth_url="http://fake.invalid/identity/v3",
        gateway_host="192.0.2.1",
        ssh_port_formula="30000 + 256*oct3 + oct4",
        guacamole_base_url="https://guacamole.fake.invalid/guacamole",
        ssh_user="ubuntu",
    )


class FakeCloud:
    """An in-memory site for unit tests; see the module docstring for its knobs.

    Args:
        site: The site settings to report (a made-up ``fake`` site by default).
        project_id: The current project's id.
        project_name: The current project's name.
        other_projects: Further projects the user can see (id → name).
    """

    def __init__(
        self,
        *,
        site: SiteSettings | None = None,
        project_id: str = "p-own",
        project_name: str = "my-project",
        other_projects: Mapping[str, str] | None = None,
    ) -> None:
        self._site = site or _default_site()
        self._project_id = project_id
        self._project_name = project_name
        self._projects = {project_id: project_name, **(other_projects or {})}
        self._lock = threading.RLock()
        self._counter = 0
        self.images: dict[str, Image] = {}
        self.servers: dict[str, Server] = {}
        self.flavors: dict[str, Flavor] = {}
        self.keypairs: dict[str, KeyPair] = {}
        self.limits_value = Limits(
            max_instances=10,
            used_instances=0,
            max_cores=32,
            used_cores=0,
            max_ram_mb=65536,
            used_ram_mb=0,
        )
        #: How the next snapshots end: "active", "killed", "vanish" or "queued".
        self.snapshot_outcome = "active"
        #: Every protocol call as (method, key arguments), in order.
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._server_scripts: dict[str, deque[tuple[str, str | None]]] = {}
        self._image_scripts: dict[str, deque[str | None]] = {}
        self._failures: dict[str, deque[DenbiError]] = {}
        self._index: MemorySnapshotIndex | None = None
        self.add_flavor("de.NBI mini", vcpus=1, ram_mb=2048, disk_gb=20)
        self.add_flavor("de.NBI small", vcpus=2, ram_mb=4096, disk_gb=20)

    # --- knobs --------------------------------------------------------------------------------
    def _next(self, kind: str) -> tuple[str, dt.datetime]:
        with self._lock:
            self._counter += 1
            return (
                str(uuid.uuid5(_NAMESPACE, f"{kind}-{self._counter}")),
                _START + dt.timedelta(minutes=self._counter),
            )

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
        """Add an image (owned by the current project unless ``owner`` says otherwise)."""
        new_id, now = self._next("image")
        props = dict(properties or {})
        image = Image(
            id=image_id or new_id,
            name=name,
            status=status,
            visibility=visibility,
            owner=owner or self._project_id,
            protected=protected,
            size=size,
            min_disk=min_disk,
            min_ram=0,
            created_at=now,
            updated_at=now,
            tags=tuple(sorted(tags)),
            properties=props,
            kind=classify(name, tags, props),
        )
        with self._lock:
            self.images[image.id] = image
        return image

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
        owner_id = owner or self._project_id
        props = {
            "image_type": "snapshot",
            "owner_project_name": self._projects.get(owner_id, owner_id),
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
        return snapshot_from_image(image, self._projects)

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
        """Add a server of the current project."""
        new_id, now = self._next("server")
        flavor = next((f for f in self.flavors.values() if f.name == flavor_name), None)
        server = Server(
            id=new_id,
            name=name,
            status=status,
            task_state=task_state,
            project_id=self._project_id,
            image_id=image_id,
            flavor_id=flavor.id if flavor else None,
            flavor_name=flavor_name,
            key_name=key_name,
            private_ipv4=private_ipv4,
            created_at=now,
            metadata=dict(metadata or {}),
            power_state=1 if status == "ACTIVE" else 4,
        )
        with self._lock:
            self.servers[server.id] = server
        return server

    def add_flavor(
        self, name: str, *, vcpus: int, ram_mb: int, disk_gb: int, ephemeral_gb: int = 0
    ) -> Flavor:
        """Add a flavor."""
        new_id, _ = self._next("flavor")
        flavor = Flavor(new_id, name, vcpus, ram_mb, disk_gb, ephemeral_gb)
        with self._lock:
            self.flavors[flavor.id] = flavor
        return flavor

    def script_server(self, server_id: str, steps: Sequence[tuple[str, str | None]]) -> None:
        """Make each ``get_server`` take the next (status, task_state); the last one sticks."""
        with self._lock:
            self._server_scripts[server_id] = deque(steps)

    def fail_next(self, method: str, error: DenbiError, *, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` raise ``error`` (nothing else happens)."""
        with self._lock:
            self._failures.setdefault(method, deque()).extend([error] * times)

    def conflict_next(self, method: str, *, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` fail as an HTTP 409 would."""
        self.fail_next(
            method,
            ConflictError(f"{self._site.name} cannot do {method} right now (injected 409)."),
            times=times,
        )

    def _enter(self, method: str, *args: Any) -> None:
        with self._lock:
            self.calls.append((method, args))
            pending = self._failures.get(method)
            if pending:
                raise pending.popleft()

    # --- identity -----------------------------------------------------------------------------
    @property
    def site(self) -> SiteSettings:
        """The site this client speaks to."""
        return self._site

    @property
    def project_id(self) -> str:
        """The current project's id."""
        return self._project_id

    @property
    def project_name(self) -> str:
        """The current project's name."""
        return self._project_name

    def project_names(self) -> Mapping[str, str]:
        """Project id → name."""
        self._enter("project_names")
        return dict(self._projects)

    # --- images -------------------------------------------------------------------------------
    def _advance_image(self, image_id: str) -> Image | None:
        with self._lock:
            script = self._image_scripts.get(image_id)
            image = self.images.get(image_id)
            if script and image is not None:
                status = script.popleft() if len(script) > 1 else script[0]
                if status is None:
                    del self.images[image_id]
                    self._image_scripts.pop(image_id, None)
                    return None
                image = replace(image, status=status)
                self.images[image_id] = image
            return image

    def list_images(self, query: ImageQuery | None = None) -> list[Image]:
        """Active images matching ``query``, newest first."""
        query = query or _ALL_IMAGES
        self._enter("list_images", query)
        needle = query.text.strip().lower()
        family = (query.os_family or "").lower()
        with self._lock:
            images = sorted(self.images.values(), key=lambda i: i.created_at, reverse=True)
        found = []
        for image in images:
            kind = image.kind
            if image.status != "active":
                continue
            if image.is_snapshot and not query.include_snapshots:
                continue
            if query.base_only and not kind.is_base:
                continue
            if query.desktop is not None and kind.desktop is not query.desktop:
                continue
            if query.research_only and kind.research_environment is None:
                continue
            if family and kind.os_family != family:
                continue
            haystack = f"{image.name}\0{kind.label}\0{' '.join(image.tags)}".lower()
            if needle and needle not in haystack:
                continue
            found.append(image)
        return found

    def find_image(self, name_or_id: str) -> Image:
        """The image with this id or exact name."""
        self._enter("find_image", name_or_id)
        with self._lock:
            if name_or_id in self.images:
                return self.images[name_or_id]
            named = [i for i in self.images.values() if i.name == name_or_id]
        active = [i for i in named if i.status == "active"] or named
        if not active:
            raise NotFoundError(f"{self._site.name} has no image named {name_or_id!r}.")
        if len(active) > 1:
            raise UserInputError(f"{len(active)} images are named {name_or_id!r}: use the id.")
        return active[0]

    def get_image(self, image_id: str) -> Image | None:
        """The image by id (advancing a scripted snapshot one step), or None."""
        self._enter("get_image", image_id)
        return self._advance_image(image_id)

    def find_images_by_property(self, key: str, value: str) -> list[Image]:
        """Images whose property (or base field ``name``/``status``/``owner``) equals ``value``."""
        self._enter("find_images_by_property", key, value)
        with self._lock:
            images = list(self.images.values())
        base = {"name", "status", "owner", "visibility", "id"}
        if key in base:
            return [i for i in images if str(getattr(i, key)) == value]
        return [i for i in images if i.properties.get(key) == value]

    def set_image_tags(self, image_id: str, tags: Sequence[str]) -> None:
        """Replace the image's tags."""
        self._enter("set_image_tags", image_id, tuple(tags))
        with self._lock:
            image = self.images.get(image_id)
            if image is None:
                raise NotFoundError(f"Image {image_id} does not exist.")
            clean = tuple(sorted(dict.fromkeys(t.strip() for t in tags if t.strip())))
            self.images[image_id] = replace(image, tags=clean)

    def delete_image(self, image_id: str) -> None:
        """Delete an image; protected and other projects' images are refused."""
        self._enter("delete_image", image_id)
        with self._lock:
            image = self.images.get(image_id)
            if image is None:
                raise NotFoundError(f"Image {image_id} does not exist (deleted already?).")
            if image.protected:
                raise PermissionDeniedError(f"Image {image.name!r} is protected.")
            if image.owner != self._project_id:
                raise PermissionDeniedError(
                    f"Image {image.name!r} belongs to another project: only its owner can "
                    "delete it."
                )
            del self.images[image_id]
        if self._index is not None:
            self._index.forget([image_id])

    # --- snapshots ----------------------------------------------------------------------------
    def _snapshots(self) -> list[Snapshot]:
        with self._lock:
            return [
                snapshot_from_image(image, self._projects)
                for image in self.images.values()
                if image.is_snapshot
            ]

    def list_snapshots(self, query: SnapshotQuery) -> Page[Snapshot]:
        """Filter, sort and page the snapshots exactly as the real index does."""
        self._enter("list_snapshots", query)
        validate_query(query)
        snapshots = [
            s
            for s in self._snapshots()
            if matches_text(s, query.text)
            and (not query.own_only or s.project_id == self._project_id)
        ]
        return page_of(sort_snapshots(snapshots, query.sort), query)

    def get_snapshot(self, image_id: str) -> Snapshot | None:
        """The snapshot view of an image (advancing a scripted snapshot one step), or None."""
        self._enter("get_snapshot", image_id)
        image = self._advance_image(image_id)
        return None if image is None else snapshot_from_image(image, self._projects)

    def snapshot_index(self) -> MemorySnapshotIndex:
        """An index over the fake's snapshots (one per fake)."""
        with self._lock:
            if self._index is None:
                self._index = MemorySnapshotIndex(
                    lambda: [self._snapshots()],
                    project_id=lambda: self._project_id,
                    site=self._site.name,
                )
            return self._index

    def create_snapshot(self, server_id: str, *, name: str, metadata: Mapping[str, str]) -> str:
        """Start a scripted snapshot; ConflictError while the server is busy."""
        self._enter("create_snapshot", server_id, name)
        if not name.strip():
            raise UserInputError("The snapshot name is empty: type a name.")
        server = self._peek_server(server_id)
        if server.task_state:
            raise ConflictError(
                f"Cannot 'createImage' instance {server_id} while it is in task_state "
                f"{server.task_state}: wait until it finishes."
            )
        properties = {
            "image_type": "snapshot",
            "instance_uuid": server_id,
            "owner_project_name": self._project_name,
            **({"base_image_ref": server.image_id} if server.image_id else {}),
            **{str(k): str(v) for k, v in metadata.items()},
        }
        image = self.add_image(
            name.strip(),
            properties=properties,
            visibility="private",
            status="queued",
            size=None,
            min_disk=20,
        )
        ends: dict[str, tuple[str | None, ...]] = {
            "active": ("queued", "saving", "active"),
            "killed": ("queued", "saving", "killed"),
            "vanish": ("queued", "saving", None),
            "queued": ("queued",),
        }
        with self._lock:
            self._image_scripts[image.id] = deque(ends[self.snapshot_outcome])
            self.servers[server_id] = replace(server, task_state=_SNAPSHOT_TASK_STATES[0])
            self._server_scripts[server_id] = deque(
                (server.status, state) for state in _SNAPSHOT_TASK_STATES
            )
        return image.id

    # --- compute ------------------------------------------------------------------------------
    def list_flavors(self) -> list[Flavor]:
        """Flavors, smallest first."""
        self._enter("list_flavors")
        with self._lock:
            flavors = list(self.flavors.values())
        return sorted(flavors, key=lambda f: (f.vcpus, f.ram_mb, f.disk_gb, f.name))

    def find_flavor(self, name_or_id: str) -> Flavor:
        """A flavor by id or name."""
        self._enter("find_flavor", name_or_id)
        for flavor in self.flavors.values():
            if name_or_id in (flavor.id, flavor.name):
                return flavor
        raise NotFoundError(f"{self._site.name} has no flavor {name_or_id!r}.")

    def list_keypairs(self) -> list[KeyPair]:
        """Key pairs by name."""
        self._enter("list_keypairs")
        return sorted(self.keypairs.values(), key=lambda k: k.name)

    def import_keypair(self, name: str, public_key: str) -> KeyPair:
        """Import a public key; ConflictError when the name is taken."""
        self._enter("import_keypair", name)
        if "PRIVATE KEY" in public_key or not public_key.strip().startswith(("ssh-", "ecdsa-")):
            raise UserInputError("That is not an OpenSSH public key.")
        with self._lock:
            if name in self.keypairs:
                raise ConflictError(f"Key pair {name!r} already exists.")
            pair = KeyPair(name=name, fingerprint=f"fa:ke:{len(self.keypairs):02d}")
            self.keypairs[name] = pair
        return pair

    def list_servers(self) -> list[Server]:
        """The servers, newest first (no progression)."""
        self._enter("list_servers")
        with self._lock:
            servers = list(self.servers.values())
        return sorted(servers, key=lambda s: s.created_at or _START, reverse=True)

    def find_server(self, name_or_id: str) -> Server:
        """A server by id or exact name."""
        self._enter("find_server", name_or_id)
        with self._lock:
            if name_or_id in self.servers:
                return self.servers[name_or_id]
            named = [s for s in self.servers.values() if s.name == name_or_id]
        if not named:
            raise NotFoundError(f"{self._site.name} has no server {name_or_id!r}.")
        if len(named) > 1:
            raise UserInputError(f"{len(named)} servers are named {name_or_id!r}: use the id.")
        return named[0]

    def _peek_server(self, server_id: str) -> Server:
        with self._lock:
            server = self.servers.get(server_id)
        if server is None:
            raise NotFoundError(f"Server {server_id} does not exist.")
        return server

    def get_server(self, server_id: str) -> Server | None:
        """The server (advancing its script one step), or None."""
        self._enter("get_server", server_id)
        with self._lock:
            server = self.servers.get(server_id)
            script = self._server_scripts.get(server_id)
            if server is None or not script:
                return server
            status, task_state = script.popleft() if len(script) > 1 else script[0]
            server = replace(server, status=status, task_state=task_state)
            self.servers[server_id] = server
            return server

    def create_server(
        self,
        *,
        name: str,
        image_id: str,
        flavor_id: str,
        key_name: str | None,
        metadata: Mapping[str, str] | None = None,
    ) -> Server:
        """Boot a scripted server: BUILD, BUILD, then ACTIVE over three reads."""
        self._enter("create_server", name, image_id, flavor_id)
        if not name.strip():
            raise UserInputError("The server name is empty: type a name.")
        flavor = self.flavors.get(flavor_id)
        if flavor is None:
            raise NotFoundError(f"Flavor {flavor_id} does not exist.")
        server = self.add_server(
            name.strip(),
            status="BUILD",
            task_state="scheduling",
            image_id=image_id,
            flavor_name=flavor.name,
            key_name=key_name,
            metadata=metadata,
        )
        self.script_server(server.id, _BOOT_STEPS)
        return server

    def delete_server(self, server_id: str) -> None:
        """Delete a server; ConflictError while a snapshot of it is being taken."""
        self._enter("delete_server", server_id)
        server = self._peek_server(server_id)
        if server.task_state and server.task_state.startswith("image_"):
            raise ConflictError(
                f"Server {server.name!r} is taking a snapshot ({server.task_state}): wait."
            )
        with self._lock:
            del self.servers[server_id]
            self._server_scripts.pop(server_id, None)

    def limits(self) -> Limits:
        """``limits_value``."""
        self._enter("limits")
        return self.limits_value
