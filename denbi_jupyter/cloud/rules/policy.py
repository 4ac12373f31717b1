"""Snapshot policies: when a VM is snapshotted and which of its scheduled snapshots are kept.

A VM opts in with one Nova metadata entry, :data:`POLICY_KEY`, whose value reads like

    ``daily 02:00; tz=Europe/Berlin; keep=7``
    ``weekly sun 03:30; tz=UTC; keep=4; max_age_days=60``
    ``cron 0 */6 * * *; tz=Europe/Berlin; max_age_days=3``

The first part is *when* (``daily HH:MM``, ``weekly DAY[,DAY…] HH:MM`` or ``cron`` and five
fields, see :mod:`~denbi_jupyter.cloud.rules.cron` for the daylight-saving rule); then ``tz``
(an IANA zone, default UTC), ``keep`` (the last N) and ``max_age_days`` (and/or: drop those
older; at least one of the two; the newest good snapshot is never dropped). The old marker
``denbi_nightly`` (any value but an "off" one) still works and means ``daily 02:00;
tz=Europe/Berlin; keep=7``.

**Due-ness.** A policy run at ``now`` handles the latest run time in ``(done, now]`` that is at
most ``catch_up`` old, where ``done`` is the newest run time a snapshot of the VM already
records: re-running the same slot makes no second snapshot, and a worker that was down for a
day does not make a burst of missed snapshots.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from denbi_jupyter.cloud.rules.cron import CronExpression, parse_cron
from denbi_jupyter.errors import UserInputError

__all__ = [
    "DEFAULT_CATCH_UP",
    "LEGACY_KEY",
    "LEGACY_POLICY",
    "POLICY_KEY",
    "PolicyError",
    "SnapshotPolicy",
    "parse_policy",
    "policy_of",
]

#: The Nova metadata key that holds a VM's snapshot policy.
POLICY_KEY = "denbi_snapshot_policy"
#: The old opt-in marker: "daily, keep 7".
LEGACY_KEY = "denbi_nightly"
#: What :data:`LEGACY_KEY` means.
LEGACY_POLICY = "daily 02:00; tz=Europe/Berlin; keep=7"
#: How late a policy run may still make a slot's snapshot.
DEFAULT_CATCH_UP = dt.timedelta(hours=6)
#: Nova keeps metadata values of at most 255 characters.
_MAX_LENGTH = 255
_OFF_VALUES = frozenset({"", "0", "false", "no", "off"})
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_OPTIONS = ("tz", "keep", "max_age_days")


class PolicyError(UserInputError):
    """A policy value that cannot be used; the message names the part and how to fix it."""


@dataclass(frozen=True, slots=True)
class SnapshotPolicy:
    """A parsed, valid snapshot policy (see the module docstring)."""

    when: str
    timezone: str = "UTC"
    keep_last: int | None = None
    max_age_days: int | None = None
    cron: CronExpression = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cron", _when_to_cron(self.when))
        _zone(self.timezone)
        if self.keep_last is None and self.max_age_days is None:
            raise PolicyError(
                "Say what to keep: keep=N (the last N snapshots) and/or max_age_days=D."
            )
        if self.keep_last is not None and not 1 <= self.keep_last <= 1000:
            raise PolicyError(f"keep must be between 1 and 1000, not {self.keep_last}.")
        if self.max_age_days is not None and not 1 <= self.max_age_days <= 3650:
            raise PolicyError(f"max_age_days must be between 1 and 3650, not {self.max_age_days}.")

    @property
    def zone(self) -> ZoneInfo:
        """The policy's time zone."""
        return _zone(self.timezone)

    def text(self) -> str:
        """The metadata value that parses back to this policy."""
        parts = [self.when, f"tz={self.timezone}"]
        if self.keep_last is not None:
            parts.append(f"keep={self.keep_last}")
        if self.max_age_days is not None:
            parts.append(f"max_age_days={self.max_age_days}")
        return "; ".join(parts)

    def describe(self) -> str:
        """One sentence for people: when, and what is kept."""
        keep = []
        if self.keep_last is not None:
            keep.append(f"the last {self.keep_last}")
        if self.max_age_days is not None:
            keep.append(f"those younger than {self.max_age_days} days")
        return (
            f"{self.when} ({self.timezone}); keeps {' and '.join(keep)}, "
            "never deleting the newest good one"
        )

    def next_runs(self, after: dt.datetime, count: int = 3) -> list[dt.datetime]:
        """The next ``count`` run times (UTC) after ``after``."""
        runs: list[dt.datetime] = []
        for when in self.cron.times_after(after, self.zone):
            runs.append(when)
            if len(runs) == count:
                break
        return runs

    def due_slot(
        self,
        now: dt.datetime,
        *,
        done: dt.datetime | None,
        catch_up: dt.timedelta = DEFAULT_CATCH_UP,
    ) -> dt.datetime | None:
        """The run time a run at ``now`` should make a snapshot for, or None (rule above)."""
        since = now - catch_up
        if done is not None and done > since:
            since = done
        slots = self.cron.times_before(now, self.zone, since=since)
        return slots[-1] if slots else None


