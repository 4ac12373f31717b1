"""Which scheduled snapshots a schedule may delete: its own mark, then keep-last and age.

**The ownership mark.** A schedule recognises its own snapshots by a mark that no copy can
inherit: the tag ``denbi-schedule:<schedule>:<image id>``, which names the snapshot's *own*
image id and is set by the snapshot flow right after Nova accepted the createImage (and again
once the image is active). Property ``denbi_schedule`` alone proves nothing: Nova copies the
source image's properties into every snapshot of a VM booted from it, and the snapshot flow
then rewrites the provenance (``denbi_source_server_id``) to the new VM, so a hand-made
snapshot of a VM booted from a nightly snapshot looks exactly like a nightly one. A copied mark
tag (de.NBI's portal and our flow copy the source image's tags) still names the *source*
image's id, never the copy's, so it does not match.

**Old scheduled snapshots without the mark** (made before the mark existed, or whose flow
stopped between createImage and the mark) cannot be proven the schedule's: they are never
deleted; :func:`split_by_mark` reports them so a person can decide (delete them by hand).

**Retention per source VM** (among marked snapshots): keep the newest ``keep_last`` active
ones; with ``max_age_days`` also drop those older than that (either rule alone, or both), but
never the newest one (a schedule that stopped working does not delete the last good snapshot).
Failed (``killed``, ``error``) marked snapshots are always removed; snapshots still in progress
never are, nor protected ones.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.types import Image, Server
from denbi_jupyter.errors import UserInputError

__all__ = [
    "NIGHTLY",
    "SCHEDULE_KEY",
    "RetentionDecision",
    "check_retention",
    "explain_retention",
    "is_schedule_mark",
    "made_by_schedule",
    "marked_servers",
    "plan_retention",
    "schedule_mark",
    "split_by_mark",
]

#: Image property naming the scheduled flow that made a snapshot (what Glance filters on).
SCHEDULE_KEY = "denbi_schedule"
#: The ``denbi_schedule`` value of snapshots made by the nightly schedule.
NIGHTLY = "nightly_snapshots"
_MARK_PREFIX = "denbi-schedule:"
_OFF_VALUES = frozenset({"", "0", "false", "no", "off"})
_FAILED = frozenset({"killed", "error"})


def schedule_mark(schedule: str, image_id: str) -> str:
    """The tag by which ``schedule`` knows image ``image_id`` as its own."""
    return f"{_MARK_PREFIX}{schedule}:{image_id}"


def is_schedule_mark(tag: str) -> bool:
    """True for any schedule's mark tag (such tags are never copied to another image)."""
    return tag.startswith(_MARK_PREFIX)


def made_by_schedule(image: Image, schedule: str) -> bool:
    """True when ``image`` carries ``schedule``'s property *and* the mark naming its own id."""
    return (
        image.properties.get(SCHEDULE_KEY) == schedule
        and schedule_mark(schedule, image.id) in image.tags
    )


def split_by_mark(images: Iterable[Image], schedule: str) -> tuple[list[Image], list[Image]]:
    """``(proven, unproven)``: images that are ``schedule``'s by its mark, and the rest."""
    proven: list[Image] = []
    unproven: list[Image] = []
    for image in images:
        (proven if made_by_schedule(image, schedule) else unproven).append(image)
    return proven, unproven


def marked_servers(servers: Iterable[Server], metadata_key: str) -> list[Server]:
    """Servers whose metadata has ``metadata_key`` set to anything but an "off" value."""
    return [
        server
        for server in servers
        if metadata_key in server.metadata
        and server.metadata[metadata_key].strip().lower() not in _OFF_VALUES
    ]


