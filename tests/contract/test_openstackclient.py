"""python-openstackclient, a client nobody here wrote, run as a subprocess against the cloud.

It reads the same clouds.yaml through ``OS_CLIENT_CONFIG_FILE`` and ``OS_CLOUD``; every other
``OS_*`` variable of the calling environment is removed so nothing else leaks in.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from ._support import (
    TINY_FLAVOR,
    ContractCloud,
    Janitor,
    Timeouts,
    wait_image_active,
    wait_server_idle,
)

OPENSTACK = Path(sys.executable).with_name("openstack")
IMAGE_DATA = b"denbi-contract-osc\n" * 256
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")


class Openstack:
    """Runs ``openstack`` with one clouds.yaml entry and returns its JSON output."""

    def __init__(self, cloud: ContractCloud) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
        env["OS_CLIENT_CONFIG_FILE"] = str(cloud.clouds_yaml)
        env["OS_CLOUD"] = cloud.name
        self._env = env
        self._timeout = cloud.timeouts.cli

    def run(self, *args: str) -> str:
        """Run ``openstack ARGS``; fail with its stderr if it exits non-zero."""
        result = subprocess.run(
            [str(OPENSTACK), *args],
            env=self._env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=self._timeout,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"`openstack {' '.join(args)}` exited {result.returncode}: {result.stderr[-2000:]}"
            )
        return result.stdout

    def json(self, *args: str) -> Any:
        """Run ``openstack ARGS -f json`` and parse what it prints."""
        return json.loads(self.run(*args, "-f", "json"))

    def create(self, ids: list[str], *args: str) -> dict[str, Any]:
        """Run a create command ``openstack ARGS -f json``; record the new id in ``ids``."""
        created: dict[str, Any] = self.json(*args)
        ids.append(created["id"])
        return created


@pytest.fixture(scope="module")
def openstack(contract_cloud: ContractCloud) -> Openstack:
    """The CLI bound to the cloud under test."""
    assert OPENSTACK.is_file(), f"python-openstackclient is not installed beside {sys.executable}"
    return Openstack(contract_cloud)


@pytest.fixture(scope="module")
def tag(run_id: str) -> str:
    """The tag of the image this module uploads."""
    return f"contract-{run_id}-osc"


@pytest.fixture(scope="module")
def osc_image(
    openstack: Openstack,
    tag: str,
    tmp_path_factory: pytest.TempPathFactory,
    module_janitor: Janitor,
) -> dict[str, Any]:
    """``openstack image create --file … --property …`` output."""
    path = tmp_path_factory.mktemp("osc") / "disk.raw"
    path.write_bytes(IMAGE_DATA)
    return openstack.create(
        module_janitor.image_ids, "image", "create", "--file", str(path), "--disk-format", "raw",
        "--container-format", "bare", "--property", f"denbi_contract={module_janitor.run_id}",
        "--tag", tag, module_janitor.new_image_name("oscimg"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def osc_server(
    openstack: Openstack, osc_image: dict[str, Any], module_janitor: Janitor
) -> dict[str, Any]:
    """``openstack server create … --wait`` output."""
    wait_image_active(module_janitor.conn, osc_image["id"], module_janitor.timeouts)
    name = module_janitor.new_server_name("oscvm")
    return openstack.create(
        module_janitor.server_ids, "server", "create", "--image", osc_image["id"],
        "--flavor", TINY_FLAVOR, "--auto-network", "--wait", name,
    )  # fmt: skip


@pytest.fixture(scope="module")
def osc_snapshot(
    openstack: Openstack, osc_server: dict[str, Any], module_janitor: Janitor
) -> dict[str, Any]:
    """``openstack server image create --name … --wait`` output."""
    name = module_janitor.new_image_name("oscsnap")
    created = openstack.create(
        module_janitor.image_ids, "server", "image", "create", "--name", name, "--wait",
        osc_server["id"],
    )  # fmt: skip
    wait_server_idle(module_janitor.conn, osc_server["id"], module_janitor.timeouts)
    return created


def private_ipv4s_in(addresses: Any) -> list[str]:
    """Private IPv4 addresses anywhere in the CLI's ``addresses`` column (any layout)."""
    found = _IPV4.findall(json.dumps(addresses))
    return [ip for ip in found if ipaddress.ip_address(ip).is_private]


def test_image_create_uploads_a_file_with_a_property(
    osc_image: dict[str, Any], run_id: str, tag: str
) -> None:
    assert osc_image["name"].startswith(f"contract-{run_id}-oscimg")
    assert osc_image["properties"]["denbi_contract"] == run_id
    assert tag in osc_image["tags"]


def test_image_list_filters_by_tag(
    openstack: Openstack, osc_image: dict[str, Any], tag: str
) -> None:
    rows = openstack.json("image", "list", "--tag", tag)
    assert [row["ID"] for row in rows] == [osc_image["id"]]


def test_image_show_reports_the_uploaded_image(
    openstack: Openstack, conn: Connection, osc_image: dict[str, Any], timeouts: Timeouts
) -> None:
    wait_image_active(conn, osc_image["id"], timeouts)
    shown = openstack.json("image", "show", osc_image["id"])
    assert shown["status"] == "active"
    assert shown["size"] == len(IMAGE_DATA)
    assert shown["checksum"] == hashlib.md5(IMAGE_DATA).hexdigest()


def test_server_create_waits_for_active(osc_server: dict[str, Any]) -> None:
    assert osc_server["status"] == "ACTIVE"
    assert private_ipv4s_in(osc_server["addresses"]), osc_server["addresses"]


def test_server_image_create_waits_for_the_snapshot(
    osc_snapshot: dict[str, Any], run_id: str
) -> None:
    assert osc_snapshot["name"].startswith(f"contract-{run_id}-oscsnap")
    assert osc_snapshot["id"]


def test_snapshot_shows_active_with_image_type(
    openstack: Openstack, osc_snapshot: dict[str, Any], osc_server: dict[str, Any]
) -> None:
    shown = openstack.json("image", "show", osc_snapshot["id"])
    assert shown["status"] == "active"
    assert shown["properties"]["image_type"] == "snapshot"
    assert shown["properties"]["instance_uuid"] == osc_server["id"]


def test_image_delete_removes_the_image(
    openstack: Openstack, conn: Connection, janitor: Janitor, tmp_path: Path
) -> None:
    path = tmp_path / "disk.raw"
    path.write_bytes(IMAGE_DATA)
    name = janitor.new_image_name("oscdel")
    created = openstack.create(
        janitor.image_ids, "image", "create", "--file", str(path), "--disk-format", "raw",
        "--container-format", "bare", name,
    )  # fmt: skip
    openstack.run("image", "delete", created["id"])
    assert conn.image.get(f"/images/{created['id']}").status_code == 404


def test_server_delete_waits_until_the_server_is_gone(
    openstack: Openstack,
    conn: Connection,
    osc_server: dict[str, Any],
    osc_snapshot: dict[str, Any],
) -> None:
    # The snapshot is requested first: deleting a server while its snapshot uploads kills it.
    openstack.run("server", "delete", "--wait", osc_server["id"])
    assert conn.compute.get(f"/servers/{osc_server['id']}").status_code == 404
    assert conn.image.get(f"/images/{osc_snapshot['id']}").status_code == 200
