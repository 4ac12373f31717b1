"""PID bookkeeping: start in a new session, record, stop by PID (TERM, then KILL)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from openstack_tier import procs
from openstack_tier.procs import ProcessRecord, ProcessTable, descendants, is_alive, rss_kib


@pytest.fixture
def table(tmp_path: Path) -> ProcessTable:
    return ProcessTable(tmp_path / "pids")


def test_started_daemon_is_recorded_and_leads_its_own_session(
    table: ProcessTable, tmp_path: Path
) -> None:
    record = table.start("sleeper", ["sleep", "30"], log=tmp_path / "logs" / "sleeper.log")
    try:
        assert table.running("sleeper")
        assert os.getsid(record.pid) == record.pid
        assert table.get("sleeper") == record
    finally:
        assert table.stop("sleeper", timeout=5)
    assert not is_alive(record.pid, record.ticks)
    assert table.records() == []


def test_a_reused_pid_does_not_count_as_our_daemon(table: ProcessTable, tmp_path: Path) -> None:
    record = table.start("sleeper", ["sleep", "30"], log=tmp_path / "sleeper.log")
    try:
        impostor = ProcessRecord("other", record.pid, record.ticks + 1, 9, ("sleep",))
        assert not impostor.alive()
        assert record.alive()
    finally:
        table.stop_all()


def test_stop_kills_what_ignores_sigterm_after_the_timeout(
    table: ProcessTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["sh", "-c", "trap '' TERM; echo up; sleep 30 & wait; sleep 30"]
    record = table.start("stubborn", argv, log=tmp_path / "stubborn.log")
    deadline = time.monotonic() + 5
    while not descendants(record.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    children = descendants(record.pid)
    assert children, "the shell did not start its child"
    sent: list[tuple[int, signal.Signals]] = []
    real_signal = procs._signal

    def recording_signal(pid: int, sig: signal.Signals) -> None:
        sent.append((pid, sig))
        real_signal(pid, sig)

    monkeypatch.setattr(procs, "_signal", recording_signal)
    assert table.stop("stubborn", timeout=0.5)
    assert not any(is_alive(pid) for pid in [record.pid, *children])
    # TERM to the leader first, then KILL to every process of the tree that ignored it.
    assert sent[0] == (record.pid, signal.SIGTERM)
    killed = {pid for pid, sig in sent[1:] if sig is signal.SIGKILL}
    assert {record.pid, *children} <= killed
    assert all(sig is signal.SIGKILL for _, sig in sent[1:])
    # Measured on the stopper's own clock: KILL came only after the grace period.
    assert table.stop_seconds["stubborn"] >= 0.5


def test_stop_all_stops_the_rest_before_the_last_ones(table: ProcessTable, tmp_path: Path) -> None:
    for name in ("db", "api", "worker"):
        table.start(name, ["sleep", "30"], log=tmp_path / f"{name}.log")
    stopped = table.stop_all(last=("db",))
    assert stopped[-1] == "db"
    assert sorted(stopped) == ["api", "db", "worker"]
    assert table.stop_all() == []


def test_rss_sums_over_the_recorded_trees(table: ProcessTable, tmp_path: Path) -> None:
    table.start("sleeper", ["sleep", "30"], log=tmp_path / "sleeper.log")
    try:
        assert table.rss_kib() > 0
        assert rss_kib([os.getpid()]) > 0
        assert rss_kib([]) == 0
    finally:
        table.stop_all()


def test_stopping_an_unknown_or_dead_daemon_is_a_no_op(table: ProcessTable, tmp_path: Path) -> None:
    assert not table.stop("nothing")
    record = table.start("quick", ["true"], log=tmp_path / "quick.log")
    deadline = time.monotonic() + 5
    while is_alive(record.pid, record.ticks) and time.monotonic() < deadline:
        os.waitpid(record.pid, os.WNOHANG)
        time.sleep(0.02)
    assert not table.stop("quick")
    assert table.get("quick") is None
