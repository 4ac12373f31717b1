"""Cron expressions (five fields) and the run times they give in a time zone.

``minute hour day-of-month month day-of-week`` with ``*``, lists (``1,15``), ranges
(``mon-fri``), steps (``*/15``, ``8-18/2``), month and weekday names, and 0 or 7 for Sunday.
As in Vixie cron, when both day fields are restricted a day matches either of them.

**Daylight saving time** (the rule every run time here follows): times are wall-clock times in
the schedule's zone. A time that does not exist on the day the clocks go forward (02:30 in
Europe/Berlin on the last Sunday of March) runs when the clocks have jumped, at the same
instant as 03:30; a time that occurs twice when the clocks go back runs once, the first time.
Run times are returned in UTC and never repeat.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from denbi_jupyter.errors import UserInputError

__all__ = ["CronExpression", "parse_cron"]

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
#: (name, lowest, highest, names counted from ``lowest``).
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
#: How far ahead a search for the next run looks (a 29 February on a Monday may be 28 years off).
_SEARCH_DAYS = 366 * 30


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A parsed cron expression: the allowed values of each field."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday … 6 = Saturday
    any_day: bool
    any_weekday: bool

    def matches_day(self, day: dt.date) -> bool:
        """True when jobs run on ``day`` (cron's either-day-field rule)."""
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = (day.isoweekday() % 7) in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return in_weekdays
        if self.any_weekday:
            return in_days
        return in_days or in_weekdays

    def times_after(self, after: dt.datetime, zone: ZoneInfo) -> Iterator[dt.datetime]:
        """Run times (UTC) strictly after ``after`` (aware), in order, without repeats."""
        start = after.astimezone(zone)
        last = after.astimezone(dt.UTC)
        day = start.date() - dt.timedelta(days=1)  # a gap time of the day before may map after
        for _ in range(_SEARCH_DAYS):
            if self.matches_day(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        local = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone)
                        when = local.astimezone(dt.UTC)
                        if when > last:
                            last = when
                            yield when
            day += dt.timedelta(days=1)

    def times_before(
        self, before: dt.datetime, zone: ZoneInfo, *, since: dt.datetime
    ) -> list[dt.datetime]:
        """Run times (UTC) in ``(since, before]``, oldest first."""
        found: list[dt.datetime] = []
        for when in self.times_after(since, zone):
            if when > before:
                break
            found.append(when)
        return found


def parse_cron(text: str) -> CronExpression:
    """Parse a five-field cron expression.

    Raises:
        UserInputError: Not five fields, or a field with a value out of range or unreadable.
    """
    fields = text.split()
    if len(fields) != len(_FIELDS):
        raise UserInputError(
            f"A cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            f"{text.strip()!r} has {len(fields)}; e.g. '0 2 * * *' runs daily at 02:00."
        )
    values = [_parse_field(field, *spec) for field, spec in zip(fields, _FIELDS, strict=True)]
    weekdays = frozenset(day % 7 for day in values[4])
    return CronExpression(
        text=" ".join(fields),
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=weekdays,
        any_day=fields[2].startswith("*"),
        any_weekday=fields[4].startswith("*"),
    )


def _parse_field(
    field: str, name: str, low: int, high: int, names: tuple[str, ...]
) -> frozenset[int]:
    values: set[int] = set()
    for part in field.lower().split(","):
        span, _, step_text = part.partition("/")
        step = _number(step_text, name, part) if step_text else 1
        if step < 1:
            raise UserInputError(f"The {name} step in {part!r} must be at least 1.")
        if span == "*":
            first, last = low, high
        else:
            first_text, dash, last_text = span.partition("-")
            first = _value(first_text, name, low, high, names)
            last = (
                _value(last_text, name, low, high, names)
                if dash
                else (high if step_text else first)
            )
            if last < first:
                raise UserInputError(f"The {name} range {span!r} runs backwards.")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _value(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if text in names:
        return names.index(text) + (1 if name == "month" else 0)
    number = _number(text, name, text)
    if not low <= number <= high:
        raise UserInputError(f"The {name} {number} is outside {low}-{high}.")
    return number


def _number(text: str, name: str, part: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 3:
        raise UserInputError(
            f"Cannot read the {name} field {part!r}: use numbers, '*', '-', ',' and '/'."
        )
    return int(text)
