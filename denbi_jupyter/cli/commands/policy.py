"""``denbi-jupyter policy show|set|clear|preview``: VMs' snapshot policies, kept in Nova metadata.

A VM's policy is its metadata item ``denbi_snapshot_policy`` (read and checked by
:mod:`denbi_jupyter.cloud.rules.policy`; the old ``denbi_nightly`` marker still means "daily
02:00 Europe/Berlin, keep 7"). ``show`` prints each VM's policy in words, the metadata text and
the next three run times in the policy's zone (or why the value cannot be used); ``set`` checks
the new value *before* writing it (a bad one changes nothing, exit code 2) and replaces the old
marker; ``clear`` removes both keys (the VM's snapshots stay); ``preview`` lists the VM's
snapshots of its schedule with keep or delete and the reason, exactly as a policy run would
decide now, and changes nothing. Each VM is handled on its own: the exit code is the first
failure's, 0 when every VM was handled.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from denbi_jupyter.cli._output import (
    add_command,
    add_json_flag,
    add_site_option,
    emit_json,
    for_each_server,
    resolve_site,
    server_names,
    table,
)
from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.rules.policy import (
    LEGACY_KEY,
    LEGACY_POLICY,
    POLICY_KEY,
    PolicyError,
    SnapshotPolicy,
    parse_policy,
    policy_of,
)
from denbi_jupyter.cloud.rules.policy_preview import (
    NEXT_RUNS,
    local_time,
    preview_policy,
    schedule_of,
)
from denbi_jupyter.cloud.rules.policy_runs import POLICY_SCHEDULE
from denbi_jupyter.cloud.rules.retention import (
    NIGHTLY,
    SCHEDULE_KEY,
    RetentionDecision,
    made_by_schedule,
    marked_servers,
)
from denbi_jupyter.errors import UserInputError

if TYPE_CHECKING:
    from denbi_jupyter.cloud.protocol import CloudClient
    from denbi_jupyter.cloud.types import Image, Server

__all__ = ["proposed_policy", "register"]

_PARTS = (
    ("when", "--when"),
    ("tz", "--tz"),
    ("keep", "--keep"),
    ("max_age_days", "--max-age-days"),
)
_COUNTS = ("keep", "max_age_days")
_PREVIEW_HEADERS = ("CREATED", "DECISION", "SNAPSHOT", "ID", "STATUS", "REASON")

#: What one VM gave: its JSON record and the lines printed for people.
Outcome = tuple[dict[str, object], list[str]]


# --- the policy the options describe ------------------------------------------------------------
def proposed_policy(args: argparse.Namespace) -> SnapshotPolicy | None:
    """The policy given by ``--policy`` or ``--when`` (+ ``--tz``/``--keep``/``--max-age-days``).

    None when neither is given.

    Raises:
        UserInputError: Both ways are mixed, an option lacks ``--when``, or a part holds ``;``.
        PolicyError: The domain core refuses the value (the message names the part).
    """
    given = [flag for dest, flag in _PARTS if getattr(args, dest, None) is not None]
    if args.policy is not None:
        if given:
            raise UserInputError(
                f"Give the whole value with --policy, or --when with --tz, --keep and "
                f"--max-age-days, not both (also given: {', '.join(given)})."
            )
        return parse_policy(args.policy)
    if args.when is None:
        if given:
            raise UserInputError(
                f"{', '.join(given)} need --when, e.g. --when 'daily 02:00' --keep 7."
            )
        return None
    for dest, flag in _PARTS:
        part = getattr(args, dest)
        if part is not None and (";" in part or "=" in part):
            raise UserInputError(
                f"{flag} {part!r} may not hold ';' or '=': give the whole value with --policy."
            )
    parts = [args.when, f"tz={args.tz or 'UTC'}"]
    parts += [
        f"{dest}={getattr(args, dest)}" for dest in _COUNTS if getattr(args, dest) is not None
    ]
    return parse_policy("; ".join(parts))


def _runs(policy: SnapshotPolicy, now: dt.datetime) -> tuple[list[str], str]:
    """The next run times as ISO text in the policy's zone, and as one line for people."""
    runs = policy.next_runs(now, NEXT_RUNS)
    iso = [when.astimezone(policy.zone).isoformat() for when in runs]
    return iso, ", ".join(local_time(when, policy) for when in runs) or "none"


