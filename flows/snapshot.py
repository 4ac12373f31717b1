"""Snapshot a VM: pre-flight checks, Nova createImage, our own waiter, provenance and tags.

The flow never makes a second snapshot for the same request: it records a request id on the
image (property ``denbi_request_id``, default derived from site, server and name) and looks it
up first, before creating and again after any ambiguous failure (a 409, a lost response).
A 409 because the VM is busy with another snapshot is waited out (bounded), not failed.

:func:`preflight` is the same set of checks for a panel to show before it starts the flow.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from prefect import flow

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.provenance import made_from_its_source, provenance_metadata
from denbi_jupyter.cloud.types import Flavor, Image, Server
from denbi_jupyter.errors import (
    CloudUnavailableError,
    ConflictError,
    NotFoundError,
    OperationFailedError,
    UserInputError,
)
from flows import _tasks as tasks
from flows._ids import REQUEST_ID_KEY, derive_request_id
from flows._progress import current_flow_run_id, report, run_logger
from flows._retry import idempotent
from flows._waiters import SYSTEM_CLOCK

__all__ = [
    "MAX_NAME_LENGTH",
    "MAX_SNAPSHOT_RAM_MB",
    "Preflight",
    "create_snapshot",
    "evaluate",
    "preflight",
    "snapshot_request_id",
]

#: de.NBI does not snapshot VMs whose flavor has more RAM than this (256 GB).
MAX_SNAPSHOT_RAM_MB = 256 * 1024
#: Glance's limit for image names.
MAX_NAME_LENGTH = 255
#: createImage attempts (409 busy, lost answers) before the flow gives up.
MAX_CREATE_ATTEMPTS = 4
#: Longest wait for a busy VM (another snapshot running) per attempt, in seconds.
MAX_BUSY_WAIT_S = 900.0
_SNAPSHOT_STATES = ("ACTIVE", "SHUTOFF")


@dataclass(frozen=True, slots=True)
class Preflight:
    """What speaks against a snapshot, before it is taken.

    Attributes:
        errors: Reasons the snapshot must not start (one sentence each).
        warnings: Things the user should know (the snapshot may still start).
        name: The snapshot name as it will be used (trimmed).
    """

    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    name: str = ""

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors


def snapshot_request_id(site: str, server_id: str, name: str) -> str:
    """The default request id of "snapshot ``server_id`` on ``site`` as ``name``"."""
    return derive_request_id("snapshot", site, server_id, name.strip())


def evaluate(
    *, server: Server | None, server_ref: str, flavor: Flavor | None, name: str, name_taken: bool
) -> Preflight:
    """The pre-flight verdict from facts already fetched (pure).

    Args:
        server: The VM, or None when it does not exist.
        server_ref: How the caller named the VM (for the message when it does not exist).
        flavor: The VM's flavor, or None when it could not be found.
        name: The snapshot name as given.
        name_taken: Whether an image of the project already has the trimmed name.
    """
    errors: list[str] = []
    warnings: list[str] = []
    clean = name.strip()
    if not clean:
        errors.append("The snapshot name is empty: give the snapshot a name.")
    elif len(clean) > MAX_NAME_LENGTH:
        errors.append(f"The snapshot name is longer than {MAX_NAME_LENGTH} characters.")
    elif name_taken:
        errors.append(f"The name {clean!r} is already used in this project: choose another.")
    if server is None:
        errors.append(f"Server {server_ref!r} does not exist (any more) in this project.")
        return Preflight(errors=tuple(errors), warnings=tuple(warnings), name=clean)
    if server.status not in _SNAPSHOT_STATES:
        errors.append(
            f"VM {server.name!r} is {server.status}: a snapshot needs an ACTIVE or SHUTOFF VM."
        )
    elif server.status == "ACTIVE":
        warnings.append("VM is ACTIVE: stop it first for a consistent snapshot.")
    if server.task_state:
        warnings.append(f"VM is busy ({server.task_state}): the snapshot starts once that is done.")
    if flavor is None:
        warnings.append("The VM's flavor is unknown: the 256 GB RAM limit could not be checked.")
    else:
        if flavor.ram_mb > MAX_SNAPSHOT_RAM_MB:
            errors.append(
                f"Flavor {flavor.name} has more than 256 GB RAM ({flavor.ram_gb:g} GB): "
                "de.NBI does not snapshot such VMs."
            )
        if flavor.ephemeral_gb > 0:
            warnings.append(
                f"The ephemeral disk ({flavor.ephemeral_gb} GB) is not part of a snapshot: "
                "copy what you need from it elsewhere first."
            )
    return Preflight(errors=tuple(errors), warnings=tuple(warnings), name=clean)


def _flavor_of(client: CloudClient, server: Server) -> Flavor | None:
    """The server's flavor: as Nova embeds it in the server, else looked up by id or name."""
    if server.flavor is not None:
        return server.flavor
    reference = server.flavor_id or server.flavor_name
    if not reference:
        return None
    try:
        return client.find_flavor(reference)
    except (NotFoundError, UserInputError):  # deleted, private, or several with that name
        return None


