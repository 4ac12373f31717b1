"""Bulk delete and boot flows over FakeCloud, with real Prefect runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from denbi_jupyter.cloud.results import BootResult, DeleteOutcome
from denbi_jupyter.cloud.types import Limits
from denbi_jupyter.connect.x2go import SessionType
from denbi_jupyter.errors import (
    CloudUnavailableError,
    NotFoundError,
    QuotaExceededError,
    UserInputError,
)
from flows import use_clients
from flows._ids import REQUEST_ID_KEY
from flows.boot import boot_server
from flows.delete import delete_snapshots
from tests.support.fake_cloud import FakeCloud
from tests.support.sites import loopback_site

pytestmark = pytest.mark.usefixtures("prefect_harness")
#: A real OpenSSH public key line (key pairs are checked before Nova sees them).
LAPTOP_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGdzJFVdtA/Qhfc9K299GuLHCm8FVnqnOAgBjGLK9K6X laptop"
)


@pytest.fixture
def cloud() -> Iterator[FakeCloud]:
    fake = FakeCloud(other_projects={"p-other": "other-project"})
    with use_clients(lambda _site: fake):
        yield fake


def test_bulk_delete_refuses_protected_and_foreign_snapshots_and_deletes_the_rest(
    cloud: FakeCloud,
) -> None:
    mine = [cloud.add_snapshot(f"mine-{i}").id for i in range(3)]
    locked = cloud.add_snapshot("locked", protected=True).id
    foreign = cloud.add_snapshot("theirs", owner="p-other", visibility="shared").id
    base = cloud.add_image("Ubuntu-22.04").id
    bystander = cloud.add_snapshot("not-named").id
    outcome = delete_snapshots(
        site="fake", image_ids=[*mine, locked, foreign, base, "no-such-id", mine[0]]
    )
    results = {item.id: item.text for item in outcome.items}
    assert [results[i] for i in mine] == ["deleted"] * 3
    assert results[locked] == "refused: protected"
    assert results[foreign] == "refused: not owned by project my-project"
    assert results[base] == "refused: not a snapshot"
    assert results["no-such-id"] == "not found"
    assert len(outcome.items) == 7
    assert (outcome.deleted, outcome.refused, outcome.not_found) == (3, 3, 1)
    assert outcome.items[0].outcome is DeleteOutcome.DELETED
    assert {locked, foreign, base, bystander} <= set(cloud.images)
    deletes = [args[0] for method, args in cloud.calls if method == "delete_image"]
    assert sorted(deletes) == sorted(mine)


def test_bulk_delete_reports_a_failed_item_and_goes_on(cloud: FakeCloud) -> None:
    first, second = cloud.add_snapshot("a").id, cloud.add_snapshot("b").id
    cloud.fail_next("delete_image", NotFoundError("gone meanwhile"))
    cloud.fail_next("list_images", CloudUnavailableError("Glance listing down"))
    cloud.fail_next("get_image", UserInputError("odd id"))
    outcome = delete_snapshots(site="fake", image_ids=[first, second], max_parallel=1)
    texts = [item.text for item in outcome.items]
    assert texts[0] == "failed: odd id"
    assert texts[1] == "deleted"


def test_bulk_delete_reads_each_image_once_and_runs_no_task_per_item(cloud: FakeCloud) -> None:
    mine = [cloud.add_snapshot(f"many-{i}").id for i in range(50)]
    before = len(cloud.gateway.calls)
    outcome = delete_snapshots(site="fake", image_ids=mine)
    made = [call[0] for call in cloud.gateway.calls[before:]]
    assert outcome.deleted == 50
    assert made.count("delete_image") == 50 and made.count("get_image") == 0
    assert made.count("image_page") == 2  # 40 ids per listing


def test_bulk_delete_needs_ids_and_a_sane_parallelism(cloud: FakeCloud) -> None:
    with pytest.raises(UserInputError, match="No snapshot ids"):
        delete_snapshots(site="fake", image_ids=["  "])
    with pytest.raises(UserInputError, match="max_parallel"):
        delete_snapshots(site="fake", image_ids=["x"], max_parallel=0)


def _boot(
    image: str = "Ubuntu-22.04",
    *,
    site: str = "fake",
    flavor: str = "de.NBI mini",
    key_name: str | None = None,
    name: str = "vm",
    wait_for_port: bool = False,
) -> BootResult:
    """The boot flow, with the parameters most tests here share as defaults."""
    return boot_server(
        site=site,
        image=image,
        flavor=flavor,
        key_name=key_name,
        name=name,
        wait_for_port=wait_for_port,
    )


def test_boot_waits_for_active_and_returns_the_x2go_connection(cloud: FakeCloud) -> None:
    cloud.add_image("X2Go_xfce Ubuntu-22.04", tags=["x2go"])
    cloud.import_keypair("laptop", LAPTOP_KEY)
    result = _boot("X2Go_xfce Ubuntu-22.04", key_name="laptop", name="desk")
    connection = result.connection
    assert connection is not None and result.unreachable_reason is None
    assert result.status == "ACTIVE" and result.flavor == "de.NBI mini"
    assert connection.ssh_command == "ssh -p 30266 ubuntu@192.0.2.1"
    assert "Host desk" in connection.ssh_config
    assert connection.x2go_session_type is SessionType.XFCE
    assert connection.x2go_session is not None and "command=XFCE" in connection.x2go_session
    assert connection.guacamole_url is None
    vm = cloud.servers[result.server_id]
    assert vm.metadata[REQUEST_ID_KEY] == result.request_id


def test_boot_gives_a_guacamole_link_for_guacamole_images(cloud: FakeCloud) -> None:
    cloud.add_image("Guacamole-ubuntu22.04 de.NBI (2026-05-01)", tags=["guacamole"])
    result = _boot("Guacamole-ubuntu22.04 de.NBI (2026-05-01)", name="guac")
    connection = result.connection
    assert connection is not None
    assert str(connection.guacamole_url).startswith(
        "https://guacamole.fake.invalid/guacamole/#/client/"
    )


def test_a_rerun_of_the_same_boot_request_returns_the_existing_server(cloud: FakeCloud) -> None:
    cloud.add_image("Ubuntu-22.04")
    first = _boot()
    second = _boot()
    assert second.reused is True
    assert second.server_id == first.server_id
    assert sum(method == "create_server" for method, _ in cloud.calls) == 1


def test_the_same_boot_with_another_key_pair_is_another_vm(cloud: FakeCloud) -> None:
    """Found in the browser: booting again with a new key gave back the keyless VM."""
    cloud.add_image("Ubuntu-22.04")
    cloud.import_keypair("laptop", LAPTOP_KEY)
    keyless = _boot()
    keyed = _boot(key_name="laptop")
    assert keyed.reused is False and keyed.server_id != keyless.server_id
    assert keyed.key_name == "laptop"
    assert _boot(key_name="laptop").server_id == keyed.server_id


def test_a_lost_boot_answer_is_looked_up_before_asking_again(cloud: FakeCloud) -> None:
    cloud.add_image("Ubuntu-22.04")
    cloud.fail_next("create_server", CloudUnavailableError("502 from the proxy"))
    result = _boot()
    assert result.reused is False
    assert sum(method == "create_server" for method, _ in cloud.calls) == 2


def test_boot_refuses_an_unknown_key_pair_with_the_known_ones(cloud: FakeCloud) -> None:
    cloud.add_image("Ubuntu-22.04")
    cloud.import_keypair("laptop", LAPTOP_KEY)
    with pytest.raises(UserInputError, match=r"no key pair 'desktop' \(yours: laptop\)"):
        _boot(key_name="desktop")
    assert not any(method == "create_server" for method, _ in cloud.calls)


def test_boot_reports_an_unknown_image(cloud: FakeCloud) -> None:
    with pytest.raises(NotFoundError, match="no image named or with id 'nope'"):
        _boot("nope")


def test_boot_refuses_what_the_quota_cannot_take_before_asking_nova(cloud: FakeCloud) -> None:
    cloud.add_image("Ubuntu-22.04")
    cloud.limits_value = Limits(
        max_instances=10,
        used_instances=3,
        max_cores=8,
        used_cores=7,
        max_ram_mb=-1,
        used_ram_mb=0,
    )
    with pytest.raises(QuotaExceededError, match="uses 7 of 8 and the VM needs 2"):
        _boot(flavor="de.NBI small")
    assert not any(method == "create_server" for method, _ in cloud.calls)


def test_boot_can_wait_until_the_ssh_port_answers(
    prefect_harness: None, listening_port: int
) -> None:
    fake = FakeCloud(site=loopback_site(listening_port))
    fake.add_image("Ubuntu-22.04")
    with use_clients(lambda _name: fake):
        result = _boot(site="loop", wait_for_port=True)
    assert result.connection is not None and result.connection.port == listening_port