def _policy_lines(policy: SnapshotPolicy, now: dt.datetime) -> tuple[dict[str, object], list[str]]:
    iso, text = _runs(policy, now)
    record: dict[str, object] = {
        "policy": policy.text(),
        "description": policy.describe(),
        "next_runs": iso,
    }
    return record, [f"  policy:    {policy.describe()}", f"  next runs: {text}"]


# --- running one handler per VM -----------------------------------------------------------------
def _each(names: Sequence[str], handle: Callable[[str], Outcome], *, as_json: bool) -> int:
    """Handle every VM; print each outcome (or error); the first failure's exit code, or 0."""
    code, records = for_each_server(names, handle, as_json=as_json)
    if as_json:
        emit_json({"servers": records})
    return code


def _names(args: argparse.Namespace) -> list[str]:
    return server_names(args.servers)


def _heading(server: Server) -> dict[str, object]:
    return {"id": server.id, "name": server.name}


def _metadata_lines(server: Server) -> list[str]:
    lines = []
    if POLICY_KEY in server.metadata:
        lines.append(f"  metadata:  {POLICY_KEY}={server.metadata[POLICY_KEY]}")
    if LEGACY_KEY in server.metadata:
        meaning = (
            f"ignored: {POLICY_KEY} is set"
            if POLICY_KEY in server.metadata
            else f"the old marker: {LEGACY_POLICY}"
        )
        lines.append(f"  metadata:  {LEGACY_KEY}={server.metadata[LEGACY_KEY]} ({meaning})")
    return lines


# --- show ---------------------------------------------------------------------------------------
def _show_one(server: Server, now: dt.datetime) -> Outcome:
    metadata = {k: server.metadata[k] for k in (POLICY_KEY, LEGACY_KEY) if k in server.metadata}
    record: dict[str, object] = {**_heading(server), "metadata": metadata, "policy": None}
    lines = [f"VM {server.name} ({server.id})"]
    try:
        policy = policy_of(server.metadata)
    except PolicyError as error:
        record["error"] = str(error)
        lines.append(f"  policy:    unusable, policy runs report it as failed: {error}")
        return record, lines + _metadata_lines(server)
    if policy is None:
        return record, [*lines, "  policy:    no policy"]
    shown, policy_lines = _policy_lines(policy, now)
    record.update(shown, legacy=POLICY_KEY not in server.metadata)
    return record, [*lines, policy_lines[0], *_metadata_lines(server), policy_lines[1]]


def _with_policy(servers: Sequence[Server]) -> list[Server]:
    legacy = {server.id for server in marked_servers(servers, LEGACY_KEY)}
    return [s for s in servers if POLICY_KEY in s.metadata or s.id in legacy]


def run_show(args: argparse.Namespace) -> int:
    """Show the named VMs' policies (every VM with one when none is named)."""
    from denbi_jupyter.cloud import open_site

    site = resolve_site(args)
    client = open_site(site)
    now = dt.datetime.now(dt.UTC)
    names = _names(args)
    if names:
        return _each(
            names, lambda name: _show_one(client.find_server(name), now), as_json=args.json
        )
    servers = _with_policy(client.list_servers())
    if not servers and not args.json:
        print(f"No VM on {site} has a snapshot policy ('policy set' gives one).")
        return 0
    by_id = {server.id: server for server in servers}
    return _each(list(by_id), lambda sid: _show_one(by_id[sid], now), as_json=args.json)


# --- set and clear ------------------------------------------------------------------------------
def _nightly_left(client: CloudClient, server: Server) -> int:
    """How many snapshots the old nightly schedule made of ``server`` (they stay)."""
    images = client.find_images_by_property(SCHEDULE_KEY, NIGHTLY)
    return sum(
        1
        for image in images
        if image.properties.get(SOURCE_SERVER_ID) == server.id and made_by_schedule(image, NIGHTLY)
    )


