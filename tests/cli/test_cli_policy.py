"""``denbi-jupyter policy show|set|clear|preview`` through ``main`` and the local cloud."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.cloud.provenance import SOURCE_SERVER_ID
from denbi_jupyter.cloud.rules.policy import LEGACY_KEY, POLICY_KEY
from denbi_jupyter.cloud.rules.policy_runs import POLICY_SCHEDULE
from denbi_jupyter.cloud.rules.retention import NIGHTLY, SCHEDULE_KEY, schedule_mark
from denbi_jupyter.cloud.types import Image, Server
from tests.flows.harness import LocalEnv
from tests.localcloud.polling import wait_for
from tests.support.cli import Result

pytestmark = pytest.mark.usefixtures("local_env")

SITE = "bielefeld"
Cli = Callable[..., Result]
Boot = Callable[..., Server]
WEEKLY = "weekly sun 03:00; tz=UTC; keep=2"


def _settled(client: CloudClient, server_id: str) -> Server | None:
    server = client.get_server(server_id)
    idle = server is not None and server.status == "ACTIVE" and not server.task_state
    return server if idle else None


def _boot(client: CloudClient, metadata: Mapping[str, str]) -> Server:
    image = client.find_image("Ubuntu-22.04 de.NBI (2026-05-01)")
    server = client.create_server(
        name=f"policy-{uuid.uuid4().hex[:8]}", image_id=image.id,
        flavor_id=client.find_flavor("de.NBI mini").id, key_name=None, metadata=metadata,
    )  # fmt: skip
    return wait_for(lambda: _settled(client, server.id), what=f"VM {server.name} ACTIVE")


def _drop(client: CloudClient, server_ids: list[str], image_ids: list[str]) -> None:
    for server_id in server_ids:
        wait_for(lambda: _settled(client, server_id), what="the VM to be idle")  # noqa: B023
        client.delete_server(server_id)
    for image_id in image_ids:
        if client.get_image(image_id) is not None:
            client.delete_image(image_id)


@pytest.fixture
def client(local_env: LocalEnv) -> CloudClient:
    return local_env.client(SITE)


@pytest.fixture
def made(client: CloudClient) -> Iterator[tuple[list[str], list[str]]]:
    """(server ids, image ids) a test made: deleted after it."""
    servers: list[str] = []
    images: list[str] = []
    yield servers, images
    _drop(client, servers, images)


@pytest.fixture
def boot(client: CloudClient, made: tuple[list[str], list[str]]) -> Boot:
    """``boot(metadata)``: a fresh ACTIVE VM with that metadata (deleted after the test)."""

    def make(metadata: Mapping[str, str] | None = None) -> Server:
        server = _boot(client, metadata or {})
        made[0].append(server.id)
        return server

    return make


def _snapshot(
    client: CloudClient, made: tuple[list[str], list[str]], server: Server, schedule: str,
    *, marked: bool,
) -> Image:  # fmt: skip
    """A snapshot with ``schedule``'s property (and its ownership mark when ``marked``)."""
    image_id = client.create_snapshot(
        server.id,
        name=f"{server.name}-{uuid.uuid4().hex[:4]}",
        metadata={SCHEDULE_KEY: schedule, SOURCE_SERVER_ID: server.id},
    )
    made[1].append(image_id)
    if marked:
        client.set_image_tags(image_id, [schedule_mark(schedule, image_id)])
    image = wait_for(lambda: _active(client, image_id), what=f"snapshot {image_id} active")
    wait_for(lambda: _settled(client, server.id), what="the VM to finish the snapshot")
    return image


def _active(client: CloudClient, image_id: str) -> Image | None:
    image = client.get_image(image_id)
    return image if image is not None and image.status == "active" else None


def _metadata(client: CloudClient, server: Server) -> dict[str, str]:
    shown = client.get_server(server.id)
    assert shown is not None
    return {k: v for k, v in shown.metadata.items() if k in (POLICY_KEY, LEGACY_KEY)}


def _shown(cli: Cli, server: Server) -> dict[str, Any]:
    result = cli("policy", "show", "--site", SITE, server.id, "--json")
    assert result.code == 0, result.err
    record: dict[str, Any] = result.json()["servers"][0]
    return record