def _name_in_use(client: CloudClient, name: str) -> bool:
    if not name:
        return False
    try:
        image = client.find_image(name)
    except NotFoundError:
        return False
    except UserInputError:  # several images carry the name
        return True
    return image.name == name and image.owner == client.project_id


def preflight(client: CloudClient, server_id: str, name: str) -> Preflight:
    """Check a snapshot request before starting the flow (three read calls).

    Checks: the VM exists and is ACTIVE or SHUTOFF (warns when ACTIVE or busy), the trimmed
    name is non-empty and not used by an image of the project, the flavor has at most 256 GB
    RAM (de.NBI's limit), and warns that an ephemeral disk is not part of a snapshot.
    """
    server = client.get_server(server_id)
    flavor = _flavor_of(client, server) if server is not None else None
    taken = _name_in_use(client, name.strip())
    return evaluate(server=server, server_ref=server_id, flavor=flavor, name=name, name_taken=taken)


@idempotent(name="get-flavor-of-server")
def _flavor_task(client: CloudClient, server: Server) -> Flavor | None:
    return _flavor_of(client, server)


@idempotent(name="check-name-in-use")
def _name_task(client: CloudClient, name: str) -> bool:
    return _name_in_use(client, name)


def _lookup(client: CloudClient, request_id: str) -> Image | None:
    found = [
        image
        for image in tasks.find_images_by_property(client, REQUEST_ID_KEY, request_id)
        if made_from_its_source(image.properties)  # not one inheriting the id from its source
    ]
    if not found:
        return None
    return max(found, key=lambda image: image.created_at)


def _creator() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _checked_properties(properties: dict[str, str] | None) -> dict[str, str]:
    extra = dict(properties or {})
    for key, value in extra.items():
        if not key.startswith("denbi_") or not isinstance(value, str):
            raise UserInputError(
                f"Extra snapshot property {key!r} is not allowed: keys must start with "
                "'denbi_' and values be text."
            )
    return extra


def _start_snapshot(
    client: CloudClient,
    server: Server,
    name: str,
    request_id: str,
    deadline: float,
    extra: dict[str, str],
) -> str:
    """createImage, waiting out 409s; returns the image id (or an earlier attempt's)."""
    logger = run_logger()
    source_id = server.image_id
    metadata = provenance_metadata(
        server_id=server.id,
        server_name=server.name,
        image_id=source_id,
        flavor_name=server.flavor_name,
        created_by=_creator(),
        flow_run_id=current_flow_run_id(),
    )
    for key, value in extra.items():  # extra properties never replace provenance
        metadata.setdefault(key, value)
    metadata[REQUEST_ID_KEY] = request_id
    last: Exception | None = None
    for attempt in range(1, MAX_CREATE_ATTEMPTS + 1):
        if attempt > 1:
            earlier = _lookup(client, request_id)
            if earlier is not None:
                logger.info("An earlier attempt made snapshot %s; following it", earlier.id)
                return earlier.id
        report(0.02, "Nova: createImage")
        try:
            return tasks.request_snapshot(client, server.id, name, metadata)
        except ConflictError as exc:
            last = exc
            remaining = deadline - SYSTEM_CLOCK.now()
            if remaining <= 0:
                break
            logger.warning("Nova refused: %s. Waiting until the VM is idle.", exc)
            report(None, "Waiting: the VM is busy (another snapshot is running)")
            tasks.await_server_idle(client, server.id, min(remaining, MAX_BUSY_WAIT_S))
        except OperationFailedError:
            raise
        except CloudUnavailableError as exc:
            last = exc
            logger.warning("createImage failed (%s); checking whether it went through", exc)
            SYSTEM_CLOCK.sleep(min(0.5 * attempt, max(0.0, deadline - SYSTEM_CLOCK.now())))
    if isinstance(last, ConflictError):
        raise ConflictError(
            f"Nova kept refusing the snapshot of {server.name!r} ({last}). Wait until the VM "
            "has finished its current task, then try again."
        ) from last
    raise OperationFailedError(
        f"Could not ask Nova for the snapshot of {server.name!r} after "
        f"{MAX_CREATE_ATTEMPTS} attempts ({last}). Try again later."
    ) from last


