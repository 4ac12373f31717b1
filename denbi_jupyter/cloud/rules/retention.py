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
ones; with ``max_age_days`` also drop those older than that, but never the newest one (a
schedule that stopped working does not delete the last good snapshot). Failed (``killed``,
``error``) marked snapshots are always removed; snapshots still in progress never are.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.types import Image, Server
from denbi_jupyter.errors import UserInputError

__all__ = [
    "NIGHTLY",
    "SCHEDULE_KEY",
    "check_retention",
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


def check_retention(*, keep_last: int, max_age_days: float | None) -> None:
    """Refuse retention settings that could delete every snapshot of a VM.

    Raises:
        UserInputError: ``keep_last`` below 1 or ``max_age_days`` not positive.
    """
    if keep_last < 1:
        raise UserInputError(f"keep_last must be at least 1, not {keep_last}.")
    if max_age_days is not None and max_age_days <= 0:
        raise UserInputError(f"max_age_days must be positive, not {max_age_days}.")


def _expired(
    active: Sequence[Image], *, keep_last: int, max_age_days: float | None, now: dt.datetime
) -> list[Image]:
    """Of one VM's active snapshots (newest first), those beyond keep-last or too old."""
    doomed: list[Image] = []
    for index, image in enumerate(active):
        too_many = index >= keep_last
        too_old = (
            max_age_days is not None
            and index > 0
            and now - image.created_at > dt.timedelta(days=max_age_days)
        )
        if too_many or too_old:
            doomed.append(image)
    return doomed


def plan_retention(
    images: Sequence[Image],
    *,
    keep_last: int,
    max_age_days: float | None,
    now: dt.datetime,
    schedule: str = NIGHTLY,
) -> list[Image]:
    """Which of ``images`` to delete, oldest first (pure; rules in the module docstring).

    Only images :func:`made_by_schedule` proves ``schedule``'s are ever candidates.
    """
    check_retention(keep_last=keep_last, max_age_days=max_age_days)
    by_server: dict[str, list[Image]] = defaultdict(list)
    for image in split_by_mark(images, schedule)[0]:
        by_server[image.properties.get(SOURCE_SERVER_ID, "")].append(image)
    doomed: list[Image] = []
    for group in by_server.values():
        doomed += [image for image in group if image.status in _FAILED]
        active = sorted(
            (image for image in group if image.status == "active"),
            key=lambda image: image.created_at,
            reverse=True,
        )
        doomed += _expired(active, keep_last=keep_last, max_age_days=max_age_days, now=now)
    return sorted(doomed, key=lambda image: image.created_at)
