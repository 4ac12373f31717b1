"""Boot a VM from an image or snapshot and hand back how to connect to it.

The flow resolves image, flavor and key pair (clear errors for each), asks Nova for the
server with the request id in its metadata, waits until ACTIVE with our own waiter (ERROR ends
the flow with Nova's fault message), optionally waits until the SSH port opens on the site's
gateway, and returns a :class:`~denbi_jupyter.cloud.results.BootResult` with the connection
details (:func:`denbi_jupyter.connect.details.connection_details`). A re-run with the same
request id finds the server it made before instead of booting a second one.
"""

from __future__ import annotations

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.results import BootResult
from denbi_jupyter.cloud.rules.lineage import desktop_source
from denbi_jupyter.cloud.rules.names import check_server_name
from denbi_jupyter.cloud.types import Flavor, Image, Limits, Server
from denbi_jupyter.connect.details import ConnectionDetails, connection_details
from denbi_jupyter.errors import (
    CloudUnavailableError,
    OperationFailedError,
    QuotaExceededError,
    UserInputError,
)
from flows import _tasks as tasks
from flows._ids import REQUEST_ID_KEY, derive_request_id
from flows._polling import LANDING_WINDOW_S, await_landing, unanswered
from flows._progress import current_flow_run_id, job_flow, report, run_logger
from flows._waiters import SYSTEM_CLOCK, Backoff

__all__ = ["boot_request_id", "boot_server", "check_quota"]

#: Longest wait for a server to become ACTIVE, in seconds.
BOOT_TIMEOUT_S = 900.0
#: Longest wait for the SSH port after ACTIVE, in seconds.
PORT_TIMEOUT_S = 300.0
_CREATE_ATTEMPTS = 3
_LANDING_BACKOFF = Backoff(first=0.25, factor=1.5, cap=2.0)


def boot_request_id(
    site: str, name: str, image_id: str, flavor_id: str, key_name: str | None = None
) -> str:
    """The default request id of "boot ``name`` from ``image_id`` as ``flavor_id`` with
    ``key_name``": a boot with another key pair is another request, never the earlier VM."""
    parts = [site, name.strip(), image_id, flavor_id]
    if key_name:
        parts.append(f"key={key_name}")
    return derive_request_id("boot", *parts)


def _existing(client: CloudClient, request_id: str) -> Server | None:
    for server in tasks.list_servers(client):
        if server.metadata.get(REQUEST_ID_KEY) == request_id:
            return server
    return None


def _check_key(client: CloudClient, key_name: str | None) -> None:
    if key_name is None:
        return
    names = [pair.name for pair in tasks.list_keypairs(client)]
    if key_name not in names:
        known = ", ".join(sorted(names)) or "none"
        raise UserInputError(
            f"There is no key pair {key_name!r} (yours: {known}). Import your public key "
            "first, or pick one of those."
        )


def check_quota(limits: Limits, flavor: Flavor) -> None:
    """Refuse a boot the project's quota cannot take (limits below 0 mean unlimited).

    Raises:
        QuotaExceededError: Instances, cores or RAM would go over the limit.
    """
    wanted = [
        ("instances", limits.used_instances, 1, limits.max_instances, ""),
        ("cores", limits.used_cores, flavor.vcpus, limits.max_cores, ""),
        ("RAM", limits.used_ram_mb, flavor.ram_mb, limits.max_ram_mb, " MB"),
    ]
    for what, used, more, limit, unit in wanted:
        if 0 <= limit < used + more:
            raise QuotaExceededError(
                f"Not enough {what} quota for {flavor.name}: the project uses {used}{unit} of "
                f"{limit}{unit} and the VM needs {more}{unit}. Delete a VM or pick a smaller "
                "flavor."
            )


def _find(client: CloudClient, request_id: str) -> Server | None:
    """The server of ``request_id`` by one plain listing (no task retries: a landing poll)."""
    return next(
        (s for s in client.list_servers() if s.metadata.get(REQUEST_ID_KEY) == request_id), None
    )


