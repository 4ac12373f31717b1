"""What one policy run does with each VM: snapshot it now (for which slot), or why not.

Pure: the facts (the project's servers, the snapshots policy runs made, the time) come in, a
:class:`PolicyPlan` per opted-in VM goes out. A VM is due when its policy has a run time in
``(done, now]`` no older than the catch-up window (:meth:`SnapshotPolicy.due_slot`); ``done``
is the newest slot a good (not failed) snapshot of that VM records in :data:`SLOT_KEY`, or its
creation time for snapshots made before slots were recorded. So re-running a slot never makes
a second snapshot, and a failed one is tried again while the slot is within the window.

Snapshots of VMs opted in with a policy carry ``denbi_schedule=snapshot_policy``; VMs still on
the old ``denbi_nightly`` marker keep the ``nightly_snapshots`` schedule, so the history their
retention counts goes on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.rules.policy import (
    DEFAULT_CATCH_UP,
    POLICY_KEY,
    PolicyError,
    SnapshotPolicy,
    policy_of,
)
from denbi_jupyter.cloud.rules.retention import NIGHTLY, made_by_schedule
from denbi_jupyter.cloud.types import Image, Server

__all__ = [
    "POLICY_SCHEDULE",
    "SLOT_KEY",
    "PolicyPlan",
    "plan_policy_run",
    "policy_slot",
    "slot_text",
]

#: The ``denbi_schedule`` value of snapshots made by policy runs.
POLICY_SCHEDULE = "snapshot_policy"
#: Image property: the policy run time (UTC, ISO 8601) a snapshot was made for.
SLOT_KEY = "denbi_policy_slot"
_FAILED = frozenset({"killed", "error", "deleted"})


@dataclass(frozen=True, slots=True)
class PolicyPlan:
    """One opted-in VM in one policy run."""

    server: Server
    #: The VM's policy; None when its metadata value cannot be used (``error`` says why).
    policy: SnapshotPolicy | None
    #: The schedule its snapshots are marked with (``snapshot_policy`` or the legacy nightly).
    schedule: str
    #: The run time to snapshot for now; None when not due.
    due: dt.datetime | None
    #: The newest slot already done.
    done: dt.datetime | None
    #: The next run time after now.
    next_run: dt.datetime | None
    #: Why the VM is (not) snapshotted in this run, for the report.
    reason: str
    error: str = ""


def slot_text(slot: dt.datetime) -> str:
    """The :data:`SLOT_KEY` value of ``slot``."""
    return slot.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def policy_slot(image: Image) -> dt.datetime:
    """The run time a policy snapshot was made for (:data:`SLOT_KEY`), else its creation."""
    raw = image.properties.get(SLOT_KEY, "")
    try:
        return dt.datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return image.created_at


def _done_by_server(images: Iterable[Image], schedule: str) -> dict[str, dt.datetime]:
    done: dict[str, dt.datetime] = {}
    for image in images:
        if image.status in _FAILED or not made_by_schedule(image, schedule):
            continue
        server_id = image.properties.get(SOURCE_SERVER_ID, "")
        slot = policy_slot(image)
        if server_id not in done or slot > done[server_id]:
            done[server_id] = slot
    return done


def _local(when: dt.datetime, policy: SnapshotPolicy) -> str:
    return when.astimezone(policy.zone).strftime("%Y-%m-%d %H:%M %Z")


def plan_policy_run(
    servers: Sequence[Server],
    snapshots: Sequence[Image],
    *,
    now: dt.datetime,
    catch_up: dt.timedelta = DEFAULT_CATCH_UP,
) -> list[PolicyPlan]:
    """A plan for every VM with a policy (or the legacy marker), in the servers' order.

    ``snapshots`` are the images of both schedules (``denbi_schedule`` property); only those
    a schedule's mark proves its own count as done.
    """
    done_by: Mapping[str, Mapping[str, dt.datetime]] = {
        schedule: _done_by_server(snapshots, schedule) for schedule in (POLICY_SCHEDULE, NIGHTLY)
    }
    plans: list[PolicyPlan] = []
    for server in servers:
        schedule = POLICY_SCHEDULE if POLICY_KEY in server.metadata else NIGHTLY
        try:
            policy = policy_of(server.metadata)
        except PolicyError as exc:
            plans.append(
                PolicyPlan(server, None, schedule, None, None, None, "policy unusable", str(exc))
            )
            continue
        if policy is None:
            continue
        done = done_by[schedule].get(server.id)
        due = policy.due_slot(now, done=done, catch_up=catch_up)
        upcoming = policy.next_runs(now, 1)
        next_run = upcoming[0] if upcoming else None
        if due is not None:
            reason = f"due for {_local(due, policy)}"
        elif done is not None and now - done <= catch_up:
            reason = f"already snapshotted for {_local(done, policy)}"
        else:
            reason = "not due" + (f": next run {_local(next_run, policy)}" if next_run else "")
        plans.append(PolicyPlan(server, policy, schedule, due, done, next_run, reason))
    return plans
