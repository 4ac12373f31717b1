"""Helpers of the contract suite: waiting, raw Glance/Nova calls, and cleanup.

Everything here speaks to the cloud through an openstacksdk ``Connection`` only, so it runs the
same against the local cloud and against real OpenStack.
"""

from __future__ import annotations

import ipaddress
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import requests
from openstack import exceptions
from openstack.connection import Connection

__all__ = [
    "JSON_PATCH",
    "TINY_FLAVOR",
    "ContractCloud",
    "Janitor",
    "Timeouts",
    "assert_glance_error",
    "assert_nova_error",
    "boot_server",
    "create_image",
    "glance_root",
    "image_json",
    "iter_pages",
    "private_ipv4s",
    "raw_image",
    "unique",
    "wait_for",
    "wait_image_active",
    "wait_server_idle",
    "wait_server_status",
]

#: The flavor every scenario boots with (both clouds have it).
TINY_FLAVOR = "de.NBI tiny"
#: The media type Glance requires for PATCH (surprise 7).
JSON_PATCH = "application/openstack-images-v2.1-json-patch"
#: Real Glance answers errors as JSON only to clients that accept JSON (else an HTML page).
ACCEPT_JSON = {"Accept": "application/json"}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Deadlines (seconds) for one cloud: small on the local cloud, generous on a real one."""

    boot: float
    snapshot: float
    change: float
    cli: float
    interval: float


@dataclass(frozen=True, slots=True)
class ContractCloud:
    """The cloud under test: a clouds.yaml file, the entry to use, and its deadlines."""

    clouds_yaml: Path
    name: str
    timeouts: Timeouts


def unique(run_id: str, label: str) -> str:
    """A resource name no other run uses: ``contract-<run id>-<label>-<random>``."""
    return f"contract-{run_id}-{label}-{uuid.uuid4().hex[:6]}"


def wait_for(
    fetch: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout: float,
    interval: float,
    what: str,
) -> T:
    """Call ``fetch`` until ``done`` holds for its result; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# --- Glance -------------------------------------------------------------------------------


def glance_root(conn: Connection) -> str:
    """The Glance endpoint from the catalog, to which relative ``/v2/...`` links are appended."""
    endpoint = conn.endpoint_for("image")
    assert endpoint, "the catalog has no image endpoint"
    root = endpoint.rstrip("/")
    if root.endswith("/v2"):
        root = root[: -len("/v2")]
    return root


def image_json(conn: Connection, image_id: str) -> dict[str, Any]:
    """``GET /v2/images/{id}`` as raw JSON; fails on anything but 200."""
    response = conn.image.get(f"/images/{image_id}")
    assert response.status_code == 200, f"GET image {image_id}: {response.status_code}"
    body: dict[str, Any] = response.json()
    return body


def wait_image_active(conn: Connection, image_id: str, timeouts: Timeouts) -> dict[str, Any]:
    """Wait until a Glance image is ``active``; fail at once if it ends ``killed``/``deleted``."""

    def done(image: dict[str, Any]) -> bool:
        assert image["status"] not in ("killed", "deleted"), f"image ended {image['status']}"
        return bool(image["status"] == "active")

    return wait_for(
        lambda: image_json(conn, image_id),
        done,
        timeout=timeouts.snapshot,
        interval=timeouts.interval,
        what=f"image {image_id} to become active",
    )


def raw_image(name: str, **extra: Any) -> dict[str, Any]:
    """The body of ``POST /v2/images`` for a ``raw``/``bare`` image named ``name``."""
    return {"name": name, "disk_format": "raw", "container_format": "bare", **extra}


