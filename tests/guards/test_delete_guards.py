"""The bulk delete asked for the wrong thing on purpose, through the flow, the CLI and the panel.

Every case names an image (or not an image) that must survive: protected, another project's
(shared with us, or a public base image), our own public and community snapshots, a VM's id,
an id given twice. (Our own snapshot shared with members: the local cloud has no
``/v2/images/{id}/members`` yet, so only the rule is checked, in ``test_rules.py``.)
Each asserts the refusal names the reason and that nothing but the deletable snapshot went,
counted through a plain openstacksdk connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from denbi_jupyter.cloud import open_site
from denbi_jupyter.cloud.types import SnapshotQuery
from denbi_jupyter.panels import Shared, SiteClients, SnapshotPanel
from flows import use_clients
from flows.boot import boot_server
from flows.delete import delete_snapshots
from tests.flows.harness import LocalEnv
from tests.guards._support import (
    admin_connection,
    image_ids,
    server_ids,
    unique,
    user_connection,
)
from tests.panels._support import wait_until
from tests.support.cli import Result

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(240)]

SITE = "bielefeld"
#: Images of the seed that are not this project's: shared with it, and a public base image.
SHARED_WITH_US = "genomics-pipeline-image"
PUBLIC_BASE = "Debian-12 de.NBI (2026-05-01)"


@dataclass(frozen=True)
class Wrong:
    """The ids a test asks the delete to remove, by what they are."""

    protected: str
    shared_with_us: str
    public_base: str
    own_public: str
    own_community: str
    vm: str

    def refused(self) -> dict[str, str]:
        """Each id that must survive, and the result text its refusal reads."""
        return {
            self.protected: "refused: protected",
            self.shared_with_us: "refused: not owned by project denbi-demo",
            self.public_base: "refused: not owned by project denbi-demo",
            self.own_public: "refused: public: every project may use it",
            self.own_community: "refused: public: every project may use it",
            self.vm: "not found",
        }


def _snapshot_record(conn: Any, name: str, **extra: Any) -> str:
    image = conn.image.create_image(
        name=name, disk_format="qcow2", container_format="bare", image_type="snapshot", **extra
    )
    return str(image.id)


@pytest.fixture(scope="module")
def env(site_clients: LocalEnv, prefect_harness: None) -> Iterator[LocalEnv]:
    """The local cloud for the module's flows (clients cached, clouds.yaml in the env)."""
    with pytest.MonkeyPatch.context() as patch, use_clients(site_clients.client):
        patch.setenv("OS_CLIENT_CONFIG_FILE", str(site_clients.clouds_yaml))
        patch.delenv("OS_CLOUD", raising=False)
        yield site_clients


@pytest.fixture(scope="module")
def wrong(env: LocalEnv) -> Iterator[Wrong]:
    """One of each thing that must not be deleted; what the module made goes afterwards."""
    client = env.client(SITE)
    made: list[str] = []
    with user_connection(env.clouds_yaml, SITE) as conn:
        own_public = _snapshot_record(conn, unique("own-public"))
        own_community = _snapshot_record(conn, unique("own-community"), visibility="community")
        made += [own_public, own_community]
        with admin_connection(env.clouds_yaml, SITE) as admin:  # only an admin publishes
            admin.image.update_image(own_public, visibility="public")
        vm = boot_server(
            site=SITE, image=PUBLIC_BASE, flavor="de.NBI tiny", key_name=None, name=unique("vm")
        )
        own = client.list_snapshots(SnapshotQuery(per_page=1000, own_only=True)).items
        yield Wrong(
            protected=next(s.id for s in own if s.protected),
            shared_with_us=client.find_image(SHARED_WITH_US).id,
            public_base=client.find_image(PUBLIC_BASE).id,
            own_public=own_public,
            own_community=own_community,
            vm=vm.server_id,
        )
        conn.compute.delete_server(vm.server_id, ignore_missing=True)
        for image_id in made:
            conn.image.delete_image(image_id, ignore_missing=True)


@pytest.fixture
def deletable(env: LocalEnv) -> Iterator[str]:
    """A private snapshot of ours the guards let through (it goes, or goes afterwards)."""
    with user_connection(env.clouds_yaml, SITE) as conn:
        image_id = _snapshot_record(conn, unique("deletable"))
        yield image_id
        conn.image.delete_image(image_id, ignore_missing=True)


def _counts(env: LocalEnv) -> tuple[set[str], set[str]]:
    with user_connection(env.clouds_yaml, SITE) as conn:
        return image_ids(conn), server_ids(conn)


