"""A smoke scenario against the tier as the de.NBI user: auth, images, boot, snapshot, cleanup.

Run: ``DENBI_CONTRACT_CLOUDS_YAML=.openstack-tier/clouds.yaml DENBI_CONTRACT_CLOUD=openstack-real
python -m openstack_tier.smoke``. Prints one line per step with its duration, and ends with a
``N passed, N failed`` line; exits non-zero if a step failed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["main"]


def _connect() -> Any:
    from openstack.config import OpenStackConfig
    from openstack.connection import Connection

    path = os.environ["DENBI_CONTRACT_CLOUDS_YAML"]
    name = os.environ.get("DENBI_CONTRACT_CLOUD", "openstack-real")
    config = OpenStackConfig(config_files=[path], vendor_files=[])
    return Connection(config=config.get_one(cloud=name))


def _wait(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout:.0f} s")
        time.sleep(0.3)


def main() -> int:
    conn = _connect()
    tag = uuid.uuid4().hex[:6]
    made: dict[str, list[str]] = {"servers": [], "images": []}
    results: list[tuple[str, bool]] = []

    def step(name: str, action: Callable[[], Any]) -> Any:
        start = time.monotonic()
        try:
            value = action()
        # A smoke step fails by any error at all (SDK, HTTP, assertion); each is reported and the
        # remaining steps still run, so one run shows every broken step.
        except Exception as error:  # noqa: BLE001
            print(f"FAIL {name} ({time.monotonic() - start:.1f} s): {error!r}", flush=True)
            results.append((name, False))
            return None
        print(f"ok   {name} ({time.monotonic() - start:.1f} s)", flush=True)
        results.append((name, True))
        return value

    step("auth", lambda: conn.authorize())
    step("image list", lambda: list(conn.image.images(limit=5)))

    def upload() -> Any:
        data = hashlib.sha512(tag.encode()).digest() * 64
        image = conn.image.create_image(
            f"smoke-{tag}", data=data, disk_format="raw", container_format="bare", wait=True
        )
        made["images"].append(image.id)
        return image

    image = step("image upload to active", upload)
    flavor = step(
        "find flavor", lambda: conn.compute.find_flavor("de.NBI tiny", ignore_missing=False)
    )

    def boot(image_id: str, label: str) -> Any:
        server = conn.create_server(
            f"smoke-{tag}-{label}",
            image=image_id,
            flavor=flavor.id,
            network="denbi-shared-net",
            wait=True,
            timeout=120,
            auto_ip=False,
        )
        made["servers"].append(server.id)
        addresses = [entry["addr"] for entries in server.addresses.values() for entry in entries]
        assert any(ipaddress.ip_address(a).is_private for a in addresses), addresses
        return server

    server = step("boot to ACTIVE", lambda: boot(image.id, "a")) if image and flavor else None

    def snapshot() -> Any:
        snap = conn.compute.create_server_image(server, f"smoke-{tag}-snap", wait=False)
        made["images"].append(snap.id)
        shown = _wait(
            lambda: conn.image.get_image(snap.id),
            lambda i: i.status == "active",
            60,
            "snapshot not active",
        )
        assert shown.properties.get("image_type") == "snapshot", shown.properties
        return shown

    snap = step("snapshot to active", snapshot) if server else None
    if snap:
        step("boot from snapshot", lambda: boot(snap.id, "b"))

    def cleanup() -> None:
        for server_id in made["servers"]:
            conn.compute.delete_server(server_id, ignore_missing=True)
        for server_id in made["servers"]:

            def find(found_id: str = server_id) -> Any:
                return conn.compute.find_server(found_id)

            _wait(find, lambda server: server is None, 60, "server not deleted")
        for image_id in made["images"]:
            conn.image.delete_image(image_id, ignore_missing=True)

    step("cleanup", cleanup)
    passed = sum(1 for _, ok in results if ok)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