def create_image(
    janitor: Janitor, body: dict[str, Any], *, data: bytes | None = None
) -> dict[str, Any]:
    """``POST /v2/images`` (recorded for cleanup); with ``data``, upload it and wait for active."""
    conn = janitor.conn
    janitor.image_names.append(body["name"])
    created = conn.image.post("/images", json=body)
    assert created.status_code == 201, created.text[:500]
    image: dict[str, Any] = created.json()
    janitor.image_ids.append(image["id"])
    if data is None:
        return image
    uploaded = conn.image.put(
        f"/images/{image['id']}/file",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert uploaded.status_code == 204, uploaded.text[:500]
    return wait_image_active(conn, image["id"], janitor.timeouts)


def assert_glance_error(response: requests.Response, status: int, reason: str) -> None:
    """A Glance error: the status, and ``code`` as a string with the reason phrase (surprise 6)."""
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert body["code"] == f"{status} {reason}"
    assert body["title"] == reason
    assert isinstance(body["message"], str)


# --- Nova ---------------------------------------------------------------------------------


def assert_nova_error(response: requests.Response, status: int, kind: str) -> None:
    """A Nova error: the status, and the body wrapped by kind with an int code (surprise 10)."""
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert list(body) == [kind]
    assert body[kind]["code"] == status
    assert isinstance(body[kind]["message"], str)


def private_ipv4s(addresses: Mapping[str, Any]) -> list[str]:
    """The private IPv4 addresses in a Nova ``addresses`` mapping."""
    found = []
    for entries in addresses.values():
        for entry in entries:
            ip = ipaddress.ip_address(entry["addr"])
            if ip.version == 4 and ip.is_private:
                found.append(str(ip))
    return found


def _server(conn: Connection, server_id: str) -> Any:
    return conn.compute.get_server(server_id)


def wait_server_status(
    conn: Connection, server_id: str, status: str, *, timeout: float, interval: float
) -> Any:
    """Wait until a server has ``status`` and no task; fail at once on ``ERROR``."""

    def done(server: Any) -> bool:
        assert server.status != "ERROR", f"server {server_id} went to ERROR: {server.fault}"
        return bool(server.status == status and server.task_state is None)

    return wait_for(
        lambda: _server(conn, server_id),
        done,
        timeout=timeout,
        interval=interval,
        what=f"server {server_id} to be {status}",
    )


def wait_server_idle(conn: Connection, server_id: str, timeouts: Timeouts) -> Any:
    """Wait until a server has no task (a snapshot's Nova side ends after Glance's, surprise 12)."""
    return wait_for(
        lambda: _server(conn, server_id),
        lambda server: server.task_state is None,
        timeout=timeouts.snapshot,
        interval=timeouts.interval,
        what=f"server {server_id} to finish its task",
    )


def boot_server(janitor: Janitor, label: str, *, image_id: str, flavor_id: str) -> Any:
    """Boot a server (named for cleanup) with ``networks='auto'`` through the compute proxy and
    wait for ACTIVE."""
    conn, timeouts = janitor.conn, janitor.timeouts
    server = conn.compute.create_server(
        name=janitor.new_server_name(label),
        image_id=image_id,
        flavor_id=flavor_id,
        networks="auto",
    )
    return wait_server_status(
        conn, server.id, "ACTIVE", timeout=timeouts.boot, interval=timeouts.interval
    )


# --- Cleanup ------------------------------------------------------------------------------


@dataclass
class Janitor:
    """Remembers what scenarios created and deletes it all, servers first, then images and keys.

    Servers and images are also found by their unique name, so a create that failed half-way
    (a timeout after the POST) is cleaned up too.
    """

    conn: Connection
    timeouts: Timeouts
    #: The run's id, part of every name the janitor hands out.
    run_id: str
    server_names: list[str] = field(default_factory=list)
    server_ids: list[str] = field(default_factory=list)
    image_names: list[str] = field(default_factory=list)
    image_ids: list[str] = field(default_factory=list)
    keypair_names: list[str] = field(default_factory=list)

    def new_server_name(self, label: str) -> str:
        """A :func:`unique` server name, remembered so a half-made server is deleted too."""
        return _remembered(self.server_names, unique(self.run_id, label))

    def new_image_name(self, label: str) -> str:
        """A :func:`unique` image name, remembered so a half-made image is deleted too."""
        return _remembered(self.image_names, unique(self.run_id, label))

    def new_keypair_name(self, label: str) -> str:
        """A :func:`unique` key pair name, remembered for cleanup."""
        return _remembered(self.keypair_names, unique(self.run_id, label))

    def clean(self) -> None:
        """Delete everything recorded; raise one error naming what could not be deleted."""
        failures: list[str] = []
        for server_id in self._servers():
            failures += _attempt(f"server {server_id}", partial(self._drop_server, server_id))
        for image_id in self._images():
            failures += _attempt(f"image {image_id}", partial(self._drop_image, image_id))
        for name in self.keypair_names:
            failures += _attempt(
                f"key pair {name}", partial(self.conn.compute.delete_keypair, name)
            )
        if failures:
            raise AssertionError("cleanup left resources behind: " + "; ".join(failures))

    def _servers(self) -> list[str]:
        ids = dict.fromkeys(self.server_ids)
        for name in self.server_names:
            for server in self.conn.compute.servers(details=False, name=f"^{name}$"):
                if server.name == name:
                    ids[server.id] = None
        return list(ids)

    def _images(self) -> list[str]:
        ids = dict.fromkeys(self.image_ids)
        for name in self.image_names:
            response = self.conn.image.get("/images", params={"name": name})
            if response.status_code == 200:
                ids.update(dict.fromkeys(image["id"] for image in response.json()["images"]))
        return list(ids)

    def _drop_server(self, server_id: str) -> None:
        response = self.conn.compute.delete(f"/servers/{server_id}")
        if response.status_code == 404:
            return
        assert response.status_code == 204, f"DELETE answered {response.status_code}"
        wait_for(
            lambda: self.conn.compute.get(f"/servers/{server_id}").status_code,
            lambda status: status == 404,
            timeout=self.timeouts.change,
            interval=self.timeouts.interval,
            what=f"server {server_id} to disappear",
        )

    def _drop_image(self, image_id: str) -> None:
        response = self.conn.image.get(f"/images/{image_id}")
        if response.status_code == 404:
            return
        if response.json().get("protected"):
            unprotect = [{"op": "replace", "path": "/protected", "value": False}]
            self.conn.image.patch(
                f"/images/{image_id}", json=unprotect, headers={"Content-Type": JSON_PATCH}
            )
        status = self.conn.image.delete(f"/images/{image_id}").status_code
        assert status in (204, 404), f"DELETE answered {status}"


def _remembered(names: list[str], name: str) -> str:
    names.append(name)
    return name


def _attempt(what: str, action: Callable[[], object]) -> list[str]:
    try:
        action()
    except (AssertionError, exceptions.SDKException, requests.RequestException) as error:
        return [f"{what}: {error}"]
    return []


def iter_pages(conn: Connection, first: requests.Response) -> Iterator[dict[str, Any]]:
    """Yield Glance list pages, following each page's relative ``next`` link."""
    response = first
    root = glance_root(conn)
    while True:
        assert response.status_code == 200, response.text[:500]
        page: dict[str, Any] = response.json()
        yield page
        if "next" not in page:
            return
        response = conn.image.get(root + page["next"])
