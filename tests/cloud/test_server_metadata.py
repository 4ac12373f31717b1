"""Server metadata through the client: set (merging), delete, Nova's limits and the lock.

Most tests run on the session's local cloud over real HTTP (one VM for the module); the
FakeGateway tests pin that the fake answers the same way, so unit tests of flows and panels
over FakeCloud see what the local cloud does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from denbi_jupyter.cloud import OpenStackCloud, Server
from denbi_jupyter.errors import ConflictError, NotFoundError, QuotaExceededError, UserInputError
from tests.support.fake_cloud import FakeCloud

from .conftest import client_for, wait_for


@pytest.fixture(scope="module")
def client(clouds_yaml: Path) -> Iterator[OpenStackCloud]:
    """One bielefeld client for the module."""
    opened = client_for("bielefeld", clouds_yaml)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def vm(client: OpenStackCloud) -> Iterator[Server]:
    """An ACTIVE VM booted with one metadata item; deleted at the end of the module."""
    image = client.find_image("Ubuntu-22.04 de.NBI (2026-05-01)")
    flavor = client.find_flavor("de.NBI mini")
    server = client.create_server(
        name=f"meta-{uuid.uuid4().hex[:8]}", image_id=image.id, flavor_id=flavor.id,
        key_name=None, metadata={"purpose": "metadata test"},
    )  # fmt: skip
    active = wait_for(lambda: _settled(client, server.id))
    yield active
    client.delete_server(server.id)


def _settled(client: OpenStackCloud, server_id: str) -> Server | None:
    server = client.get_server(server_id)
    ready = server is not None and server.status == "ACTIVE" and not server.task_state
    return server if ready else None


def test_set_merges_and_every_read_shows_the_new_metadata(
    client: OpenStackCloud, vm: Server
) -> None:
    updated = client.set_server_metadata(vm.id, {"colour": "blue", "size": "S"})
    assert updated.id == vm.id
    assert updated.metadata == {"purpose": "metadata test", "colour": "blue", "size": "S"}
    changed = client.set_server_metadata(vm.id, {"colour": "green"})
    assert changed.metadata["colour"] == "green" and changed.metadata["size"] == "S"
    shown = client.get_server(vm.id)
    assert shown is not None and shown.metadata == changed.metadata
    listed = {server.id: server for server in client.list_servers()}
    assert listed[vm.id].metadata == changed.metadata
    client.delete_server_metadata(vm.id, ["colour", "size"])


def test_delete_removes_only_the_named_keys_and_skips_missing_ones(
    client: OpenStackCloud, vm: Server, record: Callable[[OpenStackCloud], Any]
) -> None:
    client.set_server_metadata(vm.id, {"a": "1", "b": "2"})
    with record(client) as log:
        client.delete_server_metadata(vm.id, ["a", "never-set", "a"])
    deletes = [r for r in log.requests if r.method == "DELETE"]
    assert [(r.path.rsplit("/", 1)[-1], r.status) for r in deletes] == [("a", 204)]
    after = client.get_server(vm.id)
    assert after is not None
    assert "a" not in after.metadata and after.metadata["b"] == "2"
    assert after.metadata["purpose"] == "metadata test"
    client.delete_server_metadata(vm.id, ["b"])


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ({"k" * 256: "v"}, "is not allowed: Nova takes 1 to 255"),
        ({"": "v"}, "is not allowed"),
        ({"a/b": "v"}, "letters, digits, spaces and '-_:.' only"),
        ({"long": "v" * 256}, "has 256 characters; Nova keeps at most 255"),
        ({}, "No metadata items given"),
    ],
)
def test_items_nova_would_refuse_are_refused_before_any_request(
    client: OpenStackCloud,
    vm: Server,
    record: Callable[[OpenStackCloud], Any],
    items: dict[str, str],
    message: str,
) -> None:
    with record(client) as log, pytest.raises(UserInputError, match=message):
        client.set_server_metadata(vm.id, items)
    assert not [r for r in log.requests if "/metadata" in r.path]
    shown = client.get_server(vm.id)
    assert shown is not None and shown.metadata == {"purpose": "metadata test"}


def test_the_local_cloud_itself_refuses_what_nova_refuses(
    client: OpenStackCloud, vm: Server
) -> None:
    """Past the client's own checks (straight to the gateway), Nova's answers: 400, 404."""
    with pytest.raises(UserInputError, match="255 characters at most"):
        client.gateway.set_server_metadata(vm.id, {"long": "v" * 256})
    with pytest.raises(UserInputError, match="'a/b' was unexpected"):
        client.gateway.set_server_metadata(vm.id, {"a/b": "v"})
    with pytest.raises(NotFoundError):
        client.gateway.delete_server_metadata(vm.id, "never-set")
    with pytest.raises(NotFoundError):
        client.gateway.set_server_metadata(str(uuid.uuid4()), {"a": "1"})


def test_more_items_than_the_quota_is_a_quota_error_and_writes_nothing(
    client: OpenStackCloud, vm: Server
) -> None:
    items = {f"item-{n:03d}": "x" for n in range(128)}  # + "purpose" = 129 > 128
    with pytest.raises(QuotaExceededError, match="metadata items exceeds 128"):
        client.set_server_metadata(vm.id, items)
    shown = client.get_server(vm.id)
    assert shown is not None and shown.metadata == {"purpose": "metadata test"}


def test_an_unknown_server_is_not_found(client: OpenStackCloud) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(NotFoundError, match="does not exist"):
        client.set_server_metadata(missing, {"a": "1"})
    with pytest.raises(NotFoundError, match="does not exist"):
        client.delete_server_metadata(missing, ["a"])


def test_a_locked_vm_is_refused_with_a_message_saying_to_unlock_it(
    client: OpenStackCloud, vm: Server
) -> None:
    client.set_server_metadata(vm.id, {"keep-me": "1"})
    client.gateway.server_action(vm.id, "lock", None)
    try:
        # The server as read before the lock: the refusal comes from Nova's 409.
        with pytest.raises(ConflictError, match="is locked, so Nova refuses") as refused:
            client.set_server_metadata(vm.id, {"a": "1"}, checked=vm)
        assert refused.value.status == 409 and "unlock" in str(refused.value)
        with pytest.raises(ConflictError, match="unlock it"):
            client.delete_server_metadata(vm.id, ["keep-me"])
    finally:
        client.gateway.server_action(vm.id, "unlock", None)
    shown = client.get_server(vm.id)
    assert shown is not None and shown.metadata.get("keep-me") == "1"
    client.delete_server_metadata(vm.id, ["keep-me"])


# --- the FakeGateway answers alike -----------------------------------------------------------
def test_fake_cloud_sets_and_deletes_metadata_like_nova() -> None:
    cloud = FakeCloud()
    vm = cloud.add_server("vm", metadata={"purpose": "x"})
    updated = cloud.set_server_metadata(vm.id, {"a": "1"})
    assert updated.metadata == {"purpose": "x", "a": "1"}
    cloud.delete_server_metadata(vm.id, ["a", "missing"])
    assert cloud.servers[vm.id].metadata == {"purpose": "x"}
    assert [name for name, _ in cloud.calls] == ["set_server_metadata", "delete_server_metadata"]
    sent = [name for name, _ in cloud.gateway.calls if "metadata" in name]
    assert sent == ["set_server_metadata", "delete_server_metadata"]


def test_fake_cloud_refuses_a_locked_vm_and_the_quota_like_nova() -> None:
    cloud = FakeCloud()
    vm = cloud.add_server("vm")
    cloud.servers[vm.id] = replace(cloud.servers[vm.id], locked=True)
    with pytest.raises(ConflictError, match="is locked, so Nova refuses"):
        cloud.set_server_metadata(vm.id, {"a": "1"})
    cloud.servers[vm.id] = replace(cloud.servers[vm.id], locked=False)
    cloud.gateway.metadata_items = 2
    with pytest.raises(QuotaExceededError):
        cloud.set_server_metadata(vm.id, {"a": "1", "b": "2", "c": "3"})
    assert cloud.servers[vm.id].metadata == {}
