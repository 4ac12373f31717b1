"""Stop, start, reboot or delete one VM, and follow Nova until it has settled.

Each flow finds the VM (by id or exact name), asks
:func:`~denbi_jupyter.cloud.rules.servers.action_refusal` whether the action is allowed now
(refused: :class:`~denbi_jupyter.errors.ConflictError` with the rule's reason, before any
request that changes something), sends the one Nova request, and polls until the VM is
SHUTOFF (stop), ACTIVE (start, and reboot once it is back) or gone (delete: Nova answers 404).
Each returns a :class:`~denbi_jupyter.cloud.results.ServerActionResult`.

A delete is refused while a snapshot of the VM is being taken or uploaded: Nova would carry
it out and destroy the snapshot.
"""

from __future__ import annotations

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.results import ServerActionResult
from denbi_jupyter.cloud.rules.servers import TARGET_STATUS, ServerAction, action_refusal
from denbi_jupyter.cloud.types import Server
from denbi_jupyter.errors import (
    CloudUnavailableError,
    ConflictError,
    OperationFailedError,
    UserInputError,
)
from flows import _tasks as tasks
from flows._polling import LANDING_WINDOW_S, await_landing, unanswered
from flows._progress import current_flow_run_id, job_flow, report, run_logger
from flows._waiters import SYSTEM_CLOCK, Backoff

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "delete_server",
    "reboot_server",
    "run_server_action",
    "start_server",
    "stop_server",
]

#: Seconds a flow waits for Nova to settle (a real cloud stops a VM in well under a minute).
DEFAULT_TIMEOUT_S = 600.0


def run_server_action(
    site: str, server: str, action: ServerAction, timeout_s: float
) -> ServerActionResult:
    """The body of every lifecycle flow: find, judge, ask Nova, wait.

    Raises:
        UserInputError: No server named, or a timeout that is not positive.
        NotFoundError: No such server in the project.
        ConflictError: The rule refuses the action now (the message says why).
        OperationFailedError: Nova did not settle (ERROR, vanished, timeout).
    """
    if not server.strip():
        raise UserInputError(f"No server given: name the VM to {action.value} (name or id).")
    if timeout_s <= 0:
        raise UserInputError(f"timeout_s must be more than 0 seconds, not {timeout_s}.")
    client = tasks.open_site(site)
    report(0.0, f"Finding {server.strip()}")
    found = tasks.find_server(client, server.strip())
    refusal = action_refusal(found, action)
    if refusal is not None:
        run_logger().info("%s refused: %s", action.value, refusal.reason)
        raise ConflictError(refusal.reason)
    report(0.1, f"Asking Nova to {action.value} {found.name}")
    _request(client, found, action)
    target = TARGET_STATUS[action]
    if target is None:
        tasks.await_server_gone(client, found.id, timeout_s)
        status = "DELETED"
    else:
        status = tasks.await_server_status(client, found.id, target, timeout_s).status
    report(1.0, f"{found.name}: {status}")
    return ServerActionResult(
        site=site,
        server_id=found.id,
        name=found.name,
        action=action,
        status=status,
        flow_run_id=current_flow_run_id(),
    )


def _request(client: CloudClient, found: Server, action: ServerAction) -> None:
    """Send the one request; when its answer is lost, look (for a while) whether Nova acts on
    it, since a second request would meet a 409 (or delete a VM made since)."""
    try:
        tasks.request_server_action(client, found, action)
    except CloudUnavailableError as exc:
        if not unanswered(exc):
            raise
        run_logger().warning("No answer to %s (%s); looking whether Nova acts", action.value, exc)
        sign = await_landing(
            lambda: _acted_on(client, found),
            window_s=LANDING_WINDOW_S,
            clock=SYSTEM_CLOCK,
            backoff=Backoff(first=0.25, factor=1.5, cap=2.0),
        )
        if sign is None:
            raise OperationFailedError(
                f"Nova did not answer the request to {action.value} {found.name!r} ({exc}), "
                f"and {found.name!r} shows no sign of it after {LANDING_WINDOW_S:.0f} s. "
                "Check its state (it may still change), then try again."
            ) from exc


def _acted_on(client: CloudClient, found: Server) -> str | None:
    """A sign that Nova took up a request about ``found`` (its task or status changed)."""
    now = client.get_server(found.id)
    if now is None:
        return "gone"
    if now.task_state or now.status != found.status:
        return now.task_state or now.status
    return None


@job_flow("stop-server", "stop-{server}")
def stop_server(site: str, server: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> ServerActionResult:
    """Stop a VM (Nova ``os-stop``) and wait until it is SHUTOFF.

    Args:
        site: The ``clouds.yaml`` entry of the site.
        server: The VM's id or exact name.
        timeout_s: Seconds to wait for SHUTOFF.
    """
    return run_server_action(site, server, ServerAction.STOP, timeout_s)


@job_flow("start-server", "start-{server}")
def start_server(
    site: str, server: str, timeout_s: float = DEFAULT_TIMEOUT_S
) -> ServerActionResult:
    """Start a SHUTOFF VM (Nova ``os-start``) and wait until it is ACTIVE.

    Args:
        site: The ``clouds.yaml`` entry of the site.
        server: The VM's id or exact name.
        timeout_s: Seconds to wait for ACTIVE.
    """
    return run_server_action(site, server, ServerAction.START, timeout_s)


@job_flow("reboot-server", "reboot-{server}")
def reboot_server(
    site: str, server: str, hard: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S
) -> ServerActionResult:
    """Reboot an ACTIVE VM (soft, or ``hard``) and wait until it is ACTIVE again.

    Args:
        site: The ``clouds.yaml`` entry of the site.
        server: The VM's id or exact name.
        hard: Reset the VM instead of asking its guest to reboot (also works when SHUTOFF).
        timeout_s: Seconds to wait for ACTIVE.
    """
    action = ServerAction.HARD_REBOOT if hard else ServerAction.REBOOT
    return run_server_action(site, server, action, timeout_s)


@job_flow("delete-server", "delete-{server}")
def delete_server(
    site: str, server: str, timeout_s: float = DEFAULT_TIMEOUT_S
) -> ServerActionResult:
    """Delete a VM and wait until Nova no longer knows it; refused while it is snapshotted.

    Args:
        site: The ``clouds.yaml`` entry of the site.
        server: The VM's id or exact name.
        timeout_s: Seconds to wait until it is gone.
    """
    return run_server_action(site, server, ServerAction.DELETE, timeout_s)
