"""The progress channel, the retry policy and the guard on the ``flows`` package."""

from __future__ import annotations

import importlib
import sys
import threading
import types
from pathlib import Path

import pytest
from prefect.states import Completed, Failed

import flows
from denbi_jupyter.errors import (
    CloudUnavailableError,
    ConflictError,
    NotFoundError,
    OperationFailedError,
    PermissionDeniedError,
    UserInputError,
)
from denbi_jupyter.jobs import load_flows
from flows import FlowEvent, listen, report
from flows._retry import should_retry

ROOT = Path(__file__).resolve().parents[2]


def test_report_reaches_the_listeners_of_its_context_only() -> None:
    mine: list[FlowEvent] = []
    theirs: list[FlowEvent] = []

    def other_thread() -> None:
        with listen(theirs.append):
            report(0.5, "theirs")

    with listen(mine.append):
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        report(2.0, "mine")
    report(0.1, "nobody listens")
    assert [(e.kind, e.fraction, e.message) for e in mine] == [("progress", 1.0, "mine")]
    assert [e.message for e in theirs] == ["theirs"]


def test_a_failing_listener_is_logged_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    heard: list[str] = []

    def broken(event: FlowEvent) -> None:
        raise RuntimeError("widget gone")

    with listen(broken), listen(lambda e: heard.append(e.message)):
        report(None, "still going")
    assert heard == ["still going"]
    assert "listener failed" in caplog.text


@pytest.mark.parametrize(
    "error",
    [
        UserInputError("bad"),
        NotFoundError("gone"),
        PermissionDeniedError("protected"),
        OperationFailedError("killed"),
    ],
)
def test_retries_refuse_errors_no_retry_can_fix(error: Exception) -> None:
    assert should_retry(None, None, Failed(data=error)) is False  # type: ignore[arg-type]


@pytest.mark.parametrize("error", [CloudUnavailableError("503"), ConflictError("busy")])
def test_retries_allow_transient_errors(error: Exception) -> None:
    assert should_retry(None, None, Failed(data=error)) is True  # type: ignore[arg-type]


def test_retry_condition_reads_a_state_without_an_exception() -> None:
    assert should_retry(None, None, Completed(data=1)) is True  # type: ignore[arg-type]


def test_the_imported_flows_package_is_ours() -> None:
    assert load_flows() is flows
    assert flows.__denbi_jupyter__ is True
    assert Path(flows.__file__ or "").resolve().parent == ROOT / "flows"


def test_a_foreign_flows_package_is_refused_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    foreign = types.ModuleType("flows")
    foreign.__file__ = "/elsewhere/site-packages/flows/__init__.py"
    monkeypatch.setitem(sys.modules, "flows", foreign)
    with pytest.raises(ImportError, match="is not denbi-jupyter's"):
        load_flows()
    monkeypatch.undo()
    assert importlib.import_module("flows") is flows
