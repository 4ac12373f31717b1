"""Running a flow from the command line: in the foreground with progress, or in the background.

In the foreground the flow runs in this process, exactly as a kernel or a deployment runs it,
with Prefect's own console lines off; its progress channel drives a ``rich`` progress bar when
stdout is a terminal and plain ``[ 42%] Glance: saving`` lines otherwise, both on stderr, and
its warnings are shown as ``warning: …`` lines. Errors end the command through the exception
(one line, exit code from ``cli/__init__.py``).

``--no-wait`` starts the same command (without ``--no-wait``) as a detached process that runs
the flow to its end and writes its output to a log file; the request id printed lets the user
re-run the command to wait for (not repeat) the same request.

The flow runs on the Prefect API the user configured (``PREFECT_API_URL``, environment or
profile), else on the user's one Prefect server (:mod:`denbi_jupyter.user_prefect`): found in
the state folder or started once under its lock, and leased while the flow runs. Never
Prefect's ephemeral API: twenty detached commands would start twenty on one SQLite database.
A server a command starts stays up for the next commands and the lab
(``denbi-jupyter prefect stop`` stops it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from denbi_jupyter.cli._output import emit_json
from denbi_jupyter.cli._results import result_json
from denbi_jupyter.errors import OperationFailedError
from denbi_jupyter.jobs import start_while_busy
from flows import FlowEvent, flow_settings, listen, quiet_console

__all__ = [
    "Display",
    "prefect_api",
    "run_flow",
    "run_flow_and_report",
    "start_detached",
    "start_in_background",
]

_CONSOLE_OFF = logging.CRITICAL + 1
R = TypeVar("R")


class Display(Protocol):
    """Shows a running flow's events."""

    def __call__(self, event: FlowEvent) -> None:
        """Take one event."""
        ...


class _PlainDisplay:
    """One line per new status, on stderr."""

    def __init__(self) -> None:
        self._last = ""

    def __call__(self, event: FlowEvent) -> None:
        if event.kind == "log":
            if event.level == logging.WARNING:
                print(f"warning: {event.message}", file=sys.stderr, flush=True)
            return
        shown = "  ..." if event.fraction is None else f"{event.fraction:>5.0%}"
        line = f"[{shown}] {event.message}"
        if line != self._last:
            print(line, file=sys.stderr, flush=True)
            self._last = line


class _RichDisplay:
    """A progress bar on the terminal (stderr)."""

    def __init__(self, title: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._console = Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=self._console,
            transient=True,
        )
        self._task = self.progress.add_task(title, total=None, status="starting")

    def __call__(self, event: FlowEvent) -> None:
        if event.kind == "log":
            if event.level == logging.WARNING:
                self._console.print(f"[yellow]warning:[/] {event.message}", markup=True)
            return
        total = None if event.fraction is None else 100.0
        completed = 0.0 if event.fraction is None else event.fraction * 100
        self.progress.update(self._task, total=total, completed=completed, status=event.message)


@contextlib.contextmanager
def _display(title: str) -> Iterator[Display]:
    if sys.stdout.isatty() and sys.stderr.isatty():
        rich_display = _RichDisplay(title)
        with rich_display.progress:
            yield rich_display
    else:
        yield _PlainDisplay()


def _ensure_backend() -> None:
    """Start (or reach) the Prefect API before the flow, so a failure is one clear line."""
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            failure = client.api_healthcheck()
    except Exception as exc:  # noqa: BLE001 - any start-up failure becomes one clear line below
        failure = exc
    if failure is not None:
        first = (str(failure).strip().splitlines() or [type(failure).__name__])[0]
        raise OperationFailedError(
            f"The Prefect backend is not available ({first}). Try again, or set "
            "PREFECT_API_URL to a running Prefect server."
        )


@contextlib.contextmanager
def prefect_api(started: list[str]) -> Iterator[None]:
    """The configured Prefect API, else the user's server (leased for the block).

    Appends to ``started`` what to tell the user when this process started the server.

    Raises:
        OperationFailedError: The user's server could not be started.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    from denbi_jupyter.labserver._paths import prefect_state_dir
    from denbi_jupyter.user_prefect import use_server

    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(use_server(prefect_state_dir()))
        except (TimeoutError, RuntimeError, OSError) as exc:
            raise OperationFailedError(
                f"The Prefect backend is not available ({exc}). Try again, or set "
                "PREFECT_API_URL to a running Prefect server."
            ) from exc
        if server.started:
            started.append(
                f"Started your Prefect server (pid {server.record.pid}, UI {server.ui_url}); "
                "it stays up for your other commands and the lab: "
                "'denbi-jupyter prefect stop' stops it."
            )
        stack.enter_context(temporary_settings(updates={PREFECT_API_URL: server.api_url}))
        yield


def run_flow(flow: Callable[..., R], /, *, title: str, **parameters: object) -> R:
    """Run ``flow(**parameters)`` here and now, showing its progress; return its result.

    Raises:
        OperationFailedError: The Prefect backend could not be started or reached.
    """
    quiet_console(_CONSOLE_OFF)
    started: list[str] = []
    try:
        with _display(title) as display, flow_settings():
            display(FlowEvent(kind="progress", message="Starting Prefect", fraction=None))
            with prefect_api(started):
                _ensure_backend()
                with listen(display):  # a run the busy API refused to create starts again
                    return start_while_busy(lambda: flow(**parameters))
    finally:
        for note in started:
            print(note, file=sys.stderr, flush=True)


def run_flow_and_report(
    flow: Callable[..., R],
    /,
    *,
    title: str,
    as_json: bool,
    describe: Callable[[R], None],
    **parameters: object,
) -> int:
    """:func:`run_flow`, then print its result as JSON or through ``describe``; exit code 0."""
    result = run_flow(flow, title=title, **parameters)
    if as_json:
        emit_json(result_json(result))
    else:
        describe(result)
    return 0


def _log_file(name: str) -> Path:
    folder = Path(tempfile.gettempdir()) / "denbi-jupyter"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return folder / f"{name}-{stamp}-{os.getpid()}.log"


def _child_environment() -> dict[str, str]:
    """This environment, plus a Prefect API set in this process only (so runs land in one place).

    Without Prefect imported here no temporary setting can be active, and the child reads the
    same environment and profile: it is not imported just for this (a ``--no-wait`` command
    then returns in a fraction of a second instead of paying Prefect's import).
    """
    env = dict(os.environ)
    settings = sys.modules.get("prefect.settings")
    if settings is not None:
        api_url: Any = settings.PREFECT_API_URL.value()
        if api_url:
            env["PREFECT_API_URL"] = str(api_url)
    return env


def start_in_background(command: Sequence[str], *, name: str) -> tuple[int, Path]:
    """Start ``denbi-jupyter COMMAND`` detached; return its pid and log file."""
    log = _log_file(name)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "denbi_jupyter", *command],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=_child_environment(),
            start_new_session=True,
        )
    return process.pid, log


def start_detached(
    command: Sequence[str], *, name: str, what: str, hint: str, as_json: bool
) -> int:
    """:func:`start_in_background`, then say so: as JSON, or ``what`` plus pid, log and ``hint``.

    Returns:
        The exit code, 0.
    """
    pid, log = start_in_background(command, name=name)
    if as_json:
        emit_json({"started": True, "pid": pid, "log": str(log)})
    else:
        print(f"{what} in the background (pid {pid}); log: {log}")
        print(hint)
    return 0
