"""``FakeGateway``: an in-memory Keystone, Glance and Nova behind the gateway's interface.

It keeps raw API records (Glance image JSON, Nova server/flavor/key-pair JSON) and answers each
:class:`~denbi_jupyter.cloud._gateway.CloudGateway` call the way the services do, turning records
into domain objects with the same functions the real gateway uses (``cloud/_records.py``). No
rule of :class:`~denbi_jupyter.cloud.client.OpenStackCloud` is repeated here: the fake is what the
client talks to, not a second client.

What the services do, and so the fake:

- Glance ``GET /v2/images``: visibility as seen by the token's project (public, own, shared with
  it), exact filters on base fields (``name``/``id``/``status`` also as ``in:a,b``), ``owner``,
  ``tag`` (all must match), any other key as a custom property; ``sort=key:dir,…`` or
  ``sort_key``/``sort_dir`` with ``created_at``/``id`` tie-breakers; ``limit`` (default 25, at
  most 1000) and ``marker`` paging, a next marker when the page is full; an unknown marker is a
  400. ``show`` of an invisible image is a 404 (None).
- Glance ``DELETE``: 403 for protected images and for other projects' images, 404 if missing.
- Nova ``createImage``: 409 while the server has a task_state or is not at rest/active; the new
  image inherits the properties the server was booted with and gets Nova's own
  (``image_type=snapshot``, ``instance_uuid``, ``base_image_ref``, ``owner_project_name``) and
  the request's metadata. Nova deletes a server whatever its task_state.
- Errors are the ones :func:`~denbi_jupyter.cloud._openstack.map_error` makes of the HTTP
  answer the real service gives, so messages match the real gateway's.

Scripting, one step per read (``get_server`` / ``get_image``): a created server goes BUILD,
BUILD, ACTIVE; a snapshot's server task_state goes ``image_snapshot_pending`` → ``image_snapshot``
→ ``image_uploading`` → None and its image ``queued`` → ``saving`` → ``active`` or as
``snapshot_outcome`` says (``killed``, ``vanish``: then 404, ``queued``: forever).
``script_server`` sets any sequence; ``fail_next`` makes the next calls of a gateway method
raise. ``calls`` lists every gateway call (one per request or paged listing).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import re
import threading
import uuid
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from openstack import exceptions as os_exc

from denbi_jupyter.cloud import provenance
from denbi_jupyter.cloud._openstack import ImagePage, map_error
from denbi_jupyter.cloud._records import (
    GLANCE_BASE_FIELDS,
    flavor_from_nova,
    image_from_glance,
    keypair_from_nova,
    limits_from_nova,
    parse_time,
    server_from_nova,
)
from denbi_jupyter.cloud.types import Flavor, Image, KeyPair, Limits, Server
from denbi_jupyter.errors import DenbiError
from denbi_jupyter.localcloud.glance_query import DEFAULT_LIMIT, MAX_LIMIT, SORT_KEYS, split_in_list
from denbi_jupyter.localcloud.responses import ApiError
from tests.support.fake_nova_actions import plan_action

__all__ = ["SNAPSHOT_OUTCOMES", "FakeGateway", "glance_time"]

Record = dict[str, Any]

_NAMESPACE = uuid.UUID("6f1c2a7e-0000-4000-8000-000000000000")
_START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_IN_FIELDS = frozenset({"name", "id", "status", "container_format", "disk_format"})
_PAGING = frozenset({"limit", "marker", "sort", "sort_key", "sort_dir"})
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
#: How a snapshot's Glance status goes, per ``snapshot_outcome`` (None: the image vanishes).
SNAPSHOT_OUTCOMES: Mapping[str, tuple[str | None, ...]] = {
    "active": ("queued", "saving", "active"),
    "killed": ("queued", "saving", "killed"),
    "vanish": ("queued", "saving", None),
    "queued": ("queued",),
}
_SNAPSHOTTABLE = frozenset({"ACTIVE", "SHUTOFF", "PAUSED", "SUSPENDED"})
_POWER = {"ACTIVE": 1, "PAUSED": 3, "SHUTOFF": 4, "SUSPENDED": 7}


def glance_time(moment: dt.datetime) -> str:
    """A timestamp as Glance and Nova write it (``2026-01-01T00:01:00Z``)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _http(status: int, detail: str, *, site: str, action: str) -> DenbiError:
    """Our error for an HTTP answer, made exactly as the real gateway makes it."""
    return map_error(
        os_exc.HttpException(message=detail, details=detail, http_status=status),
        site=site,
        action=action,
    )