def _set_one(client: CloudClient, name: str, policy: SnapshotPolicy, now: dt.datetime) -> Outcome:
    server = client.find_server(name)
    before = server.metadata.get(POLICY_KEY)
    updated = client.set_server_metadata(server.id, {POLICY_KEY: policy.text()}, checked=server)
    shown, policy_lines = _policy_lines(policy, now)
    record: dict[str, object] = {**_heading(server), **shown, "replaced": before}
    lines = [f"VM {server.name} ({server.id}): policy set", policy_lines[0]]
    lines.append(f"  metadata:  {POLICY_KEY}={policy.text()}")
    if before is not None and before != policy.text():
        lines.append(f"  (was:      {before})")
    lines.append(policy_lines[1])
    if LEGACY_KEY in server.metadata:
        client.delete_server_metadata(server.id, [LEGACY_KEY], checked=updated)
        record["legacy_marker_removed"] = True
        lines.append(f"  The new policy replaces the old {LEGACY_KEY} marker, which is removed.")
        left = _nightly_left(client, server)
        if left:
            lines.append(
                f"  Its {left} nightly snapshot(s) stay, but no policy counts or deletes them "
                "any more: delete them by hand when you no longer need them."
            )
    return record, lines


def run_set(args: argparse.Namespace) -> int:
    """Check the given policy, then write it to each named VM."""
    policy = proposed_policy(args)
    if policy is None:
        raise UserInputError(
            "Say which policy to set: --when 'daily 02:00' [--tz Europe/Berlin] [--keep N] "
            "[--max-age-days D], or --policy 'daily 02:00; tz=Europe/Berlin; keep=7'."
        )
    names = _names(args)
    if not names:
        raise UserInputError("Name at least one VM (name or id) to set the policy of.")
    from denbi_jupyter.cloud import open_site

    client = open_site(resolve_site(args))
    now = dt.datetime.now(dt.UTC)
    return _each(names, lambda name: _set_one(client, name, policy, now), as_json=args.json)


def _clear_one(client: CloudClient, name: str) -> Outcome:
    server = client.find_server(name)
    keys = [key for key in (POLICY_KEY, LEGACY_KEY) if key in server.metadata]
    record: dict[str, object] = {**_heading(server), "removed": keys}
    if not keys:
        return record, [f"VM {server.name} ({server.id}): no policy, nothing changed."]
    client.delete_server_metadata(server.id, keys, checked=server)
    return record, [
        f"VM {server.name} ({server.id}): policy removed ({', '.join(keys)}); its snapshots stay."
    ]


def run_clear(args: argparse.Namespace) -> int:
    """Remove the policy (and the old marker) from each named VM."""
    from denbi_jupyter.cloud import open_site

    names = _names(args)
    if not names:
        raise UserInputError("Name at least one VM (name or id) to clear the policy of.")
    client = open_site(resolve_site(args))
    return _each(names, lambda name: _clear_one(client, name), as_json=args.json)


# --- preview ------------------------------------------------------------------------------------
class _ScheduleImages:
    """The images of each schedule (``denbi_schedule``), one Glance listing per schedule."""

    def __init__(self, client: CloudClient) -> None:
        self._client = client
        self._by_schedule: dict[str, list[Image]] = {}

    def of(self, schedule: str, server: Server) -> list[Image]:
        if schedule not in self._by_schedule:
            found = self._client.find_images_by_property(SCHEDULE_KEY, schedule)
            self._by_schedule[schedule] = found
        return [
            i
            for i in self._by_schedule[schedule]
            if i.properties.get(SOURCE_SERVER_ID) == server.id
        ]


def _current(server: Server) -> tuple[SnapshotPolicy, str]:
    try:
        policy = policy_of(server.metadata)
    except PolicyError as error:
        raise PolicyError(
            f"The policy of VM {server.name} cannot be used: {error} Preview another with "
            "--when or --policy, or replace it with 'policy set'."
        ) from error
    if policy is None:
        raise UserInputError(
            f"VM {server.name} has no policy: give --when or --policy to preview one."
        )
    return policy, schedule_of(server.metadata)


def _decision_json(decision: RetentionDecision) -> dict[str, object]:
    image = decision.image
    return {
        "id": image.id,
        "name": image.name,
        "created_at": image.created_at.isoformat(),
        "status": image.status,
        "delete": decision.delete,
        "reason": decision.reason,
    }


def _decision_row(decision: RetentionDecision, policy: SnapshotPolicy) -> list[object]:
    image = decision.image
    verdict = "delete" if decision.delete else "keep"
    return [local_time(image.created_at, policy), verdict, image.name, image.id, image.status,
            decision.reason]  # fmt: skip