def test_set_show_and_clear_round_trip(cli: Cli, client: CloudClient, boot: Boot) -> None:
    vm = boot()
    policy = ("--when", "daily 02:00", "--tz", "Europe/Berlin", "--keep", "5")
    done = cli("policy", "set", "--site", SITE, vm.name, *policy)
    assert done.code == 0, done.err
    assert "daily 02:00 (Europe/Berlin); keeps the last 5" in done.out
    assert f"{POLICY_KEY}=daily 02:00; tz=Europe/Berlin; keep=5" in done.out
    assert _metadata(client, vm) == {POLICY_KEY: "daily 02:00; tz=Europe/Berlin; keep=5"}

    record = _shown(cli, vm)
    assert record["policy"] == "daily 02:00; tz=Europe/Berlin; keep=5"
    assert record["legacy"] is False
    runs = [dt.datetime.fromisoformat(str(text)) for text in record["next_runs"]]
    assert len(runs) == 3
    assert [(run.hour, run.minute) for run in runs] == [(2, 0)] * 3  # in Berlin's time
    assert [(b.date() - a.date()).days for a, b in itertools.pairwise(runs)] == [1, 1]
    assert {run.utcoffset() for run in runs} <= {dt.timedelta(hours=1), dt.timedelta(hours=2)}
    every = cli("policy", "show", "--site", SITE)
    assert every.code == 0 and f"VM {vm.name} ({vm.id})" in every.out
    assert "next runs: " in every.out

    cleared = cli("policy", "clear", "--site", SITE, vm.name)
    assert cleared.code == 0, cleared.err
    assert f"policy removed ({POLICY_KEY}); its snapshots stay" in cleared.out
    assert _metadata(client, vm) == {}
    assert "policy:    no policy" in cli("policy", "show", "--site", SITE, vm.name).out
    again = cli("policy", "clear", "--site", SITE, vm.name)
    assert again.code == 0 and "no policy, nothing changed" in again.out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--when", "daily 25:00", "--keep", "3"], "Cannot read the time '25:00'"),
        (["--when", "daily 02:00"], "Say what to keep"),
        (["--when", "daily 02:00", "--tz", "Mars/Olympus", "--keep", "3"], "Unknown time zone"),
        (["--when", "fortnightly 02:00", "--keep", "3"], "Cannot read when 'fortnightly 02:00'"),
        (["--when", "daily 02:00", "--keep", "many"], "keep must be a whole number"),
        (["--policy", "daily 02:00; keep=0"], "keep must be between 1 and 1000"),
        (["--policy", "cron 0 2 * *; keep=3"], "Cannot read when"),
        (["--policy", "daily 02:00; keep=3; " + "x" * 250], "Nova keeps at most 255"),
        (["--policy", "daily 02:00; keep=3", "--keep", "4"], "not both"),
        (["--keep", "3"], "--keep need --when"),
        (["--when", "daily 02:00; keep=9", "--keep", "3"], "may not hold ';'"),
        ([], "Say which policy to set"),
    ],
)
def test_a_bad_value_is_refused_with_a_clear_message_and_nothing_is_written(
    cli: Cli, client: CloudClient, boot: Boot, options: list[str], message: str
) -> None:
    vm = boot({POLICY_KEY: WEEKLY})
    refused = cli("policy", "set", "--site", SITE, vm.name, *options)
    assert refused.code == 2, refused.err
    assert message in refused.err
    assert refused.err.count("\n") == 1 and "Traceback" not in refused.err
    assert _metadata(client, vm) == {POLICY_KEY: WEEKLY}


def test_a_new_policy_replaces_the_legacy_marker(
    cli: Cli, client: CloudClient, boot: Boot, made: tuple[list[str], list[str]]
) -> None:
    vm = boot({LEGACY_KEY: "yes"})
    _snapshot(client, made, vm, NIGHTLY, marked=True)
    record = _shown(cli, vm)
    assert record["legacy"] is True and record["policy"] == "daily 02:00; tz=Europe/Berlin; keep=7"
    shown = cli("policy", "show", "--site", SITE, vm.name).out
    assert f"{LEGACY_KEY}=yes (the old marker: daily 02:00; tz=Europe/Berlin; keep=7)" in shown

    weekly = "weekly sat,sun 03:30; tz=Europe/Berlin; keep=4"
    done = cli("policy", "set", "--site", SITE, vm.id, "--policy", "weekly SUN,sat 3:30; "
               "tz=Europe/Berlin; keep=4")  # fmt: skip
    assert done.code == 0, done.err
    assert f"replaces the old {LEGACY_KEY} marker, which is removed" in done.out
    assert "Its 1 nightly snapshot(s) stay, but no policy counts or deletes them" in done.out
    assert _metadata(client, vm) == {POLICY_KEY: weekly}
    runs = _shown(cli, vm)["next_runs"]
    weekdays = {dt.datetime.fromisoformat(str(run)).strftime("%a") for run in runs}
    assert weekdays <= {"Sat", "Sun"}