def check_retention(*, keep_last: int | None, max_age_days: float | None) -> None:
    """Refuse retention settings that could delete every snapshot of a VM.

    Raises:
        UserInputError: Neither rule given, ``keep_last`` below 1 or ``max_age_days`` not
            positive.
    """
    if keep_last is None and max_age_days is None:
        raise UserInputError("Give keep_last, max_age_days or both: nothing says what to keep.")
    if keep_last is not None and keep_last < 1:
        raise UserInputError(f"keep_last must be at least 1, not {keep_last}.")
    if max_age_days is not None and max_age_days <= 0:
        raise UserInputError(f"max_age_days must be positive, not {max_age_days}.")


@dataclass(frozen=True, slots=True)
class RetentionDecision:
    """What retention does with one snapshot, and why (in words for people)."""

    image: Image
    delete: bool
    reason: str


def _age_days(days: float) -> str:
    return f"{days:g} day" + ("" if days == 1 else "s")


def _decide_active(
    active: Sequence[Image], *, keep_last: int | None, max_age_days: float | None, now: dt.datetime
) -> list[RetentionDecision]:
    """One VM's active snapshots (newest first): beyond keep-last or too old go."""
    decisions: list[RetentionDecision] = []
    for index, image in enumerate(active):
        if index == 0:
            decisions.append(RetentionDecision(image, False, "the newest good snapshot"))
            continue
        if keep_last is not None and index >= keep_last:
            reason = f"beyond the last {keep_last}"
            decisions.append(RetentionDecision(image, True, reason))
        elif max_age_days is not None and now - image.created_at > dt.timedelta(days=max_age_days):
            reason = f"older than {_age_days(max_age_days)}"
            decisions.append(RetentionDecision(image, True, reason))
        elif keep_last is not None:
            decisions.append(RetentionDecision(image, False, f"within the last {keep_last}"))
        else:
            reason = f"younger than {_age_days(max_age_days or 0)}"
            decisions.append(RetentionDecision(image, False, reason))
    return decisions


def explain_retention(
    images: Sequence[Image],
    *,
    keep_last: int | None,
    max_age_days: float | None,
    now: dt.datetime,
    schedule: str = NIGHTLY,
) -> list[RetentionDecision]:
    """A decision with its reason for each of ``images``, oldest first (pure).

    The rules are the module docstring's; a retention run deletes exactly the decisions with
    ``delete`` set, so a preview built on this function is what the run then does.
    """
    check_retention(keep_last=keep_last, max_age_days=max_age_days)
    proven, unproven = split_by_mark(images, schedule)
    decisions = [
        RetentionDecision(image, False, "not made by this schedule (by hand, or unmarked)")
        for image in unproven
    ]
    by_server: dict[str, list[Image]] = defaultdict(list)
    for image in proven:
        by_server[image.properties.get(SOURCE_SERVER_ID, "")].append(image)
    for group in by_server.values():
        active = sorted(
            (image for image in group if image.status == "active"),
            key=lambda image: image.created_at,
            reverse=True,
        )
        decisions += _decide_active(active, keep_last=keep_last, max_age_days=max_age_days, now=now)
        for image in group:
            if image.status in _FAILED:
                decisions.append(RetentionDecision(image, True, f"failed ({image.status})"))
            elif image.status != "active":
                decisions.append(RetentionDecision(image, False, f"still {image.status}"))
    protected = [
        RetentionDecision(d.image, False, "protected") if d.delete and d.image.protected else d
        for d in decisions
    ]
    return sorted(protected, key=lambda d: d.image.created_at)


def plan_retention(
    images: Sequence[Image],
    *,
    keep_last: int | None,
    max_age_days: float | None,
    now: dt.datetime,
    schedule: str = NIGHTLY,
) -> list[Image]:
    """Which of ``images`` to delete, oldest first: :func:`explain_retention`'s deletions.

    Only images :func:`made_by_schedule` proves ``schedule``'s are ever candidates.
    """
    decisions = explain_retention(
        images, keep_last=keep_last, max_age_days=max_age_days, now=now, schedule=schedule
    )
    return [decision.image for decision in decisions if decision.delete]
