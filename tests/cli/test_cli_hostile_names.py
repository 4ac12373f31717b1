"""Hostile input at the command line: names with control characters, endless input files.

Any project member can name a snapshot. Printed raw, ``ESC [2J`` clears the user's terminal
and a newline forges a table row that shows another snapshot's id; printed through
:func:`denbi_jupyter.cli._output.visible`, each stays one visible cell of its own row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from denbi_jupyter.cli._output import table, visible
from tests.flows.harness import LocalEnv
from tests.support.sdk import sdk_connection

pytestmark = pytest.mark.usefixtures("prefect_harness", "local_env")

SITE = "bielefeld"
TAG = f"hostile-{uuid.uuid4().hex[:6]}"
FORGED_ID = "11111111-2222-3333-4444-555555555555"


@pytest.fixture(scope="module")
def hostile_snapshot(site_clients: LocalEnv) -> Iterator[str]:
    """A snapshot record whose name clears the screen and forges a row."""
    name = f"{TAG}\x1b[2J\x1b[H\n{FORGED_ID}  forged-row\r\x07"
    with sdk_connection(site_clients.clouds_yaml, SITE) as conn:
        image = conn.image.create_image(
            name=name, disk_format="qcow2", container_format="bare",
            properties={"image_type": "snapshot"},
        )  # fmt: skip
        yield image.id
        conn.image.delete_image(image.id)


def test_visible_escapes_controls_and_keeps_printable_unicode() -> None:
    assert visible("Ubuntu 22.04 – ü") == "Ubuntu 22.04 – ü"
    assert visible("a\nb\x1b[2J\x00\u202e") == "a\\nb\\x1b[2J\\x00\\u202e"
    lines = table(["NAME", "ID"], [("x\ny", "id-1")]).splitlines()
    assert len(lines) == 3 and lines[2].startswith("x\\ny")


def test_snapshots_list_prints_a_hostile_name_as_one_visible_cell(
    cli: Any, hostile_snapshot: str, monkeypatch: pytest.MonkeyPatch, site_clients: LocalEnv
) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(site_clients.clouds_yaml))
    listed = cli("snapshots", "list", "--site", SITE, "--filter", hostile_snapshot)
    assert listed.code == 0, listed.err
    assert "\x1b" not in listed.out and "\r" not in listed.out and "\x07" not in listed.out
    rows = [line for line in listed.out.splitlines() if TAG in line]
    assert len(rows) == 1 and hostile_snapshot in rows[0]
    assert "\\x1b[2J\\x1b[H\\n11111111-2222" in rows[0]
    assert not any(line.startswith(FORGED_ID) for line in listed.out.splitlines())


def test_an_endless_key_or_passphrase_file_is_read_only_up_to_its_cap() -> None:
    from pathlib import Path

    from denbi_jupyter.cli._key_input import read_key_file, read_passphrase

    endless = Path("/dev/zero")
    assert len(read_passphrase(endless)) == 64 * 1024  # one "line" of NULs, cut at the cap
    assert len(read_key_file(endless)) == 2 * 1024 * 1024


def test_the_boot_hint_shell_quotes_a_vm_name_with_a_space(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from denbi_jupyter.cli.commands.boot import _describe
    from denbi_jupyter.cloud.results import BootResult
    from denbi_jupyter.connect.details import connection_details
    from tests.support.fake_cloud import FakeCloud

    cloud = FakeCloud()
    image = cloud.add_image("X2Go_xfce", tags=("x2go",))
    server = cloud.add_server("my desk; rm -rf ~", status="ACTIVE", image_id=image.id)
    details = connection_details(cloud.site, server, cloud.desktop_image(image.id))
    assert details.x2go_session_type is not None
    result = BootResult(
        site="bielefeld", server_id=server.id, name=server.name, status="ACTIVE",
        image_id=image.id, image_name=image.name, flavor="de.NBI tiny", key_name=None,
        private_ipv4=server.private_ipv4, request_id="r", reused=False, flow_run_id=None,
        connection=details,
    )  # fmt: skip
    _describe(result)
    hint = next(line for line in capsys.readouterr().out.splitlines() if "--x2go-session" in line)
    assert "connect --site bielefeld 'my desk; rm -rf ~' --x2go-session FILE" in hint
