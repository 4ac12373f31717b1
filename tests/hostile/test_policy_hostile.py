"""Snapshot policy values (Nova metadata anyone in the project can set): a policy or PolicyError."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from denbi_jupyter.cloud.rules.cron import parse_cron
from denbi_jupyter.cloud.rules.policy import PolicyError, SnapshotPolicy, parse_policy, policy_of
from denbi_jupyter.errors import UserInputError
from tests.hostile._budget import examples

_WORDS = st.sampled_from(
    [
        "daily",
        "weekly",
        "cron",
        "02:00",
        "2:30",
        "24:00",
        "²:00",
        "mon",
        "sun,sat",
        "monday",
        "*",
        "*/15",
        "0",
        "7",
        "1-5",
        "5-1",
        "jan",
        "*/0",
        "٣",
        "¹",
        ";",
        "=",
        "tz",
        "keep",
        "max_age_days",
        "Europe/Berlin",
        "Europe",
        "UTC",
        "../etc",
        "right/UTC",
        "A" * 300,
        "\0",
    ]
)
_POLICY_TEXT = st.one_of(
    st.lists(st.one_of(_WORDS, st.text(max_size=8)), max_size=14).map(" ".join),
    st.text(max_size=300),
    st.builds(
        "{}; tz={}; keep={}; max_age_days={}".format,
        st.sampled_from(["daily 02:00", "weekly mon,fri 03:30", "cron 0 */6 * * *"]),
        st.one_of(
            st.sampled_from(["UTC", "Europe/Berlin", "Europe", "Nowhere/Else", ""]),
            st.text(max_size=30),
        ),
        st.one_of(st.integers(-5, 2000).map(str), st.sampled_from(["²", "٣", "1e3", "", " 7"])),
        st.one_of(st.integers(-5, 4000).map(str), st.sampled_from(["³", "", "0x10"])),
    ),
)


@settings(max_examples=examples(80))
@given(value=_POLICY_TEXT)
@example(value="daily 02:00; keep=²")  # str.isdigit() let superscripts through to int()
@example(value="daily ²:00; keep=1")
@example(value="cron ¹ * * * *; keep=1")
@example(value="daily 02:00; tz=Europe; keep=7")  # a folder of the zone database
@example(value="daily 02:00; tz=" + "A" * 240 + "; keep=7")  # a file name too long
@example(value="cron 0 0 31 2 *; keep=1")  # never runs
def test_a_policy_value_parses_to_a_valid_policy_or_a_policy_error(value: str) -> None:
    try:
        policy = parse_policy(value)
    except PolicyError as error:
        assert str(error)
        return
    assert policy.keep_last is not None or policy.max_age_days is not None
    again = parse_policy(policy.text())
    assert again == policy and again.text() == policy.text()
    assert policy.describe()
    start = dt.datetime(2026, 3, 29, tzinfo=dt.UTC)
    runs = policy.next_runs(start, count=3)
    assert runs == sorted(set(runs)) and all(run > start for run in runs)
    assert policy_of({"denbi_snapshot_policy": value}) == policy


@settings(max_examples=examples(40))
@given(
    when=st.text(max_size=40) | _WORDS,
    timezone=st.text(max_size=40),
    keep=st.none() | st.integers(-10, 2000),
    max_age=st.none() | st.integers(-10, 5000),
)
@example(when="daily " + "0" * 5000 + "2:00", timezone="UTC", keep=1, max_age=None)
def test_a_policy_built_directly_is_valid_or_refused(
    when: str, timezone: str, keep: int | None, max_age: int | None
) -> None:
    try:
        policy = SnapshotPolicy(when=when, timezone=timezone, keep_last=keep, max_age_days=max_age)
    except PolicyError as error:
        assert str(error)
        return
    assert parse_policy(policy.text()) == policy


@settings(max_examples=examples(60))
@given(text=st.lists(st.one_of(_WORDS, st.text(max_size=6)), max_size=7).map(" ".join))
def test_a_cron_expression_parses_or_says_which_field_is_wrong(text: str) -> None:
    try:
        cron = parse_cron(text)
    except UserInputError as error:
        assert str(error)
        return
    assert cron.minutes <= set(range(60)) and cron.hours <= set(range(24))
    assert cron.weekdays <= set(range(7)) and cron.days <= set(range(1, 32))
    assert parse_cron(cron.text) == cron


@pytest.mark.parametrize("value", ["off", "0", "no", "false", ""])
def test_the_legacy_marker_switched_off_means_no_policy(value: str) -> None:
    assert policy_of({"denbi_nightly": value}) is None
