"""May this VM be stopped, started, rebooted or deleted now? One rule, with a typed reason.

The verdict comes from the server as just read (pure). It follows Nova's own checks (``os-stop``
needs vm_state active or error, ``os-start`` stopped, a soft reboot active, a hard reboot
active, stopped or error) and adds one of ours: a VM whose snapshot is being taken or uploaded
(Nova task_state ``image_snapshot_pending``, ``image_snapshot``, ``image_pending_upload``,
``image_uploading``, ``image_backup``) is not deleted, since Nova would delete it and destroy
the snapshot. A locked VM is refused every action, and a VM busy with another task (any
task_state) is refused stop, start and reboot. A delete is allowed during other tasks, so a
VM stuck in BUILD can always go.

The client (:mod:`denbi_jupyter.cloud._server_actions`) and the flows (``flows/servers.py``)
both ask :func:`action_refusal`; panels may ask it to grey out a button.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from denbi_jupyter.cloud.types import Server

__all__ = [
    "SNAPSHOT_TASK_PREFIX",
    "TARGET_STATUS",
    "ActionRefusal",
    "ServerAction",
    "ServerRefusal",
    "action_refusal",
    "is_snapshotting",
]

#: Nova task states of a snapshot (or backup) in progress all start with this.
SNAPSHOT_TASK_PREFIX = "image_"


class ServerAction(StrEnum):
    """What can be done to a VM; the value is the verb shown to people."""

    STOP = "stop"
    START = "start"
    REBOOT = "reboot"
    HARD_REBOOT = "hard reboot"
    DELETE = "delete"


#: The status a VM settles in after each action (None: it is gone, Nova answers 404).
TARGET_STATUS: Mapping[ServerAction, str | None] = {
    ServerAction.STOP: "SHUTOFF",
    ServerAction.START: "ACTIVE",
    ServerAction.REBOOT: "ACTIVE",
    ServerAction.HARD_REBOOT: "ACTIVE",
    ServerAction.DELETE: None,
}

#: The statuses Nova accepts each action in (delete: any).
_ALLOWED_STATUS: Mapping[ServerAction, frozenset[str]] = {
    ServerAction.STOP: frozenset({"ACTIVE", "ERROR"}),
    ServerAction.START: frozenset({"SHUTOFF"}),
    ServerAction.REBOOT: frozenset({"ACTIVE"}),
    ServerAction.HARD_REBOOT: frozenset({"ACTIVE", "SHUTOFF", "ERROR"}),
}


class ActionRefusal(StrEnum):
    """Why an action is refused now; the value is the short text shown to people."""

    LOCKED = "locked"
    SNAPSHOT_IN_PROGRESS = "a snapshot is being taken"
    BUSY = "busy with another task"
    ALREADY_STOPPED = "already stopped"
    ALREADY_RUNNING = "already running"
    NOT_RUNNING = "not running"
    WRONG_STATE = "not in a state that allows it"


@dataclass(frozen=True, slots=True)
class ServerRefusal:
    """An action refused: the kind (for code) and one sentence saying what to do (for people)."""

    kind: ActionRefusal
    reason: str


def is_snapshotting(server: Server) -> bool:
    """True while Nova takes or uploads a snapshot (or backup) of the server."""
    return bool(server.task_state and server.task_state.startswith(SNAPSHOT_TASK_PREFIX))


def _state_refusal(server: Server, action: ServerAction) -> ActionRefusal | None:
    allowed = _ALLOWED_STATUS[action]
    if server.status in allowed:
        return None
    if action is ServerAction.STOP and server.status == "SHUTOFF":
        return ActionRefusal.ALREADY_STOPPED
    if action is ServerAction.START and server.status == "ACTIVE":
        return ActionRefusal.ALREADY_RUNNING
    if action is ServerAction.REBOOT and server.status == "SHUTOFF":
        return ActionRefusal.NOT_RUNNING
    return ActionRefusal.WRONG_STATE


def _reason(server: Server, action: ServerAction, kind: ActionRefusal) -> str:
    vm = f"VM {server.name!r} ({server.id})"
    sentences = {
        ActionRefusal.LOCKED: f"{vm} is locked: unlock it first if you mean to {action.value} it.",
        ActionRefusal.SNAPSHOT_IN_PROGRESS: (
            f"{vm} is taking a snapshot ({server.task_state}); deleting it now would destroy "
            "the snapshot. Wait until the snapshot is active, then delete."
        ),
        ActionRefusal.BUSY: (
            f"{vm} is busy ({server.task_state}): wait until that is done, then {action.value} it."
        ),
        ActionRefusal.ALREADY_STOPPED: f"{vm} is already stopped (SHUTOFF): nothing to stop.",
        ActionRefusal.ALREADY_RUNNING: f"{vm} is already running (ACTIVE): nothing to start.",
        ActionRefusal.NOT_RUNNING: f"{vm} is stopped (SHUTOFF): start it instead of rebooting.",
        ActionRefusal.WRONG_STATE: (
            f"{vm} is {server.status}: Nova cannot {action.value} it in that state."
        ),
    }
    return sentences[kind]


def action_refusal(server: Server, action: ServerAction) -> ServerRefusal | None:
    """Why ``action`` may not be done to ``server`` now, or None when it may (pure).

    Args:
        server: The VM as just read.
        action: What the user asks for.
    """
    kind: ActionRefusal | None
    if server.locked:
        kind = ActionRefusal.LOCKED
    elif action is ServerAction.DELETE:
        kind = ActionRefusal.SNAPSHOT_IN_PROGRESS if is_snapshotting(server) else None
    elif server.task_state:
        kind = ActionRefusal.BUSY
    else:
        kind = _state_refusal(server, action)
    return None if kind is None else ServerRefusal(kind=kind, reason=_reason(server, action, kind))
