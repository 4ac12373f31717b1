"""Snapshot policies: parsing, cron run times across daylight saving, due-ness, retention."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.rules.cron import parse_cron
from denbi_jupyter.cloud.rules.policy import (
    LEGACY_KEY,
    POLICY_KEY,
    PolicyError,
    parse_policy,
    policy_of,
)
from denbi_jupyter.cloud.rules.policy_runs import (
    POLICY_SCHEDULE,
    SLOT_KEY,
    plan_policy_run,
    slot_text,
)
from denbi_jupyter.cloud.rules.retention import (
    NIGHTLY,
    SCHEDULE_KEY,
    explain_retention,
    plan_retention,
    schedule_mark,
)
from denbi_jupyter.cloud.types import Image, Server
from denbi_jupyter.errors import UserInputError

BERLIN = ZoneInfo("Europe/Berlin")


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def _berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def _server(name: str, **metadata: str) -> Server:
    return Server(
        id=f"id-{name}", name=name, status="ACTIVE", task_state=None, project_id="p",
        image_id=None, flavor_id=None, flavor_name=None, key_name=None, private_ipv4=None,
        created_at=None, metadata=metadata,
    )  # fmt: skip


def _snapshot(
    server: Server,
    created: dt.datetime,
    *,
    slot: dt.datetime | None = None,
    schedule: str = POLICY_SCHEDULE,
    status: str = "active",
    marked: bool = True,
    protected: bool = False,
    number: int = 0,
) -> Image:
    image_id = f"img-{server.name}-{created:%m%d%H%M}-{number}"
    properties = {SCHEDULE_KEY: schedule, SOURCE_SERVER_ID: server.id}
    if slot is not None:
        properties[SLOT_KEY] = slot_text(slot)
    return Image(
        id=image_id, name=image_id, status=status, visibility="private", owner="p",
        protected=protected, size=1, min_disk=0, min_ram=0, created_at=created,
        updated_at=created, tags=(schedule_mark(schedule, image_id),) if marked else (),
        properties=properties,
    )  # fmt: skip


# --- parsing ---
@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("daily 2:00; tz=Europe/Berlin; keep=7", "daily 02:00; tz=Europe/Berlin; keep=7"),
        ("Weekly Sunday,mon 03:30; keep=4; max_age_days=60",
         "weekly mon,sun 03:30; tz=UTC; keep=4; max_age_days=60"),
        ("cron 0 */6 * * *;tz=UTC;max_age_days=3", "cron 0 */6 * * *; tz=UTC; max_age_days=3"),
    ],
)  # fmt: skip
def test_a_policy_parses_to_its_canonical_text_and_back(value: str, text: str) -> None:
    policy = parse_policy(value)
    assert policy.text() == text
    assert parse_policy(policy.text()) == policy


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "empty"),
        ("hourly; keep=3", "Cannot read when 'hourly'"),
        ("daily 25:00; keep=3", "Cannot read the time '25:00'"),
        ("daily 2am; keep=3", "HH:MM"),
        ("weekly funday 02:00; keep=3", "weekday 'funday'"),
        ("daily 02:00", "Say what to keep"),
        ("daily 02:00; keep=0", "keep must be between 1 and 1000"),
        ("daily 02:00; keep=-1", "keep must be a whole number"),
        ("daily 02:00; keep=seven", "keep must be a whole number, not 'seven'"),
        ("daily 02:00; keep=3; keep=4", "keep is given twice"),
        ("daily 02:00; keep=3; tz=Mars/Olympus", "Unknown time zone 'Mars/Olympus'"),
        ("daily 02:00; keep=3; tz=../../etc/passwd", "Unknown time zone"),
        ("daily 02:00; retain=3", "Cannot read 'retain=3'"),
        ("cron 0 2 * *; keep=3", "Cannot read when"),
        ("cron 61 2 * * *; keep=3", "minute 61 is outside 0-59"),
        ("cron 0 2 * * */0; keep=3", "step in '*/0' must be at least 1"),
        ("cron 0 5-2 * * *; keep=3", "runs backwards"),
        ("daily 02:00; keep=3; max_age_days=" + "9" * 300, "at most 255"),
    ],
)
def test_bad_policies_are_refused_with_a_message_naming_the_part(value: str, says: str) -> None:
    with pytest.raises(PolicyError, match=None) as caught:
        parse_policy(value)
    assert isinstance(caught.value, UserInputError)
    assert says in str(caught.value)


def test_the_legacy_marker_means_daily_keep_seven_and_off_values_opt_out() -> None:
    assert policy_of({LEGACY_KEY: "true"}) == parse_policy("daily 02:00; tz=Europe/Berlin; keep=7")
    assert policy_of({LEGACY_KEY: "off"}) is None
    assert policy_of({}) is None
    explicit = policy_of({LEGACY_KEY: "yes", POLICY_KEY: "weekly sun 04:00; keep=2"})
    assert explicit is not None and explicit.when == "weekly sun 04:00"


# --- cron and daylight saving ---
def test_cron_day_fields_match_either_when_both_are_restricted() -> None:
    cron = parse_cron("0 12 13 * fri")
    assert cron.matches_day(dt.date(2026, 11, 13))  # a Friday the 13th
    assert cron.matches_day(dt.date(2026, 11, 20))  # a Friday
    assert cron.matches_day(dt.date(2026, 12, 13))  # a Sunday the 13th
    assert not cron.matches_day(dt.date(2026, 12, 14))
    assert parse_cron("0 0 * * 7").weekdays == parse_cron("0 0 * * sun").weekdays


def test_a_daily_run_at_a_time_the_spring_change_skips_runs_once_after_the_jump() -> None:
    policy = parse_policy("daily 02:30; tz=Europe/Berlin; keep=3")
    runs = policy.next_runs(_berlin(2027, 3, 27, 12, 0), 3)
    assert runs == [
        _utc(2027, 3, 28, 1, 30),  # 02:30 does not exist: 03:30 CEST, right after the jump
        _utc(2027, 3, 29, 0, 30),  # 02:30 CEST
        _utc(2027, 3, 30, 0, 30),
    ]


def test_a_run_in_the_hour_that_repeats_in_autumn_happens_once() -> None:
    policy = parse_policy("cron 30 * * * *; tz=Europe/Berlin; keep=3")
    runs = policy.next_runs(_utc(2026, 10, 24, 23, 0), 5)  # 01:00 CEST, 25 October
    assert runs == [
        _utc(2026, 10, 24, 23, 30),  # 01:30 CEST
        _utc(2026, 10, 25, 0, 30),  # 02:30 CEST (the first 02:30)
        _utc(2026, 10, 25, 2, 30),  # 03:30 CET: the second 02:30 (01:30 UTC) does not run
        _utc(2026, 10, 25, 3, 30),
        _utc(2026, 10, 25, 4, 30),
    ]
    assert len(set(runs)) == len(runs)


def test_hourly_runs_across_the_spring_gap_never_repeat() -> None:
    policy = parse_policy("cron 15 * * * *; tz=Europe/Berlin; keep=3")
    runs = policy.next_runs(_utc(2027, 3, 27, 23, 0), 4)  # 00:00 CET, 28 March
    assert runs == [
        _utc(2027, 3, 27, 23, 15),  # 00:15 CET
        _utc(2027, 3, 28, 0, 15),  # 01:15 CET
        _utc(2027, 3, 28, 1, 15),  # 02:15 (gap) = 03:15 CEST; the real 03:15 is the same run
        _utc(2027, 3, 28, 2, 15),  # 04:15 CEST
    ]


def test_weekly_runs_land_on_the_day_in_local_time() -> None:
    policy = parse_policy("weekly sun 01:00; tz=Europe/Berlin; keep=3")
    runs = policy.next_runs(_utc(2026, 12, 1), 2)
    assert [run.astimezone(BERLIN).strftime("%a %H:%M") for run in runs] == ["Sun 01:00"] * 2
    assert runs[0] == _utc(2026, 12, 6, 0, 0)


# --- due-ness over simulated days ---
def test_a_fortnight_of_runs_every_15_minutes_makes_one_snapshot_per_slot_for_the_due_vms() -> None:
    """A worker runs the policy flow every 15 min from 20 March to 3 April (DST on 29 March)."""
    daily = _server("daily", **{POLICY_KEY: "daily 02:30; tz=Europe/Berlin; keep=30"})
    weekly = _server("weekly", **{POLICY_KEY: "weekly sun 02:30; tz=Europe/Berlin; keep=30"})
    legacy = _server("legacy", **{LEGACY_KEY: "true"})
    broken = _server("broken", **{POLICY_KEY: "daily 02:30"})
    plain = _server("plain")
    servers = [daily, weekly, legacy, broken, plain]
    snapshots: list[Image] = []
    made: dict[str, list[dt.datetime]] = {s.name: [] for s in servers}
    now = _utc(2026, 3, 20)
    while now < _utc(2026, 4, 3):
        plans = plan_policy_run(servers, snapshots, now=now)
        assert [p.server.name for p in plans] == ["daily", "weekly", "legacy", "broken"]
        assert plans[3].error.startswith("Say what to keep")
        for plan in plans:
            if plan.due is not None:
                made[plan.server.name].append(plan.due)
                snapshots.append(
                    _snapshot(plan.server, now, slot=plan.due, schedule=plan.schedule,
                              number=len(snapshots))
                )  # fmt: skip
        now += dt.timedelta(minutes=15)
    local_days = [slot.astimezone(BERLIN) for slot in made["daily"]]
    assert [d.date() for d in local_days] == [
        dt.date(2026, 3, 20) + dt.timedelta(days=n) for n in range(14)
    ]
    assert {d.strftime("%H:%M") for d in local_days} == {"02:30", "03:30"}
    assert local_days[9].strftime("%d %H:%M %Z") == "29 03:30 CEST"  # 02:30 did not exist
    assert [d.astimezone(BERLIN).date() for d in made["weekly"]] == [
        dt.date(2026, 3, 22), dt.date(2026, 3, 29)
    ]  # fmt: skip
    legacy_times = [d.astimezone(BERLIN).strftime("%H:%M") for d in made["legacy"]]
    assert legacy_times == ["02:00"] * 9 + ["03:00"] + ["02:00"] * 4
    assert made["broken"] == made["plain"] == []


def test_a_rerun_of_the_same_slot_makes_no_second_snapshot_but_a_failed_one_is_retried() -> None:
    vm = _server("vm", **{POLICY_KEY: "daily 02:00; tz=UTC; keep=3"})
    now = _utc(2026, 12, 2, 2, 10)
    (plan,) = plan_policy_run([vm], [], now=now)
    assert plan.due == _utc(2026, 12, 2, 2, 0)
    made = _snapshot(vm, now, slot=plan.due)
    (again,) = plan_policy_run([vm], [made], now=now + dt.timedelta(minutes=20))
    assert again.due is None and again.reason.startswith("already snapshotted for 2026-12-02")
    killed = _snapshot(vm, now, slot=plan.due, status="killed")
    (retry,) = plan_policy_run([vm], [killed], now=now + dt.timedelta(minutes=20))
    assert retry.due == plan.due
    copied = _snapshot(vm, now, slot=plan.due, marked=False)  # a copy: the mark names another id
    (still,) = plan_policy_run([vm], [copied], now=now + dt.timedelta(minutes=20))
    assert still.due == plan.due


def test_a_vm_opted_in_long_after_its_slot_waits_for_the_next_one() -> None:
    vm = _server("vm", **{POLICY_KEY: "daily 02:00; tz=UTC; keep=3"})
    (plan,) = plan_policy_run([vm], [], now=_utc(2026, 12, 2, 14, 0))
    assert plan.due is None
    assert plan.next_run == _utc(2026, 12, 3, 2, 0)
    assert plan.reason == "not due: next run 2026-12-03 02:00 UTC"


# --- retention preview ---
def test_the_retention_preview_gives_a_reason_for_every_snapshot_and_equals_the_plan() -> None:
    vm = _server("vm")
    now = _utc(2026, 12, 2)
    days = [1, 2, 3, 10, 40]
    ours = [_snapshot(vm, now - dt.timedelta(days=d), number=d) for d in days]
    protected = _snapshot(vm, now - dt.timedelta(days=50), protected=True, number=50)
    by_hand = _snapshot(vm, now - dt.timedelta(days=60), marked=False, number=60)
    killed = _snapshot(vm, now - dt.timedelta(days=5), status="killed", number=5)
    saving = _snapshot(vm, now, status="saving", number=99)
    images = [*ours, protected, by_hand, killed, saving]
    decisions = explain_retention(
        images, keep_last=3, max_age_days=30, now=now, schedule=POLICY_SCHEDULE
    )
    reasons = {d.image.id: (d.delete, d.reason) for d in decisions}
    assert reasons[ours[0].id] == (False, "the newest good snapshot")
    assert reasons[ours[2].id] == (False, "within the last 3")
    assert reasons[ours[3].id] == (True, "beyond the last 3")
    assert reasons[protected.id] == (False, "protected")
    assert reasons[by_hand.id] == (False, "not made by this schedule (by hand, or unmarked)")
    assert reasons[killed.id] == (True, "failed (killed)")
    assert reasons[saving.id] == (False, "still saving")
    assert len(decisions) == len(images)
    planned = plan_retention(
        images, keep_last=3, max_age_days=30, now=now, schedule=POLICY_SCHEDULE
    )
    assert planned == [d.image for d in decisions if d.delete]


def test_age_only_retention_never_deletes_the_newest_good_snapshot() -> None:
    vm = _server("vm")
    now = _utc(2026, 12, 2)
    old = [_snapshot(vm, now - dt.timedelta(days=d), number=d) for d in (40, 50)]
    decisions = explain_retention(
        old, keep_last=None, max_age_days=30, now=now, schedule=POLICY_SCHEDULE
    )
    assert [(d.image.id, d.delete) for d in decisions] == [(old[1].id, True), (old[0].id, False)]
    with pytest.raises(UserInputError, match="nothing says what to keep"):
        explain_retention(old, keep_last=None, max_age_days=None, now=now, schedule=NIGHTLY)