def test_clear_removes_the_legacy_marker_too(cli: Cli, client: CloudClient, boot: Boot) -> None:
    vm = boot({LEGACY_KEY: "1", POLICY_KEY: WEEKLY, "purpose": "kept"})
    cleared = cli("policy", "clear", "--site", SITE, vm.name, "--json")
    assert cleared.code == 0, cleared.err
    assert cleared.json()["servers"][0]["removed"] == [POLICY_KEY, LEGACY_KEY]
    shown = client.get_server(vm.id)
    assert shown is not None and shown.metadata == {"purpose": "kept"}


def test_an_unknown_vm_fails_alone_and_the_others_are_handled(
    cli: Cli, client: CloudClient, boot: Boot
) -> None:
    vm = boot()
    result = cli("policy", "set", "--site", SITE, "no-such-vm", vm.name, "--policy", WEEKLY)
    assert result.code == 3
    assert "no-such-vm" in result.err and "has no server named" in result.err
    assert _metadata(client, vm) == {POLICY_KEY: WEEKLY}


def test_preview_lists_keep_and_delete_with_the_reasons_and_changes_nothing(
    cli: Cli, client: CloudClient, boot: Boot, made: tuple[list[str], list[str]]
) -> None:
    vm = boot({POLICY_KEY: "daily 02:00; tz=UTC; keep=1"})
    old = _snapshot(client, made, vm, POLICY_SCHEDULE, marked=True)
    # Glance stamps created_at to the second: the next snapshot must be a second younger.
    wait_for(
        lambda: dt.datetime.now(dt.UTC).replace(microsecond=0) > old.created_at,
        what="the clock to pass the first snapshot's second",
    )
    new = _snapshot(client, made, vm, POLICY_SCHEDULE, marked=True)
    by_hand = _snapshot(client, made, vm, POLICY_SCHEDULE, marked=False)

    preview = cli("policy", "preview", "--site", SITE, vm.name, "--json")
    assert preview.code == 0, preview.err
    record = preview.json()["servers"][0]
    reasons = {d["id"]: (d["delete"], d["reason"]) for d in record["decisions"]}
    assert reasons == {
        old.id: (True, "beyond the last 1"),
        new.id: (False, "the newest good snapshot"),
        by_hand.id: (False, "not made by this schedule (by hand, or unmarked)"),
    }
    assert (record["would_delete"], record["would_keep"], record["proposed"]) == (1, 2, False)
    assert len(record["next_runs"]) == 3

    proposed = cli("policy", "preview", "--site", SITE, vm.id, "--when", "daily 04:00",
                   "--keep", "2")  # fmt: skip
    assert proposed.code == 0, proposed.err
    lines = proposed.out.splitlines()
    assert f"VM {vm.name} ({vm.id}), proposed policy" in lines[0]
    assert any(old.id in line and "keep" in line and "within the last 2" in line for line in lines)
    assert "A policy run now would delete 0 and keep 3" in proposed.out
    assert "Nothing was changed." in proposed.out
    assert all(client.get_image(image.id) is not None for image in (old, new, by_hand))
    assert _metadata(client, vm) == {POLICY_KEY: "daily 02:00; tz=UTC; keep=1"}


def test_an_unusable_policy_is_shown_with_its_error_and_cannot_be_previewed(
    cli: Cli, boot: Boot
) -> None:
    vm = boot({POLICY_KEY: "daily 02:00"})
    shown = cli("policy", "show", "--site", SITE, vm.name)
    assert shown.code == 0
    assert "unusable, policy runs report it as failed: Say what to keep" in shown.out
    assert f"{POLICY_KEY}=daily 02:00" in shown.out
    preview = cli("policy", "preview", "--site", SITE, vm.name)
    assert preview.code == 2
    assert f"The policy of VM {vm.name} cannot be used: Say what to keep" in preview.err
    bare = boot()
    none = cli("policy", "preview", "--site", SITE, bare.name)
    assert none.code == 2 and "has no policy: give --when or --policy" in none.err