def _sort_pairs(params: Mapping[str, str]) -> list[tuple[str, str]]:
    if "sort" in params:
        pairs = []
        for part in params["sort"].split(","):
            key, _, direction = part.strip().partition(":")
            pairs.append((key.strip(), direction.strip() or "desc"))
    else:
        keys = [k for k in params.get("sort_key", "").split(",") if k]
        direction = params.get("sort_dir", "desc")
        pairs = [(key, direction) for key in keys] or [("created_at", direction)]
    for key, direction in pairs:
        if key not in SORT_KEYS or direction not in ("asc", "desc"):
            raise ValueError(f"Invalid sort: {key}:{direction}")
    for extra in ("created_at", "id"):
        if all(key != extra for key, _ in pairs):
            pairs.append((extra, "desc"))
    return pairs


def _sort_value(record: Record, key: str) -> Any:
    value = record.get(key)
    if key in ("created_at", "updated_at"):
        return parse_time(value) or _START
    if key == "size":
        return -1 if value is None else value
    return "" if value is None else str(value)


def _ordered(records: Iterable[Record], pairs: Sequence[tuple[str, str]]) -> list[Record]:
    ordered = list(records)
    for key, direction in reversed(pairs):
        ordered.sort(key=functools.partial(_sort_value, key=key), reverse=direction == "desc")
    return ordered


def _matches(record: Record, name: str, value: str, tags: Sequence[str]) -> bool:
    if name in _IN_FIELDS:
        wanted = split_in_list(value[3:]) if value.startswith("in:") else [value]
        return str(record.get(name) or "") in wanted
    if name == "protected":
        return str(bool(record.get("protected"))).lower() == value.lower()
    if name == "tag":
        return all(tag in (record.get("tags") or ()) for tag in tags)
    found = record.get(name)
    return found is not None and str(found) == value


def _fingerprint(public_key: str) -> str:
    """Nova's MD5 fingerprint of the key blob (of the whole line when the blob is not base64)."""
    fields = public_key.split()
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (IndexError, binascii.Error, ValueError):
        blob = public_key.encode()
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


