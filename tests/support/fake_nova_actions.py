"""Nova's ``POST /servers/{id}/action`` for :class:`~tests.support.fake_gateway.FakeGateway`.

What Nova does, and so the fake: ``os-stop`` needs vm_state active or error, ``os-start``
stopped, a ``SOFT`` reboot active, a ``HARD`` reboot active, stopped or error; each answers
409 ``Cannot 'stop' instance … while it is in vm_state …`` (or ``task_state …`` while another
task runs, or ``Instance … is locked``). Accepted, the server takes the action's task_state
at once and then, one step per ``get_server``, the states of :data:`ACTION_STEPS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ACTION_STEPS", "ActionPlan", "plan_action"]

Steps = tuple[tuple[str, str | None], ...]

#: (status, task_state) per read after each accepted action; the last one sticks.
ACTION_STEPS: Mapping[str, Steps] = {
    "os-stop": (("ACTIVE", "powering-off"), ("SHUTOFF", None)),
    "os-start": (("SHUTOFF", "powering-on"), ("ACTIVE", None)),
    "SOFT": (("REBOOT", "rebooting"), ("REBOOT", "reboot_started"), ("ACTIVE", None)),
    "HARD": (("HARD_REBOOT", "rebooting_hard"), ("ACTIVE", None)),
}
_NOVA_VERB = {"os-stop": "stop", "os-start": "start", "SOFT": "reboot", "HARD": "reboot"}
_VM_STATES = {
    "os-stop": ("ACTIVE", "ERROR"),
    "os-start": ("SHUTOFF",),
    "SOFT": ("ACTIVE",),
    "HARD": ("ACTIVE", "SHUTOFF", "ERROR"),
}
_VM_STATE_OF = {"SHUTOFF": "stopped"}


@dataclass(frozen=True, slots=True)
class ActionPlan:
    """What the action does: its steps, or the HTTP error (status, message) Nova answers."""

    steps: Steps = ()
    error: tuple[int, str] | None = None


def _kind(action: str, argument: object) -> str | None:
    if action in ("os-stop", "os-start"):
        return action
    if action == "reboot" and isinstance(argument, Mapping):
        kind = str(argument.get("type", "")).upper()
        return kind if kind in ("SOFT", "HARD") else None
    return None


def plan_action(record: Mapping[str, Any], action: str, argument: object) -> ActionPlan:
    """How Nova answers ``{action: argument}`` for the server ``record``."""
    kind = _kind(action, argument)
    server_id = record["id"]
    if kind is None:
        return ActionPlan(error=(400, f"There is no such action: {action} {argument!r}"))
    if record.get("locked"):
        return ActionPlan(error=(409, f"Instance {server_id} is locked"))
    verb = _NOVA_VERB[kind]
    task_state = record.get("OS-EXT-STS:task_state")
    if task_state:
        message = f"Cannot '{verb}' instance {server_id} while it is in task_state {task_state}"
        return ActionPlan(error=(409, message))
    status = str(record.get("status"))
    if status not in _VM_STATES[kind]:
        vm_state = _VM_STATE_OF.get(status, status.lower())
        message = f"Cannot '{verb}' instance {server_id} while it is in vm_state {vm_state}"
        return ActionPlan(error=(409, message))
    return ActionPlan(steps=ACTION_STEPS[kind])
