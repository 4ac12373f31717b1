"""The rules of the state folder with real processes and real locks (no Prefect server started).

A "hung server" here is a real process that is named like Prefect's but never answers; a
"stale record" names the pid of a process that is not Prefect at all (a pid reused after a
reboot). Every process a test starts is stopped by its pid.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from denbi_jupyter.labserver._record import ServerRecord, locked, read_record, write_record
from denbi_jupyter.prefect_server import process_alive, stop_process_group
from denbi_jupyter.user_prefect import (
    DEFAULT_BASE_PATH,
    Lease,
    free_port,
    lease_free,
    preferred_base_path,
    remember_base_path,
    stop_server,
    takeover_allowed,
    usable,
)

_SLEEP = "import time; time.sleep(600)"


def _spawn(*argv: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _SLEEP, *argv], stdin=subprocess.DEVNULL, start_new_session=True
    )


@pytest.fixture
def hung() -> Iterator[subprocess.Popen[bytes]]:
    """A process named like a Prefect server that never answers."""
    process = _spawn("prefect-server-stand-in")
    try:
        yield process
    finally:
        stop_process_group(process.pid, process=process)


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """A process that is not Prefect."""
    process = _spawn("someone-elses-program")
    try:
        yield process
    finally:
        stop_process_group(process.pid, process=process)


def _record(state: Path, pid: int, *, age_s: float, owner_pid: int = 0) -> ServerRecord:
    record = ServerRecord(
        pid=pid,
        port=free_port(),
        base_path=DEFAULT_BASE_PATH,
        started_at=time.time() - age_s,
        started_by="cli",
        owner_pid=owner_pid,
    )
    state.mkdir(parents=True, exist_ok=True)
    write_record(state, record)
    return record


def test_a_hung_server_others_wait_on_is_kept_never_doubled(
    tmp_path: Path, hung: subprocess.Popen[bytes]
) -> None:
    record = _record(tmp_path, hung.pid, age_s=3600)
    with Lease(tmp_path), locked(tmp_path):
        assert usable(tmp_path, record), "in use: no second server on its database"
    assert process_alive(hung.pid) and read_record(tmp_path) == record


def test_a_hung_server_nobody_uses_is_stopped_and_replaced(
    tmp_path: Path, hung: subprocess.Popen[bytes]
) -> None:
    record = _record(tmp_path, hung.pid, age_s=3600)
    with locked(tmp_path):
        assert not usable(tmp_path, record)
    hung.wait(timeout=30)
    assert read_record(tmp_path) is None


def test_a_server_still_starting_is_used(tmp_path: Path, hung: subprocess.Popen[bytes]) -> None:
    record = _record(tmp_path, hung.pid, age_s=1)
    with locked(tmp_path):
        assert usable(tmp_path, record)
    assert process_alive(hung.pid)


def test_a_stale_record_naming_another_program_is_dropped_and_that_program_left_alone(
    tmp_path: Path, stranger: subprocess.Popen[bytes]
) -> None:
    record = _record(tmp_path, stranger.pid, age_s=1)
    with locked(tmp_path):
        assert not usable(tmp_path, record)
    assert stop_server(tmp_path, force=True) is None
    assert stranger.poll() is None and read_record(tmp_path) is None


def test_stop_refuses_while_a_lease_is_held_or_a_live_lab_owns_it(
    tmp_path: Path, hung: subprocess.Popen[bytes], stranger: subprocess.Popen[bytes]
) -> None:
    from denbi_jupyter.user_prefect import ServerInUseError

    record = _record(tmp_path, hung.pid, age_s=1, owner_pid=stranger.pid)
    with locked(tmp_path):
        assert not takeover_allowed(tmp_path, record), "a live lab owns it"
    with pytest.raises(ServerInUseError, match=f"lab \\(pid {stranger.pid}\\)"):
        stop_server(tmp_path)
    record = _record(tmp_path, hung.pid, age_s=1)
    lease = Lease(tmp_path)
    try:
        assert not lease_free(tmp_path)
        with pytest.raises(ServerInUseError, match="in use"):
            stop_server(tmp_path)
    finally:
        lease.release()
    assert lease_free(tmp_path)
    assert stop_server(tmp_path) == record
    hung.wait(timeout=30)
    assert read_record(tmp_path) is None


def test_a_command_starts_its_server_where_the_lab_will_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    assert preferred_base_path(tmp_path) == DEFAULT_BASE_PATH
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    assert preferred_base_path(tmp_path) == "/user/alice/denbi-jupyter/prefect"
    remember_base_path(tmp_path, "/hub/user/bob/denbi-jupyter/prefect/")
    assert preferred_base_path(tmp_path) == "/hub/user/bob/denbi-jupyter/prefect"


@pytest.mark.parametrize(
    ("answering", "up", "said"),
    [
        (True, 5, "answering"),
        (False, 5, "starting (up 5 s, not answering yet)"),
        (False, 600, "NOT answering (see /s/server.log)"),
    ],
)
def test_status_tells_a_starting_server_from_one_that_does_not_answer(
    answering: bool, up: int, said: str
) -> None:
    from denbi_jupyter.cli.commands.prefect import _health

    assert _health({"answering": answering, "up_seconds": up, "state_dir": "/s"}) == said
