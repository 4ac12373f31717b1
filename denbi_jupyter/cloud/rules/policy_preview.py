"""What a snapshot policy means for one VM now: next runs, retention, the last policy snapshot.

Pure, shared by the CLI (``policy preview``) and the Servers view: the facts (a policy, the
images of its schedule, the time) come in; a :class:`PolicyPreview` goes out whose decisions
are exactly those a policy run would make now (:func:`~.retention.explain_retention`).
:func:`last_policy_snapshot` is a VM's newest snapshot its schedule's mark proves its own, and
:func:`compose_policy` builds a :data:`~.policy.POLICY_KEY` value from its parts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.rules.policy import POLICY_KEY, PolicyError, SnapshotPolicy, parse_policy
from denbi_jupyter.cloud.rules.policy_runs import POLICY_SCHEDULE, policy_slot
from denbi_jupyter.cloud.rules.retention import (
    NIGHTLY,
    SCHEDULE_KEY,
    RetentionDecision,
    explain_retention,
    made_by_schedule,
)
from denbi_jupyter.cloud.types import Image

__all__ = [
    "NEXT_RUNS",
    "PolicyPreview",
    "compose_policy",
    "last_policy_snapshot",
    "local_time",
    "policy_slot",
    "preview_policy",
    "schedule_of",
]

#: How many upcoming run times a preview shows.
NEXT_RUNS = 3
_COUNTS = ("keep", "max_age_days")


@dataclass(frozen=True, slots=True)
class PolicyPreview:
    """A policy applied to one VM's snapshots of a schedule, as a run now would decide."""

    policy: SnapshotPolicy
    schedule: str
    #: The next run times (UTC).
    next_runs: tuple[dt.datetime, ...]
    #: Keep or delete, with the reason, for each of the VM's snapshots of ``schedule``.
    decisions: tuple[RetentionDecision, ...]

    @property
    def deleted(self) -> tuple[RetentionDecision, ...]:
        """The decisions that delete."""
        return tuple(d for d in self.decisions if d.delete)

    @property
    def kept(self) -> tuple[RetentionDecision, ...]:
        """The decisions that keep."""
        return tuple(d for d in self.decisions if not d.delete)


def schedule_of(metadata: Mapping[str, str]) -> str:
    """The schedule a VM's policy snapshots carry: the policy's, or the legacy nightly one."""
    return POLICY_SCHEDULE if POLICY_KEY in metadata else NIGHTLY


def local_time(when: dt.datetime, policy: SnapshotPolicy | None = None) -> str:
    """``2026-12-02 02:00 CET``: ``when`` in the policy's zone (UTC without a policy)."""
    zone = policy.zone if policy is not None else dt.UTC
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def compose_policy(
    *, when: str, timezone: str, keep_last: str = "", max_age_days: str = ""
) -> SnapshotPolicy:
    """The policy of these parts (empty counts are left out).

    Raises:
        PolicyError: A part holds ``;`` or ``=``, or the domain core refuses the value.
    """
    parts = {"when": when, "tz": timezone, "keep": keep_last, "max_age_days": max_age_days}
    for name, part in parts.items():
        if ";" in part or "=" in part:
            raise PolicyError(f"{name} {part.strip()!r} may not hold ';' or '='.")
    text = [when.strip(), f"tz={timezone.strip() or 'UTC'}"]
    text += [f"{k}={v.strip()}" for k, v in parts.items() if k in _COUNTS and v.strip()]
    return parse_policy("; ".join(text))


def _of_server(images: Iterable[Image], server_id: str) -> list[Image]:
    """The images whose provenance names ``server_id`` as their source VM."""
    return [i for i in images if i.properties.get(SOURCE_SERVER_ID) == server_id]


def preview_policy(
    policy: SnapshotPolicy,
    images: Iterable[Image],
    *,
    server_id: str,
    schedule: str,
    now: dt.datetime,
) -> PolicyPreview:
    """What ``policy`` would delete and keep of ``server_id``'s snapshots of ``schedule`` now.

    ``images`` may hold other VMs' and other schedules' images (left out, as the run lists
    only ``schedule``'s) and unmarked ones (kept, said why).
    """
    own = [i for i in _of_server(images, server_id) if i.properties.get(SCHEDULE_KEY) == schedule]
    decisions = explain_retention(
        own,
        keep_last=policy.keep_last,
        max_age_days=policy.max_age_days,
        now=now,
        schedule=schedule,
    )
    runs = tuple(policy.next_runs(now, NEXT_RUNS))
    return PolicyPreview(policy, schedule, runs, tuple(decisions))


def last_policy_snapshot(images: Iterable[Image], *, server_id: str, schedule: str) -> Image | None:
    """``server_id``'s newest snapshot (by slot) that ``schedule``'s mark proves its own."""
    own = [i for i in _of_server(images, server_id) if made_by_schedule(i, schedule)]
    return max(own, key=lambda i: (policy_slot(i), i.created_at), default=None)