def parse_policy(value: str) -> SnapshotPolicy:
    """Parse a :data:`POLICY_KEY` value.

    Raises:
        PolicyError: The value is empty, too long, or has a part that cannot be used.
    """
    text = value.strip()
    if not text:
        raise PolicyError(f"The policy is empty; e.g. {LEGACY_POLICY!r}.")
    if len(text) > _MAX_LENGTH:
        raise PolicyError(f"The policy has {len(text)} characters; Nova keeps at most 255.")
    when, *rest = [part.strip() for part in text.split(";")]
    options: dict[str, str] = {}
    for part in rest:
        if not part:
            continue
        key, equals, option = (s.strip() for s in part.partition("="))
        if not equals or key not in _OPTIONS:
            raise PolicyError(
                f"Cannot read {part!r} in the policy: use {', '.join(k + '=…' for k in _OPTIONS)}."
            )
        if key in options:
            raise PolicyError(f"{key} is given twice in the policy.")
        options[key] = option
    return SnapshotPolicy(
        when=_canonical_when(when),
        timezone=options.get("tz", "UTC"),
        keep_last=_count(options, "keep"),
        max_age_days=_count(options, "max_age_days"),
    )


def policy_of(metadata: Mapping[str, str]) -> SnapshotPolicy | None:
    """A VM's policy from its metadata (:data:`POLICY_KEY`, else the legacy marker), or None.

    Raises:
        PolicyError: The VM has a :data:`POLICY_KEY` that cannot be used.
    """
    if POLICY_KEY in metadata:
        return parse_policy(metadata[POLICY_KEY])
    legacy = metadata.get(LEGACY_KEY)
    if legacy is not None and legacy.strip().lower() not in _OFF_VALUES:
        return parse_policy(LEGACY_POLICY)
    return None


def _count(options: Mapping[str, str], key: str) -> int | None:
    raw = options.get(key)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6:
        raise PolicyError(f"{key} must be a whole number, not {raw!r}.")
    return int(raw)


def _canonical_when(when: str) -> str:
    words = when.lower().split()
    if not words:
        raise PolicyError(
            "The policy does not say when: start with 'daily 02:00', "
            "'weekly sun 03:00' or 'cron 0 2 * * *'."
        )
    kind = words[0]
    if kind == "daily" and len(words) == 2:
        return f"daily {_clock(words[1])}"
    if kind == "weekly" and len(words) == 3:
        return f"weekly {','.join(_weekdays(words[1]))} {_clock(words[2])}"
    if kind == "cron" and len(words) == 6:
        try:
            return "cron " + parse_cron(" ".join(words[1:])).text
        except UserInputError as exc:
            raise PolicyError(str(exc)) from exc
    raise PolicyError(
        f"Cannot read when {when.strip()!r}: use 'daily HH:MM', 'weekly DAY[,DAY] HH:MM' "
        "or 'cron' and five fields."
    )


def _when_to_cron(when: str) -> CronExpression:
    canonical = _canonical_when(when)
    words = canonical.split()
    if words[0] == "cron":
        return parse_cron(" ".join(words[1:]))
    hour, minute = (int(x) for x in words[-1].split(":"))
    days = (
        "*"
        if words[0] == "daily"
        else ",".join(str((_DAYS.index(day) + 1) % 7) for day in words[1].split(","))
    )
    return parse_cron(f"{minute} {hour} * * {days}")


def _clock(text: str) -> str:
    hours, colon, minutes = text.partition(":")
    digits = (hours + minutes).isascii() and hours.isdigit() and minutes.isdigit()
    if colon and digits and len(hours) <= 2 and len(minutes) == 2:
        hour, minute = int(hours), int(minutes)
        if hour < 24 and minute < 60:
            return f"{hour:02d}:{minute:02d}"
    raise PolicyError(f"Cannot read the time {text!r}: use HH:MM on a 24-hour clock, e.g. 02:30.")


def _weekdays(text: str) -> list[str]:
    days: set[str] = set()
    for day in text.split(","):
        short = day[:3]
        if short not in _DAYS or not _DAY_NAMES[_DAYS.index(short)].startswith(day):
            raise PolicyError(f"Cannot read the weekday {day!r}: use mon, tue, … sun.")
        days.add(short)
    return sorted(days, key=_DAYS.index)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: "Europe" is a folder
        raise PolicyError(
            f"Unknown time zone {name!r}: use an IANA name such as Europe/Berlin or UTC."
        ) from exc