def _result(
    site: str,
    image: Image,
    server: Server,
    request_id: str,
    *,
    tags: tuple[str, ...],
    reused: bool,
    warnings: tuple[str, ...],
) -> dict[str, object]:
    return {
        "site": site,
        "image_id": image.id,
        "name": image.name,
        "status": image.status,
        "size": image.size,
        "server_id": server.id,
        "server_name": server.name,
        "source_image_id": server.image_id,
        "tags": list(tags),
        "request_id": request_id,
        "flow_run_id": current_flow_run_id(),
        "reused": reused,
        "warnings": list(warnings),
    }


@flow(name="create-snapshot", flow_run_name="snapshot-{name}", persist_result=False)
def create_snapshot(
    site: str,
    server: str,
    name: str,
    request_id: str | None = None,
    timeout_s: float = 1800,
    properties: dict[str, str] | None = None,
) -> dict[str, object]:
    """Snapshot a VM and wait until the image is active.

    Args:
        site: The ``clouds.yaml`` entry of the site.
        server: The VM's id or exact name.
        name: The snapshot name (trimmed; must be unused in the project).
        request_id: Makes re-runs idempotent; defaults to one derived from site, server and name.
        timeout_s: Give up waiting after this many seconds (the snapshot may still finish).
        properties: Extra image properties to record (keys must start with ``denbi_``).

    Returns:
        The snapshot: ``image_id``, ``name``, ``status``, ``size``, ``server_id``, ``tags``,
        ``request_id``, ``reused`` (True when an earlier run had made it), ``warnings``.

    Raises:
        UserInputError: A pre-flight check failed (the message lists each).
        OperationFailedError: The snapshot ended killed, vanished or timed out.
    """
    logger = run_logger()
    extra = _checked_properties(properties)
    deadline = SYSTEM_CLOCK.now() + timeout_s
    report(0.0, f"Looking up {server!r} on {site}")
    client = tasks.open_site(site)
    vm = tasks.find_server(client, server)
    clean = name.strip()
    rid = request_id or snapshot_request_id(site, vm.id, clean)
    warnings: tuple[str, ...] = ()
    earlier = _lookup(client, rid)
    if earlier is not None and earlier.status in ("killed", "deleted", "pending_delete"):
        raise OperationFailedError(
            f"An earlier run of this request made snapshot {earlier.id}, which ended "
            f"{earlier.status!r}. Delete it, then try again."
        )
    if earlier is not None:
        logger.info("Snapshot %s of this request exists already (%s)", earlier.id, earlier.status)
        image_id = earlier.id
    else:
        verdict = evaluate(
            server=vm,
            server_ref=server,
            flavor=_flavor_task(client, vm),
            name=name,
            name_taken=_name_task(client, clean),
        )
        warnings = verdict.warnings
        for warning in verdict.warnings:
            logger.warning(warning)
        if not verdict.ok:
            raise UserInputError("Snapshot refused: " + " ".join(verdict.errors))
        image_id = _start_snapshot(client, vm, clean, rid, deadline, extra)
        logger.info("Nova accepted the snapshot: image %s", image_id)
    remaining = max(1.0, deadline - SYSTEM_CLOCK.now())
    image = tasks.await_snapshot(client, vm.id, image_id, remaining)
    source = tasks.get_image(client, vm.image_id) if vm.image_id else None
    source_tags = set(source.tags) if source is not None else set()
    tags = tuple(sorted(source_tags | set(image.tags)))
    if not source_tags <= set(image.tags):
        tasks.set_image_tags(client, image.id, tags)
        logger.info("Copied the source image's tags: %s", ", ".join(sorted(source_tags)))
    report(1.0, f"Snapshot {image.name!r} is active")
    return _result(site, image, vm, rid, tags=tags, reused=earlier is not None, warnings=warnings)
