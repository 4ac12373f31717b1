"""Snapshot a VM: pre-flight checks, Nova createImage, our own waiter, provenance and tags.

The flow never makes a second snapshot for the same request: it records a request id on the
image (property ``denbi_request_id``, default derived from site, server and name) and looks it
up first, before creating and again after any ambiguous failure (a 409, a lost response).
A 409 because the VM is busy with another snapshot is waited out (bounded), not failed.

:func:`preflight` gathers the facts for the same checks (the verdict itself is
:func:`denbi_jupyter.cloud.rules.preflight.evaluate`, re-exported here) for a panel to show
before it starts the flow.

A snapshot requested with property ``denbi_schedule`` (a scheduled run) also gets its
schedule's ownership mark (:func:`~denbi_jupyter.cloud.rules.retention.schedule_mark`, a tag
naming the image's own id) right after Nova accepted it and again once it is active; marks
copied from the source image's tags are never carried over.
"""

from __future__ import annotations

import getpass

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.provenance import made_from_its_source, provenance_metadata
from denbi_jupyter.cloud.results import SnapshotResult
from denbi_jupyter.cloud.rules.preflight import MAX_SNAPSHOT_RAM_MB, Preflight, evaluate
from denbi_jupyter.cloud.rules.retention import SCHEDULE_KEY, is_schedule_mark, schedule_mark
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
from flows._polling import LANDING_WINDOW_S, await_landing, unanswered
from flows._progress import current_flow_run_id, job_flow, report, run_logger
from flows._retry import idempotent
from flows._waiters import SYSTEM_CLOCK, Backoff

__all__ = [
    "MAX_SNAPSHOT_RAM_MB",
    "Preflight",
    "create_snapshot",
    "evaluate",
    "preflight",
    "snapshot_request_id",
]

#: createImage attempts (409 busy, lost answers) before the flow gives up.
MAX_CREATE_ATTEMPTS = 4
#: Longest wait for a busy VM (another snapshot running) per attempt, in seconds.
MAX_BUSY_WAIT_S = 900.0
_LANDING_BACKOFF = Backoff(first=0.25, factor=1.5, cap=2.0)


def snapshot_request_id(site: str, server_id: str, name: str) -> str:
    """The default request id of "snapshot ``server_id`` on ``site`` as ``name``"."""
    return derive_request_id("snapshot", site, server_id, name.strip())


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


def _lookup(client: CloudClient, request_id: str, *, retried: bool = True) -> Image | None:
    """The newest snapshot of ``request_id``; ``retried=False``: one plain look (no task)."""
    finder = tasks.find_images_by_property if retried else _plain_find
    found = [
        image
        for image in finder(client, REQUEST_ID_KEY, request_id)
        if made_from_its_source(image.properties)  # not one inheriting the id from its source
    ]
    if not found:
        return None
    return max(found, key=lambda image: image.created_at)


def _plain_find(client: CloudClient, key: str, value: str) -> list[Image]:
    return client.find_images_by_property(key, value)


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
        except CloudUnavailableError as exc:
            last = exc
            logger.warning("createImage failed (%s); checking whether it went through", exc)
            report(None, "Nova did not confirm the snapshot; looking whether it was made")
            window = LANDING_WINDOW_S if unanswered(exc) else 0.5 * attempt
            earlier = await_landing(
                lambda: _lookup(client, request_id, retried=False),
                window_s=min(window, max(0.0, deadline - SYSTEM_CLOCK.now())),
                clock=SYSTEM_CLOCK,
                backoff=_LANDING_BACKOFF,
            )
            if earlier is not None:
                logger.info("Nova made snapshot %s after all; following it", earlier.id)
                return earlier.id
    if isinstance(last, CloudUnavailableError) and unanswered(last):
        raise OperationFailedError(
            f"Nova did not answer the snapshot request for {server.name!r} "
            f"({MAX_CREATE_ATTEMPTS} attempts, last: {last}). Nova may still be making the "
            "snapshot: check the snapshot list in a few minutes; running the same snapshot "
            "again finds it by its request id instead of making a second one."
        ) from last
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
) -> SnapshotResult:
    return SnapshotResult(
        site=site,
        image_id=image.id,
        name=image.name,
        status=image.status,
        size=image.size,
        server_id=server.id,
        server_name=server.name,
        source_image_id=server.image_id,
        request_id=request_id,
        flow_run_id=current_flow_run_id(),
        reused=reused,
        tags=tags,
        warnings=warnings,
    )


def _final_tags(client: CloudClient, vm: Server, image: Image, mark: str | None) -> tuple[str, ...]:
    """The source image's tags (never its schedule marks), the image's own, and ``mark``."""
    source = tasks.get_image(client, vm.image_id) if vm.image_id else None
    inherited = {tag for tag in (source.tags if source else ()) if not is_schedule_mark(tag)}
    wanted = inherited | set(image.tags) | ({mark} if mark else set())
    tags = tuple(sorted(wanted))
    if not wanted <= set(image.tags):
        tasks.set_image_tags(client, image.id, tags)
        if inherited - set(image.tags):
            run_logger().info("Copied the source image's tags: %s", ", ".join(sorted(inherited)))
    return tags


def _mark(schedule: str | None, image_id: str) -> str | None:
    return schedule_mark(schedule, image_id) if schedule else None


@job_flow("create-snapshot", "snapshot-{name}")
def create_snapshot(
    site: str,
    server: str,
    name: str,
    request_id: str | None = None,
    timeout_s: float = 1800,
    properties: dict[str, str] | None = None,
) -> SnapshotResult:
    """Snapshot a VM and wait until the image is active.

    Args:
        site: The ``clouds.yaml`` entry of the site.
        server: The VM's id or exact name.
        name: The snapshot name (trimmed; must be unused in the project).
        request_id: Makes re-runs idempotent; defaults to one derived from site, server and name.
        timeout_s: Give up waiting after this many seconds (the snapshot may still finish).
        properties: Extra image properties to record (keys must start with ``denbi_``).

    Returns:
        The active snapshot (``reused`` True when an earlier run had made it).

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
        mark = _mark(extra.get(SCHEDULE_KEY), image_id)
        if mark:  # now, so that even a snapshot that ends killed is provably the schedule's
            tasks.set_image_tags(client, image_id, [mark])
    remaining = max(1.0, deadline - SYSTEM_CLOCK.now())
    image = tasks.await_snapshot(client, vm.id, image_id, remaining)
    tags = _final_tags(client, vm, image, _mark(extra.get(SCHEDULE_KEY), image.id))
    report(1.0, f"Snapshot {image.name!r} is active")
    return _result(site, image, vm, rid, tags=tags, reused=earlier is not None, warnings=warnings)