class FakeGateway:
    """Keystone, Glance and Nova of one project on one site, in memory and deterministic.

    Args:
        site: The site name used in error messages.
        project_id: The token's project id.
        project_name: Its name.
        other_projects: Further projects the user may scope to (id → name).
    """

    def __init__(
        self,
        *,
        site: str = "fake",
        project_id: str = "p-own",
        project_name: str = "my-project",
        other_projects: Mapping[str, str] | None = None,
    ) -> None:
        self.site = site
        self.project_id = project_id
        self.project_name = project_name
        self.projects: dict[str, str] = {project_id: project_name, **(other_projects or {})}
        #: Glance image records by id; ``members`` lists who a shared image is shared with.
        self.images: dict[str, Record] = {}
        self.members: dict[str, set[str]] = {}
        #: Nova records: servers by id, flavors by id, key pairs by name.
        self.servers: dict[str, Record] = {}
        self.flavors: dict[str, Record] = {}
        self.keypairs: dict[str, Record] = {}
        #: Nova's ``limits.absolute``.
        self.absolute_limits: dict[str, int] = {
            "maxTotalInstances": 10,
            "totalInstancesUsed": 0,
            "maxTotalCores": 32,
            "totalCoresUsed": 0,
            "maxTotalRAMSize": 65536,
            "totalRAMUsed": 0,
        }
        #: Nova's ``metadata_items`` quota (items per server).
        self.metadata_items = 128
        #: How the next snapshots end: a key of :data:`SNAPSHOT_OUTCOMES`.
        self.snapshot_outcome = "active"
        #: Every gateway call as (method, arguments), in order.
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.closed = False
        self._lock = threading.RLock()
        self._counter = 0
        self._boot_properties: dict[str, dict[str, Any]] = {}
        self._server_scripts: dict[str, deque[tuple[str, str | None]]] = {}
        self._image_scripts: dict[str, deque[str | None]] = {}
        self._failures: dict[str, deque[DenbiError]] = {}

    # --- scripting ----------------------------------------------------------------------------
    def next_id(self, kind: str) -> tuple[str, str]:
        """A deterministic (uuid, timestamp) pair; time moves one minute per object."""
        with self._lock:
            self._counter += 1
            moment = _START + dt.timedelta(minutes=self._counter)
            return str(uuid.uuid5(_NAMESPACE, f"{kind}-{self._counter}")), glance_time(moment)

    def fail_next(self, method: str, error: DenbiError, *, times: int = 1) -> None:
        """Make the next ``times`` calls of gateway ``method`` raise ``error`` (and do nothing)."""
        if not callable(getattr(self, method, None)):
            raise ValueError(f"FakeGateway has no method {method!r}")
        with self._lock:
            self._failures.setdefault(method, deque()).extend([error] * times)

    def script_server(self, server_id: str, steps: Sequence[tuple[str, str | None]]) -> None:
        """Make each ``get_server`` take the next (status, task_state); the last one sticks."""
        with self._lock:
            self._server_scripts[server_id] = deque(steps)

    def _enter(self, method: str, *args: Any) -> None:
        with self._lock:
            self.calls.append((method, args))
            pending = self._failures.get(method)
            if pending:
                raise pending.popleft()

    def _error(self, status: int, detail: str, action: str) -> DenbiError:
        return _http(status, detail, site=self.site, action=action)

    def _remove(self, table: dict[str, Record], key: str, missing: str, action: str) -> None:
        """Delete ``table[key]`` (hold the lock); a 404 saying ``missing`` when there is none."""
        if table.pop(key, None) is None:
            raise self._error(404, missing, action)

    # --- seeding (raw records) ----------------------------------------------------------------
    def put_image(self, record: Mapping[str, Any], *, shared_with: Iterable[str] = ()) -> Record:
        """Store a Glance record as is (a foreign shared image is shared with this project)."""
        stored = dict(record)
        with self._lock:
            self.images[str(stored["id"])] = stored
            members = set(shared_with)
            if stored.get("visibility") == "shared" and stored.get("owner") != self.project_id:
                members.add(self.project_id)
            if members:
                self.members[str(stored["id"])] = members
        return stored

    def put_server(self, record: Mapping[str, Any], *, boot_properties: Mapping[str, Any]) -> None:
        """Store a Nova server record and the image properties it was booted with."""
        with self._lock:
            self.servers[str(record["id"])] = dict(record)
            self._boot_properties[str(record["id"])] = dict(boot_properties)

    def put_flavor(self, record: Mapping[str, Any]) -> None:
        """Store a Nova flavor record."""
        with self._lock:
            self.flavors[str(record["id"])] = dict(record)

    def embedded_flavor(self, flavor_ref: str) -> dict[str, Any]:
        """The flavor as Nova embeds it in a server (>= 2.47: no id), by id or name."""
        flavor = self.flavors.get(flavor_ref) or next(
            (f for f in self.flavors.values() if f.get("name") == flavor_ref), None
        )
        if flavor is None:
            return {"original_name": flavor_ref}
        return {
            "original_name": flavor["name"],
            "vcpus": flavor.get("vcpus", 0),
            "ram": flavor.get("ram", 0),
            "disk": flavor.get("disk", 0),
            "ephemeral": flavor.get("OS-FLV-EXT-DATA:ephemeral", 0),
            "swap": 0,
            "extra_specs": {},
        }

    def new_server_record(
        self,
        *,
        name: str,
        status: str,
        task_state: str | None,
        image_id: str | None,
        flavor_ref: str,
        key_name: str | None,
        private_ipv4: str | None,
        metadata: Mapping[str, str],
    ) -> Record:
        """A Nova server record (microversion 2.100 shape) of this project."""
        server_id, now = self.next_id("server")
        addresses = (
            {"private": [{"version": 4, "addr": private_ipv4, "OS-EXT-IPS:type": "fixed"}]}
            if private_ipv4
            else {}
        )
        return {
            "id": server_id,
            "name": name,
            "status": status,
            "OS-EXT-STS:task_state": task_state,
            "OS-EXT-STS:power_state": _POWER.get(status, 0),
            "tenant_id": self.project_id,
            "image": {"id": image_id} if image_id else "",
            "flavor": self.embedded_flavor(flavor_ref),
            "key_name": key_name,
            "addresses": addresses,
            "created": now,
            "updated": now,
            "metadata": dict(metadata),
        }

    def boot_properties_of(self, image_id: str | None) -> dict[str, Any]:
        """The custom properties of an image, as Nova keeps them for a server booted from it."""
        record = self.images.get(image_id or "") or {}
        return {k: v for k, v in record.items() if k not in GLANCE_BASE_FIELDS}

    # --- identity -----------------------------------------------------------------------------
    def token_project(self) -> tuple[str, str]:
        """(id, name) of the token's project."""
        self._enter("token_project")
        return self.project_id, self.project_name

    def auth_projects(self) -> dict[str, str]:
        """Keystone ``/auth/projects``."""
        self._enter("auth_projects")
        return dict(self.projects)

    def close(self) -> None:
        """Nothing to release; remembered in ``closed``."""
        self.closed = True

    # --- Glance -------------------------------------------------------------------------------
    def _visible(self, record: Record, visibility: str | None = None) -> bool:
        owner, shown = record.get("owner"), record.get("visibility")
        member = self.project_id in self.members.get(str(record["id"]), ())
        if visibility in (None, "all"):
            everyone = ("public", "community") if visibility == "all" else ("public",)
            return shown in everyone or owner == self.project_id or (shown == "shared" and member)
        if visibility == "private":
            return shown == "private" and owner == self.project_id
        if visibility == "shared":
            return shown == "shared" and (owner == self.project_id or member)
        return shown == visibility

    def _query(self, params: Mapping[str, str], tags: Sequence[str]) -> list[Record]:
        filters = {k: v for k, v in params.items() if k not in _PAGING | {"visibility"}}
        if tags:
            filters["tag"] = ""
        try:
            pairs = _sort_pairs(params)
            found = [
                record
                for record in self.images.values()
                if self._visible(record, params.get("visibility"))
                and not record.get("os_hidden")
                and all(_matches(record, k, v, tags) for k, v in filters.items())
            ]
        except (ValueError, ApiError) as exc:
            raise self._error(400, str(exc), "list images") from exc
        return _ordered(found, pairs)

    def image_page(self, params: Mapping[str, Any], *, classified: bool = True) -> ImagePage:
        """One ``GET /v2/images`` page, filtered, sorted and paged as Glance does."""
        self._enter("image_page", dict(params))
        raw_tags = params.get("tag", ())
        tags = [raw_tags] if isinstance(raw_tags, str) else [str(t) for t in raw_tags]
        text = {k: str(v) for k, v in params.items() if k != "tag"}
        limit = min(int(text.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
        with self._lock:
            ordered = self._query(text, tags)
            marker = text.get("marker")
            if marker is not None:
                position = next((i for i, r in enumerate(ordered) if r["id"] == marker), None)
                if position is None:
                    if marker not in self.images or not self._visible(self.images[marker]):
                        raise self._error(400, f"No image found with ID {marker}", "list images")
                    # Glance pages by the marker's sort values, even when filters exclude it.
                    probe = _ordered([*ordered, self.images[marker]], _sort_pairs(text))
                    position = next(i for i, r in enumerate(probe) if r["id"] == marker) - 1
                ordered = ordered[position + 1 :]
            page = [dict(record) for record in ordered[:limit]]
        next_marker = str(page[-1]["id"]) if page and len(page) == limit else None
        images = [image_from_glance(record, classified=classified) for record in page]
        return ImagePage(images, next_marker)

    def _advance_image(self, image_id: str) -> Record | None:
        record = self.images.get(image_id)
        script = self._image_scripts.get(image_id)
        if record is None or not script:
            return record
        status = script.popleft() if len(script) > 1 else script[0]
        if status is None:
            del self.images[image_id]
            self._image_scripts.pop(image_id, None)
            return None
        record["status"] = status
        if status == "active" and record.get("size") is None:
            record["size"] = 1024**3
        return record

    def get_image(self, image_id: str) -> Image | None:
        """``GET /v2/images/{id}`` (advancing a scripted upload one step); None on 404."""
        self._enter("get_image", image_id)
        with self._lock:
            record = self._advance_image(image_id)
            if record is None or not self._visible(record, "all"):
                return None
            snapshot = dict(record)
        return image_from_glance(snapshot)

    def _owned_image(self, image_id: str, action: str) -> Record:
        record = self.images.get(image_id)
        if record is None or not self._visible(record, "all"):
            raise self._error(404, f"No image found with ID {image_id}", action)
        if record.get("owner") != self.project_id:
            raise self._error(403, "You are not permitted to modify this image", action)
        return record

    def delete_image(self, image_id: str) -> None:
        """``DELETE /v2/images/{id}``: 403 when protected or not ours, 404 when missing."""
        self._enter("delete_image", image_id)
        action = f"delete image {image_id}"
        with self._lock:
            record = self._owned_image(image_id, action)
            if record.get("protected"):
                raise self._error(
                    403, f"Image {image_id} is protected and cannot be deleted", action
                )
            del self.images[image_id]
            self.members.pop(image_id, None)
            self._image_scripts.pop(image_id, None)

    def replace_image_tags(self, image_id: str, tags: Sequence[str]) -> None:
        """JSON-patch ``replace /tags``."""
        self._enter("replace_image_tags", image_id, tuple(tags))
        with self._lock:
            record = self._owned_image(image_id, f"set the tags of image {image_id}")
            record["tags"] = list(dict.fromkeys(tags))
            record["updated_at"] = self.next_id("patch")[1]

    # --- Nova ---------------------------------------------------------------------------------
    def list_servers(self, *, name: str | None = None) -> list[Server]:
        """``GET /servers/detail`` (``name`` is a regex), newest first as Nova sorts."""
        self._enter("list_servers", name)
        with self._lock:
            records = [dict(r) for r in self.servers.values()]
        if name:
            records = [r for r in records if re.search(name, str(r.get("name") or ""))]
        records = _ordered(records, [("created", "desc"), ("id", "desc")])
        return [server_from_nova(record) for record in records]

    def _advance_server(self, server_id: str) -> Record | None:
        record = self.servers.get(server_id)
        script = self._server_scripts.get(server_id)
        if record is None or not script:
            return record
        status, task_state = script.popleft() if len(script) > 1 else script[0]
        record.update(
            {
                "status": status,
                "OS-EXT-STS:task_state": task_state,
                "OS-EXT-STS:power_state": _POWER.get(status, 0),
            }
        )
        return record

    def get_server(self, server_id: str) -> Server | None:
        """``GET /servers/{id}`` (advancing its script one step); None on 404."""
        self._enter("get_server", server_id)
        with self._lock:
            record = self._advance_server(server_id)
            snapshot = None if record is None else dict(record)
        return None if snapshot is None else server_from_nova(snapshot)

    def create_server(self, body: Mapping[str, Any], *, action: str) -> str:
        """``POST /servers``: 400 for an unknown image, flavor or key pair; then BUILD."""
        self._enter("create_server", dict(body))
        image_id, flavor_id = str(body.get("imageRef") or ""), str(body.get("flavorRef") or "")
        key_name = body.get("key_name")
        with self._lock:
            image = self.images.get(image_id)
            if image is None or not self._visible(image, "all"):
                raise self._error(400, f"Image {image_id} could not be found.", action)
            if image.get("status") != "active":
                raise self._error(400, f"Image {image_id} is not active.", action)
            if flavor_id not in self.flavors:
                raise self._error(400, f"Flavor {flavor_id} could not be found.", action)
            if key_name and key_name not in self.keypairs:
                raise self._error(400, "Invalid key_name provided.", action)
            record = self.new_server_record(
                name=str(body["name"]),
                status="BUILD",
                task_state="scheduling",
                image_id=image_id,
                flavor_ref=flavor_id,
                key_name=key_name,
                private_ipv4="192.168.1.10",
                metadata=body.get("metadata") or {},
            )
            self.put_server(record, boot_properties=self.boot_properties_of(image_id))
            self._server_scripts[record["id"]] = deque(_BOOT_STEPS)
        return str(record["id"])

    def delete_server(self, server_id: str) -> None:
        """``DELETE /servers/{id}`` (Nova deletes whatever the task_state); 404 when missing."""
        self._enter("delete_server", server_id)
        with self._lock:
            missing = f"Instance {server_id} could not be found."
            self._remove(self.servers, server_id, missing, f"delete server {server_id}")
            self._server_scripts.pop(server_id, None)
            self._boot_properties.pop(server_id, None)

    def server_action(self, server_id: str, action: str, argument: object = None) -> None:
        """``POST /servers/{id}/action`` (os-stop, os-start, reboot; see ``fake_nova_actions``)."""
        self._enter("server_action", server_id, action, argument)
        what = f"{action.removeprefix('os-')} server {server_id}"
        with self._lock:
            record = self.servers.get(server_id)
            if record is None:
                raise self._error(404, f"Instance {server_id} could not be found.", what)
            plan = plan_action(record, action, argument)
            if plan.error is not None:
                raise self._error(*plan.error, what)
            status, task_state = plan.steps[0]
            record.update({"status": status, "OS-EXT-STS:task_state": task_state})
            self._server_scripts[server_id] = deque(plan.steps)

    def _metadata_target(self, server_id: str, action: str) -> Record:
        """The server whose metadata may change (hold the lock): 404 when missing, 409 locked."""
        record = self.servers.get(server_id)
        if record is None:
            raise self._error(404, f"Instance {server_id} could not be found.", action)
        if record.get("locked"):
            raise self._error(409, f"Instance {server_id} is locked", action)
        return record

    def set_server_metadata(self, server_id: str, items: Mapping[str, str]) -> dict[str, str]:
        """``POST /servers/{id}/metadata``: 400 over 255 characters, 403 over 128 items."""
        self._enter("set_server_metadata", server_id, dict(items))
        action = f"update metadata of server {server_id}"
        with self._lock:
            record = self._metadata_target(server_id, action)
            if any(not 1 <= len(k) <= 255 or len(v) > 255 for k, v in items.items()):
                raise self._error(400, "Invalid input for field/attribute metadata.", action)
            merged = {**(record.get("metadata") or {}), **items}
            if len(merged) > self.metadata_items:
                limit = self.metadata_items
                raise self._error(403, f"Maximum number of metadata items exceeds {limit}", action)
            record["metadata"] = merged
            return dict(merged)

    def delete_server_metadata(self, server_id: str, key: str) -> None:
        """``DELETE /servers/{id}/metadata/{key}``: 404 for an unknown server or key."""
        self._enter("delete_server_metadata", server_id, key)
        action = f"delete metadata {key!r} of server {server_id}"
        with self._lock:
            record = self._metadata_target(server_id, action)
            metadata = dict(record.get("metadata") or {})
            if metadata.pop(key, None) is None:
                raise self._error(404, "Metadata item was not found", action)
            record["metadata"] = metadata

    def create_image(self, server_id: str, name: str, metadata: Mapping[str, str]) -> str:
        """Nova ``createImage`` (2.45): 409 while busy; the image starts ``queued``."""
        self._enter("create_image", server_id, name, dict(metadata))
        action = f"snapshot server {server_id}"
        with self._lock:
            server = self.servers.get(server_id)
            if server is None:
                raise self._error(404, f"Instance {server_id} could not be found.", action)
            if not name.strip():
                raise self._error(400, "The image name must not be empty.", action)
            self._check_snapshottable(server, action)
            image_id, now = self.next_id("image")
            source = self.images.get(server["image"]["id"] if server.get("image") else "") or {}
            inherited = {
                k: v
                for k, v in self._boot_properties.get(server_id, {}).items()
                if not k.startswith("os_glance")
            }
            self.put_image(
                {
                    "id": image_id,
                    "name": name,
                    "status": "queued",
                    "visibility": "private",
                    "owner": server["tenant_id"],
                    "protected": False,
                    "size": None,
                    "min_disk": server["flavor"].get("disk", 0),
                    "min_ram": source.get("min_ram", 0),
                    "container_format": "bare",
                    "disk_format": source.get("disk_format") or "qcow2",
                    "created_at": now,
                    "updated_at": now,
                    "tags": [],
                    **inherited,
                    provenance.BASE_IMAGE_REF: source.get("id", ""),
                    provenance.OWNER_PROJECT_NAME: self.project_name,
                    provenance.INSTANCE_UUID: server_id,
                    "image_type": "snapshot",
                    **{str(k): str(v) for k, v in metadata.items()},
                }
            )
            self._image_scripts[image_id] = deque(SNAPSHOT_OUTCOMES[self.snapshot_outcome])
            server["OS-EXT-STS:task_state"] = _SNAPSHOT_TASK_STATES[0]
            status = str(server["status"])
            self._server_scripts[server_id] = deque((status, s) for s in _SNAPSHOT_TASK_STATES)
        return image_id

    def _check_snapshottable(self, server: Record, action: str) -> None:
        task_state = server.get("OS-EXT-STS:task_state")
        if task_state:
            raise self._error(
                409,
                f"Cannot 'createImage' instance {server['id']} while it is in task_state "
                f"{task_state}",
                action,
            )
        if server.get("status") not in _SNAPSHOTTABLE:
            raise self._error(
                409,
                f"Cannot 'createImage' instance {server['id']} while it is in vm_state "
                f"{str(server.get('status')).lower()}",
                action,
            )

    def list_flavors(self) -> list[Flavor]:
        """``GET /flavors/detail``."""
        self._enter("list_flavors")
        with self._lock:
            records = list(self.flavors.values())
        return [flavor_from_nova(record) for record in records]

    def list_keypairs(self) -> list[KeyPair]:
        """``GET /os-keypairs``."""
        self._enter("list_keypairs")
        with self._lock:
            records = list(self.keypairs.values())
        return [keypair_from_nova(record) for record in records]

    def import_keypair(self, name: str, public_key: str) -> KeyPair:
        """``POST /os-keypairs``: 409 when the name is taken."""
        self._enter("import_keypair", name)
        with self._lock:
            if name in self.keypairs:
                action = f"import key pair {name!r}"
                raise self._error(409, f"Key pair '{name}' already exists.", action)
            record = {
                "name": name,
                "public_key": public_key,
                "fingerprint": _fingerprint(public_key),
                "type": "ssh",
            }
            self.keypairs[name] = record
        return keypair_from_nova(record)

    def delete_keypair(self, name: str) -> None:
        """``DELETE /os-keypairs/{name}``: 404 when there is none."""
        self._enter("delete_keypair", name)
        with self._lock:
            missing = f"Keypair {name} not found for user u-fake"
            self._remove(self.keypairs, name, missing, f"delete key pair {name!r}")

    def limits(self) -> Limits:
        """``GET /limits``."""
        self._enter("limits")
        return limits_from_nova(dict(self.absolute_limits))
