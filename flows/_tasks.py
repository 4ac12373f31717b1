"""The flows' tasks: one cloud call each, retried only when the call is idempotent.

Every task takes the :class:`CloudClient` its flow opened for the site (tasks run in the flow's
process, so the client is passed as an object and never stored). Results are kept in memory
only (no cache, no persistence): they are domain objects, not something to replay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.rules.copy import ImageUsage
from denbi_jupyter.cloud.rules.servers import ServerAction
from denbi_jupyter.cloud.types import Flavor, Image, KeyPair, Limits, Server
from denbi_jupyter.connect import ProbeResult
from flows._client import open_client
from flows._progress import report
from flows._retry import idempotent, once
from flows._waiters import (
    wait_for_port,
    wait_for_server_active,
    wait_for_server_gone,
    wait_for_server_status,
    wait_for_snapshot,
    wait_until_idle,
)

__all__ = [
    "await_port",
    "await_server_active",
    "await_server_gone",
    "await_server_idle",
    "await_server_status",
    "await_snapshot",
    "delete_image",
    "find_flavor",
    "find_image",
    "find_images_by_property",
    "find_server",
    "get_image",
    "get_server",
    "image_usage",
    "limits",
    "list_keypairs",
    "list_servers",
    "open_site",
    "request_server",
    "request_server_action",
    "request_snapshot",
    "set_image_tags",
]


# --- opening ---------------------------------------------------------------------------
@idempotent(name="open-site")
def open_site(site: str) -> CloudClient:
    """Open the site's client (authenticates with Keystone)."""
    return open_client(site)


# --- reads ------------------------------------------------------------------------------
@idempotent(name="find-server")
def find_server(client: CloudClient, name_or_id: str) -> Server:
    """The server with this id or exact name."""
    return client.find_server(name_or_id)


@idempotent(name="get-server")
def get_server(client: CloudClient, server_id: str) -> Server | None:
    """The server by id, or None."""
    return client.get_server(server_id)


@idempotent(name="list-servers")
def list_servers(client: CloudClient) -> list[Server]:
    """The project's servers."""
    return client.list_servers()


@idempotent(name="find-image")
def find_image(client: CloudClient, name_or_id: str) -> Image:
    """The image (or snapshot) with this id or exact name."""
    return client.find_image(name_or_id)


@idempotent(name="get-image")
def get_image(client: CloudClient, image_id: str) -> Image | None:
    """The image by id, or None."""
    return client.get_image(image_id)


@idempotent(name="find-images-by-property")
def find_images_by_property(client: CloudClient, key: str, value: str) -> list[Image]:
    """Images whose property ``key`` equals ``value``."""
    return client.find_images_by_property(key, value)


@idempotent(name="find-flavor")
def find_flavor(client: CloudClient, name_or_id: str) -> Flavor:
    """The flavor with this id or name."""
    return client.find_flavor(name_or_id)


@idempotent(name="get-limits")
def limits(client: CloudClient) -> Limits:
    """The project's compute limits and usage."""
    return client.limits()


@idempotent(name="read-image-usage")
def image_usage(client: CloudClient) -> ImageUsage:
    """The project's image quota and usage (Glance ``/v2/info/usage``; unknown parts None)."""
    return client.image_usage()


@idempotent(name="list-keypairs")
def list_keypairs(client: CloudClient) -> list[KeyPair]:
    """The user's key pairs."""
    return client.list_keypairs()


# --- idempotent writes ------------------------------------------------------------------
@idempotent(name="set-image-tags")
def set_image_tags(client: CloudClient, image_id: str, tags: Sequence[str]) -> None:
    """Replace the image's tags (the same call twice gives the same result)."""
    client.set_image_tags(image_id, list(tags))


@idempotent(name="delete-image")
def delete_image(client: CloudClient, image_id: str) -> None:
    """Delete an image."""
    client.delete_image(image_id)


# --- creating (never retried: flows look earlier attempts up by request id) -------------
@once(name="request-snapshot")
def request_snapshot(
    client: CloudClient, server_id: str, name: str, metadata: Mapping[str, str]
) -> str:
    """Ask Nova for a snapshot (createImage); return the new image id."""
    return client.create_snapshot(server_id, name=name, metadata=metadata)


@once(name="request-server")
def request_server(
    client: CloudClient,
    *,
    name: str,
    image_id: str,
    flavor_id: str,
    key_name: str | None,
    metadata: Mapping[str, str],
) -> Server:
    """Ask Nova to boot a server."""
    return client.create_server(
        name=name, image_id=image_id, flavor_id=flavor_id, key_name=key_name, metadata=metadata
    )


@once(name="request-server-action")
def request_server_action(client: CloudClient, server: Server, action: ServerAction) -> None:
    """Ask Nova to stop, start, reboot or delete ``server`` (as just read and judged).

    Never retried: a second stop or start meets Nova's 409, a second delete a 404.
    """
    if action is ServerAction.STOP:
        client.stop_server(server.id, checked=server)
    elif action is ServerAction.START:
        client.start_server(server.id, checked=server)
    elif action in (ServerAction.REBOOT, ServerAction.HARD_REBOOT):
        client.reboot_server(server.id, hard=action is ServerAction.HARD_REBOOT, checked=server)
    else:
        client.delete_server(server.id, checked=server)


# --- waiting (read-only polls with their own deadline and failure tolerance) ------------
@once(name="await-snapshot")
def await_snapshot(client: CloudClient, server_id: str, image_id: str, timeout_s: float) -> Image:
    """Poll Nova and Glance until the snapshot is active; fail on killed/vanished/timeout."""
    return wait_for_snapshot(
        client, server_id=server_id, image_id=image_id, timeout_s=timeout_s, on_progress=report
    )


@once(name="await-server-idle")
def await_server_idle(client: CloudClient, server_id: str, timeout_s: float) -> Server:
    """Poll Nova until the server has no task state."""
    return wait_until_idle(client, server_id=server_id, timeout_s=timeout_s)


@once(name="await-server-active")
def await_server_active(client: CloudClient, server_id: str, timeout_s: float) -> Server:
    """Poll Nova until the server is ACTIVE; fail on ERROR/vanished/timeout."""
    return wait_for_server_active(
        client, server_id=server_id, timeout_s=timeout_s, on_progress=report
    )


@once(name="await-server-status")
def await_server_status(
    client: CloudClient, server_id: str, status: str, timeout_s: float
) -> Server:
    """Poll Nova until the server is ``status`` with no task state; fail on ERROR/timeout."""
    return wait_for_server_status(
        client, server_id=server_id, status=status, timeout_s=timeout_s, on_progress=report
    )


@once(name="await-server-gone")
def await_server_gone(client: CloudClient, server_id: str, timeout_s: float) -> None:
    """Poll Nova until the server is gone (404); fail on ERROR/timeout."""
    wait_for_server_gone(client, server_id=server_id, timeout_s=timeout_s, on_progress=report)


@once(name="await-ssh-port")
def await_port(host: str, port: int, timeout_s: float) -> ProbeResult:
    """Probe the VM's SSH port on the gateway until it opens."""
    return wait_for_port(host, port, timeout_s=timeout_s, on_progress=report)