def test_the_flow_refuses_each_wrong_id_with_its_reason_and_deletes_only_the_right_one(
    env: LocalEnv, wrong: Wrong, deletable: str
) -> None:
    images_before, servers_before = _counts(env)
    refused = wrong.refused()
    asked = [deletable, *refused, deletable, f"  {deletable} "]  # given three times

    report = delete_snapshots(site=SITE, image_ids=asked)

    results = {item.id: item.text for item in report.items}
    assert [item.id for item in report.items] == [deletable, *refused]  # once each, in order
    assert results == {deletable: "deleted", **refused}
    images_after, servers_after = _counts(env)
    assert images_before - images_after == {deletable}
    assert servers_after == servers_before  # the VM whose id was given is still there


def test_the_cli_names_each_refusal_exits_1_and_deletes_only_the_right_one(
    env: LocalEnv, wrong: Wrong, deletable: str, cli: Callable[..., Result]
) -> None:
    images_before, servers_before = _counts(env)
    refused = wrong.refused()
    names = [PUBLIC_BASE, SHARED_WITH_US]  # names resolve to the images, and are refused
    result = cli("snapshots", "delete", "--site", SITE, deletable, deletable, *refused, *names,
                 "--yes", "--json")  # fmt: skip
    assert result.code == 1, result.err
    body = result.json()
    texts = {row["id"]: row["result"] for row in body["results"]}
    assert texts == {deletable: "deleted", **refused}
    assert (body["deleted"], body["refused"], body["not_found"]) == (1, 5, 1)
    images_after, servers_after = _counts(env)
    assert images_before - images_after == {deletable}
    assert servers_after == servers_before

    plain = cli("snapshots", "delete", "--site", SITE, wrong.protected, "--yes")
    assert plain.code == 1
    assert plain.out.strip().endswith(": refused: protected")
    assert wrong.protected in image_ids_of(env)


def image_ids_of(env: LocalEnv) -> set[str]:
    """The image ids the primary project sees now."""
    return _counts(env)[0]


@pytest.fixture
def panel(env: LocalEnv, job_runner: Any) -> Iterator[SnapshotPanel]:
    """A snapshot panel of the local cloud's bielefeld, its deletes running as jobs."""
    # Fresh clients: a cached one may hold a snapshot index loaded before this module's images.
    clients = SiteClients(lambda name: open_site(name, config_file=env.clouds_yaml), [SITE])
    shared = Shared(clients, runner=job_runner, debounce_s=0.0, warm_up=False)
    view = SnapshotPanel(shared)
    assert view.wait_idle(60), view.error
    yield view
    view.close()
    shared.close()
    clients.close()


def _row(panel: SnapshotPanel, snapshot_id: str) -> Any:
    panel.table.text = snapshot_id
    assert panel.wait_idle(60)
    rows = [row for row in panel.table.rows[: len(panel.table.current.items)]
            if row.snapshot_id == snapshot_id]  # fmt: skip
    assert rows, f"{snapshot_id} is not listed"
    return rows[0]


def test_the_panel_greys_out_refused_rows_and_a_forced_delete_is_refused_by_the_flow(
    env: LocalEnv, wrong: Wrong, panel: SnapshotPanel
) -> None:
    reasons = {
        wrong.protected: "Cannot delete: protected",
        wrong.own_public: "Cannot delete: public: every project may use it",
        wrong.own_community: "Cannot delete: public: every project may use it",
    }
    for snapshot_id, tooltip in reasons.items():
        row = _row(panel, snapshot_id)
        assert row.delete.disabled and row.check.disabled
        assert row.delete.tooltip == tooltip
    panel.table.text = ""
    assert panel.wait_idle(60)
    images_before, _ = _counts(env)
    # A stale view (or a click before the rule greyed the row) asks for them anyway.
    panel.ask_delete(list(reasons))
    panel.confirmation._yes.click()
    wait_until(lambda: panel.confirmation.results, timeout=60, what="the delete's outcomes")
    outcomes = {name: (ok, message) for name, ok, message in panel.confirmation.results}
    assert len(outcomes) == len(reasons) and not any(ok for ok, _ in outcomes.values())
    assert sorted(message for _, message in outcomes.values()) == sorted(
        "refused: " + text.removeprefix("Cannot delete: ") for text in reasons.values()
    )
    assert "0 of 3 deleted" in panel.confirmation._results.value
    assert _counts(env)[0] == images_before
