"""Background calls: newest result wins, failures are visible, nothing blocks the caller."""

from __future__ import annotations

import re
import threading

from denbi_jupyter.errors import NotFoundError
from denbi_jupyter.panels import ActivityLog
from denbi_jupyter.panels._background import Background, describe_error


def test_only_the_newest_call_per_key_delivers_its_result() -> None:
    background = Background(ActivityLog())
    release = threading.Event()
    results: list[str] = []

    def slow() -> str:
        release.wait(10)
        return "old"

    background.submit("page", slow, on_result=results.append, on_error=print)
    background.submit("page", lambda: "new", on_result=results.append, on_error=print)
    release.set()
    assert background.wait_idle()
    assert results == ["new"]


def test_debounced_calls_collapse_into_the_last_one() -> None:
    background = Background(ActivityLog())
    calls: list[int] = []
    for number in range(5):
        background.submit(
            "search",
            lambda n=number: calls.append(n) or n,  # type: ignore[func-returns-value,misc]
            on_result=lambda _v: None,
            on_error=print,
            delay=0.05,
        )
    assert background.wait_idle()
    assert calls == [4]


def test_a_failing_callback_is_written_to_the_activity_log() -> None:
    log = ActivityLog()
    background = Background(log)

    def broken(_value: int) -> None:
        raise KeyError("row 7")

    background.submit("render", lambda: 1, on_result=broken, on_error=print)
    assert background.wait_idle()
    assert "ERROR render (updating the panel): Unexpected KeyError" in log.lines[0]
    assert "Traceback" in log.lines[1]
    assert log._accordion.selected_index == 0  # opened, so it is seen


def test_our_errors_are_shown_as_they_are_and_others_as_bugs() -> None:
    assert describe_error(NotFoundError("No server 'x' on bielefeld.")) == (
        "No server 'x' on bielefeld."
    )
    text = describe_error(ZeroDivisionError("division by zero"))
    assert text.startswith("Unexpected ZeroDivisionError: division by zero.")
    assert "activity log" in text


def test_cancel_drops_a_pending_result() -> None:
    background = Background(ActivityLog())
    release = threading.Event()
    results: list[str] = []
    background.submit(
        "k", lambda: "late" if release.wait(10) else "", on_result=results.append, on_error=print
    )
    background.cancel("k")
    release.set()
    assert background.wait_idle()
    assert results == []


def shown_text(log: ActivityLog) -> str:
    """What the log shows, each line without its ``HH:MM:SS`` time (checked here)."""
    text = "".join(str(output["text"]) for output in log._output.outputs)
    lines = text.splitlines(keepends=True)
    assert all(re.match(r"\d\d:\d\d:\d\d  ", line) for line in lines), lines[:3]
    return "".join(line[10:] for line in lines)


def test_the_activity_log_shows_only_its_newest_lines_once_full() -> None:
    log = ActivityLog(max_lines=50)
    for number in range(200):
        log.info(f"line {number}")
    assert log.lines == tuple(f"line {number}" for number in range(150, 200))
    assert len(log._output.outputs) <= 2
    assert shown_text(log) == "".join(f"line {number}\n" for number in range(150, 200))
    log.info("one more")
    assert shown_text(log).splitlines()[-1] == "one more"
    assert len(shown_text(log).splitlines()) == 50


def test_concurrent_writers_lose_no_line_of_the_activity_log() -> None:
    log = ActivityLog(max_lines=10_000)
    start = threading.Barrier(8)

    def write(writer: int) -> None:
        start.wait()
        for number in range(120):
            log.info(f"w{writer} {number}")

    threads = [threading.Thread(target=write, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = {f"w{k} {n}" for k in range(8) for n in range(120)}
    assert set(log.lines) == expected
    shown = shown_text(log).splitlines()
    assert len(shown) == len(expected) and set(shown) == expected


def test_callbacks_of_calls_that_end_together_run_one_at_a_time() -> None:
    """Two answers landing at once (the catalog and the private uploads) never interleave."""
    pool = Background(ActivityLog())
    a_inside, b_called, b_inside = threading.Event(), threading.Event(), threading.Event()
    overlapped: list[bool] = []

    def first(_value: object) -> None:
        a_inside.set()
        assert b_called.wait(10)
        # B's answer is in: with one update at a time its callback cannot start meanwhile.
        overlapped.append(b_inside.wait(0.3))

    def second_call() -> str:
        assert a_inside.wait(10)
        b_called.set()
        return "b"

    pool.submit("a", lambda: "a", on_result=first, on_error=lambda _e: None)
    pool.submit("b", second_call, on_result=lambda _v: b_inside.set(), on_error=lambda _e: None)
    assert pool.wait_idle(20)
    assert overlapped == [False]
    assert b_inside.is_set()
    pool.shutdown()
