"""``denbi-jupyter prefect status|stop|prepare``: the user's one Prefect server.

Commands, their ``--no-wait`` runs and the lab share one Prefect server per user (see
:mod:`denbi_jupyter.user_prefect`). A server a command started stays up for the next ones;
``stop`` stops it when nothing uses it (no command or lab holds a lease), or with ``--force``.
``status`` says where it is; neither prints anything secret (a ``PREFECT_API_URL`` is shown
without user info or query). ``prepare`` migrates an empty Prefect database once, so that
every later first start of a Prefect server (a new lab, the demo) skips that step.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from typing import Any

from denbi_jupyter._urls import public_url
from denbi_jupyter.cli._output import add_command, add_json_flag, emit_json
from denbi_jupyter.errors import ConflictError, OperationFailedError

__all__ = ["register", "run_prepare", "run_status", "run_stop", "server_status"]


def server_status() -> dict[str, Any]:
    """Where the user's Prefect server is: the state file's record, checked."""
    from denbi_jupyter.labserver._paths import prefect_state_dir
    from denbi_jupyter.labserver._record import locked, read_record
    from denbi_jupyter.prefect_server import api_answers, process_alive
    from denbi_jupyter.user_prefect import lease_free

    state_dir = prefect_state_dir()
    configured = os.environ.get("PREFECT_API_URL", "")
    with locked(state_dir):
        record = read_record(state_dir)
        in_use = not lease_free(state_dir)
    answer: dict[str, Any] = {
        "state_dir": str(state_dir),
        "configured_api_url": public_url(configured) if configured else None,
        "running": False,
    }
    if record is None or not process_alive(record.pid):
        return answer
    return {
        **answer,
        "running": True,
        "pid": record.pid,
        "api_url": record.api_url,
        "ui_url": f"http://127.0.0.1:{record.port}{record.base_path}/",
        "answering": api_answers(record.api_url),
        "started_by": record.started_by,
        "owner_pid": record.owner_pid or None,
        "in_use": in_use,
        "up_seconds": round(time.time() - record.started_at),
    }


def run_status(args: argparse.Namespace) -> int:
    """Print where the user's Prefect server is."""
    status = server_status()
    if args.json:
        emit_json(status)
        return 0
    if status["configured_api_url"]:
        print(f"PREFECT_API_URL is set: commands use {status['configured_api_url']}.")
    if not status["running"]:
        print(f"No Prefect server of yours is running (state: {status['state_dir']}).")
        return 0
    owner = f", stopped by the lab (pid {status['owner_pid']}) at its exit" * bool(
        status["owner_pid"]
    )
    print(
        f"Prefect server pid {status['pid']}, started by the {status['started_by']}{owner}, "
        f"{_health(status)}{', in use' if status['in_use'] else ''}."
    )
    print(f"API: {status['api_url']}")
    print(f"UI:  {status['ui_url']}")
    return 0


#: A server up for less than this (s) that does not answer yet is still starting.
_STARTING_S = 90


def _health(status: dict[str, Any]) -> str:
    if status["answering"]:
        return "answering"
    if status["up_seconds"] < _STARTING_S:
        return f"starting (up {status['up_seconds']} s, not answering yet)"
    return f"NOT answering (see {status['state_dir']}/server.log)"


def run_stop(args: argparse.Namespace) -> int:
    """Stop the user's Prefect server unless it is in use (or with ``--force``)."""
    from denbi_jupyter.labserver._paths import prefect_state_dir
    from denbi_jupyter.user_prefect import ServerInUseError, stop_server

    try:
        stopped = stop_server(prefect_state_dir(), force=args.force)
    except ServerInUseError as exc:
        raise ConflictError(str(exc)) from None
    if args.json:
        emit_json({"stopped": stopped is not None, "pid": stopped.pid if stopped else None})
    elif stopped is None:
        print("No Prefect server of yours was running.")
    else:
        print(f"Stopped the Prefect server (pid {stopped.pid}).")
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    """Migrate the empty Prefect database new Prefect homes start from (once per version)."""
    from denbi_jupyter.prefect_db import prepare_template

    began = time.monotonic()
    try:
        path, made = prepare_template()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        raise OperationFailedError(f"Could not prepare the Prefect database: {exc}") from None
    seconds = round(time.monotonic() - began, 1)
    if args.json:
        emit_json({"template": str(path), "made": made, "seconds": seconds})
    elif made:
        print(f"Prepared the empty Prefect database in {seconds} s: {path}")
    else:
        print(f"The empty Prefect database is ready: {path}")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``prefect`` subcommand (``status``, ``stop``, ``prepare``)."""
    parser = subparsers.add_parser(
        "prefect",
        help="status of your Prefect server, or stop it",
        description="Your commands, their --no-wait runs and your lab share one Prefect "
        "server (started by the first that needs it; PREFECT_API_URL, when set, wins).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = add_command(actions, "status", run_status, help="where your Prefect server is")
    add_json_flag(status)
    stop = add_command(
        actions, "stop", run_stop, help="stop your Prefect server when nothing uses it"
    )
    stop.add_argument(
        "--force", action="store_true", help="stop it even while commands or a lab use it"
    )
    add_json_flag(stop)
    prepare = add_command(
        actions,
        "prepare",
        run_prepare,
        help="migrate an empty Prefect database once, for faster first starts",
    )
    add_json_flag(prepare)