def _preview_one(
    client: CloudClient,
    images: _ScheduleImages,
    name: str,
    proposed: SnapshotPolicy | None,
    now: dt.datetime,
) -> Outcome:
    server = client.find_server(name)
    if proposed is not None:
        policy, schedule = proposed, POLICY_SCHEDULE
    else:
        policy, schedule = _current(server)
    preview = preview_policy(
        policy, images.of(schedule, server), server_id=server.id, schedule=schedule, now=now
    )
    decisions, doomed = preview.decisions, len(preview.deleted)
    shown, policy_lines = _policy_lines(policy, now)
    record: dict[str, object] = {
        **_heading(server), **shown, "proposed": proposed is not None, "schedule": schedule,
        "decisions": [_decision_json(d) for d in decisions],
        "would_delete": doomed, "would_keep": len(decisions) - doomed,
    }  # fmt: skip
    which = "proposed" if proposed is not None else "current"
    lines = [f"VM {server.name} ({server.id}), {which} policy", *policy_lines]
    lines.append(table(_PREVIEW_HEADERS, [_decision_row(d, policy) for d in decisions]))
    lines.append(
        f"A policy run now would delete {doomed} and keep {len(decisions) - doomed} of these "
        "snapshot(s). Nothing was changed."
    )
    if proposed is not None and schedule != schedule_of(server.metadata):
        old = [i for i in images.of(NIGHTLY, server) if made_by_schedule(i, NIGHTLY)]
        if old:
            lines.append(
                f"Its {len(old)} nightly snapshot(s) of the old {LEGACY_KEY} marker are not "
                "counted by the new policy and would stay."
            )
    return record, lines


def run_preview(args: argparse.Namespace) -> int:
    """Show what each VM's retention would delete and keep now, and why; change nothing."""
    proposed = proposed_policy(args)
    names = _names(args)
    if not names:
        raise UserInputError("Name at least one VM (name or id) to preview.")
    from denbi_jupyter.cloud import open_site

    client = open_site(resolve_site(args))
    images = _ScheduleImages(client)
    now = dt.datetime.now(dt.UTC)
    return _each(
        names, lambda name: _preview_one(client, images, name, proposed, now), as_json=args.json
    )


# --- the parser ---------------------------------------------------------------------------------
def _add_policy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--when",
        metavar="WHEN",
        help="when to snapshot: 'daily HH:MM', 'weekly DAY[,DAY] HH:MM' or 'cron M H DOM MON DOW'",
    )
    parser.add_argument("--tz", metavar="ZONE", help="IANA time zone of --when (default UTC)")
    parser.add_argument("--keep", metavar="N", help="keep the last N snapshots")
    parser.add_argument("--max-age-days", metavar="D", help="delete snapshots older than D days")
    parser.add_argument(
        "--policy",
        metavar="VALUE",
        help="the whole metadata value instead, e.g. 'daily 02:00; tz=Europe/Berlin; keep=7'",
    )


def _add(actions: Any, name: str, run: Callable[[argparse.Namespace], int], help: str) -> Any:
    command = add_command(actions, name, run, help=help)
    add_site_option(command)
    add_json_flag(command)
    return command


def register(subparsers: Any) -> None:
    """Add the ``policy`` subcommand (``show``, ``set``, ``clear``, ``preview``)."""
    parser = subparsers.add_parser(
        "policy",
        help="show, set, clear or preview VMs' snapshot policies",
        description=f"A VM's snapshot policy is its Nova metadata item {POLICY_KEY} (the old "
        f"{LEGACY_KEY} marker means '{LEGACY_POLICY}'). A value is checked before it is "
        "written; preview shows what retention would delete and keep, and why, changing "
        "nothing. The exit code is the first failing VM's (2: a bad value).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = _add(actions, "show", run_show, "each VM's policy, its metadata and next run times")
    show.add_argument(
        "servers", nargs="*", metavar="VM", help="VM names or ids (default: every VM with one)"
    )
    setter = _add(actions, "set", run_set, "check a policy, then write it to VMs")
    setter.add_argument("servers", nargs="+", metavar="VM", help="VM names or ids")
    _add_policy_options(setter)
    clear = _add(actions, "clear", run_clear, "remove VMs' policies (their snapshots stay)")
    clear.add_argument("servers", nargs="+", metavar="VM", help="VM names or ids")
    preview = _add(
        actions, "preview", run_preview, "what retention would delete and keep now, and why"
    )
    preview.add_argument("servers", nargs="+", metavar="VM", help="VM names or ids")
    _add_policy_options(preview)