def _create(
    client: CloudClient,
    *,
    name: str,
    image: Image,
    flavor_id: str,
    key_name: str | None,
    request_id: str,
) -> Server:
    """Ask Nova for the server; after a lost answer, look for it (by request id, for a while:
    Nova may act on a request it got after we gave up) before asking again."""
    logger = run_logger()
    metadata = {REQUEST_ID_KEY: request_id}
    flow_run_id = current_flow_run_id()
    if flow_run_id:
        metadata["denbi_flow_run_id"] = flow_run_id
    last: CloudUnavailableError | None = None
    for attempt in range(1, _CREATE_ATTEMPTS + 1):
        try:
            return tasks.request_server(
                client,
                name=name,
                image_id=image.id,
                flavor_id=flavor_id,
                key_name=key_name,
                metadata=metadata,
            )
        except CloudUnavailableError as exc:
            last = exc
            logger.warning("Creating the server failed (%s); checking whether it went through", exc)
            window = LANDING_WINDOW_S if unanswered(exc) else 0.5 * attempt
            report(None, f"Nova did not confirm {name!r}; looking whether it was made")
            earlier = await_landing(
                lambda: _find(client, request_id),
                window_s=window,
                clock=SYSTEM_CLOCK,
                backoff=_LANDING_BACKOFF,
            )
            if earlier is not None:
                logger.info("Nova made server %s after all; following it", earlier.id)
                return earlier
    if last is not None and unanswered(last):
        raise OperationFailedError(
            f"Nova did not answer the request to boot {name!r} ({_CREATE_ATTEMPTS} attempts, "
            f"last: {last}). Nova may still be creating the server: check the server list in a "
            "few minutes; running the same boot again finds it by its request id instead of "
            "booting a second one."
        ) from last
    raise OperationFailedError(
        f"Could not ask Nova to boot {name!r} after {_CREATE_ATTEMPTS} attempts ({last}). "
        "Try again later."
    ) from last


def _connection(
    client: CloudClient, server: Server, image: Image
) -> tuple[ConnectionDetails | None, str | None]:
    # A snapshot's desktop is that of the image it was made from (no re-read of ``image``).
    image = desktop_source(image, client.get_image)
    try:
        return connection_details(client.site, server, image), None
    except UserInputError as exc:  # no gateway settings or no address: say so, do not fail
        return None, str(exc)


@job_flow("boot-server", "boot-{name}")
def boot_server(
    site: str,
    image: str,
    flavor: str,
    key_name: str | None,
    name: str,
    wait_for_port: bool = False,
    request_id: str | None = None,
) -> BootResult:
    """Boot a VM and wait until it is ACTIVE (and, if asked, until SSH answers).

    Args:
        site: The ``clouds.yaml`` entry of the site.
        image: Image or snapshot, by id or exact name.
        flavor: Flavor, by id or name.
        key_name: The key pair to install, or None.
        name: The server name.
        wait_for_port: Also wait until the SSH port on the gateway accepts connections.
        request_id: Makes re-runs idempotent; defaults to one derived from the request.

    Returns:
        The ACTIVE server, with ``connection`` (None and ``unreachable_reason`` when no
        gateway leads to it), ``request_id`` and ``reused``.

    Raises:
        UserInputError: Empty name, unknown key pair.
        NotFoundError: Unknown image or flavor.
        OperationFailedError: The server went to ERROR, vanished, or timed out.
    """
    logger = run_logger()
    clean = check_server_name(name)
    report(0.0, f"Resolving image, flavor and key on {site}")
    client = tasks.open_site(site)
    source = tasks.find_image(client, image)
    size = tasks.find_flavor(client, flavor)
    _check_key(client, key_name)
    rid = request_id or boot_request_id(site, clean, source.id, size.id, key_name)
    server = _existing(client, rid)
    reused = server is not None
    if server is not None:
        logger.info("Server %s of this request exists already (%s)", server.id, server.status)
    else:
        check_quota(tasks.limits(client), size)
        report(0.05, f"Nova: creating {clean!r} ({size.name}, {source.name})")
        server = _create(
            client, name=clean, image=source, flavor_id=size.id, key_name=key_name, request_id=rid
        )
        logger.info("Nova accepted server %s", server.id)
    active = tasks.await_server_active(client, server.id, BOOT_TIMEOUT_S)
    details, unreachable = _connection(client, active, source)
    if wait_for_port and details is not None:
        tasks.await_port(details.host, details.port, PORT_TIMEOUT_S)
    report(1.0, f"{active.name} is ACTIVE")
    return BootResult(
        site=site,
        server_id=active.id,
        name=active.name,
        status=active.status,
        image_id=source.id,
        image_name=source.name,
        flavor=size.name,
        key_name=active.key_name,
        private_ipv4=active.private_ipv4,
        request_id=rid,
        reused=reused,
        flow_run_id=current_flow_run_id(),
        connection=details,
        unreachable_reason=unreachable,
    )
