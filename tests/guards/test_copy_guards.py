"""The copy never deletes or changes its source, even when the target refuses the upload.

Asked for through the flow, the CLI and the snapshot panel's "Copy to site…" form, with the
target's Glance refusing the upload (``upload_refused``: 413 in Glance's shape), and once to
the same cloud under a second ``clouds.yaml`` name (an alias the name check cannot see), where
the flow's clean-up deletes on the very cloud that holds the source. Each time the source is
still ACTIVE with the same size, hashes and timestamps (read through a plain openstacksdk
connection), and no copy is left behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from denbi_jupyter.cloud import open_site
from denbi_jupyter.cloud.federation import FederatedPage
from denbi_jupyter.cloud.rules.copy import COPIED_FROM_KEY, copied_from_mark
from denbi_jupyter.errors import QuotaExceededError
from denbi_jupyter.panels import Shared, SiteClients, SnapshotPanel
from flows import use_clients
from flows.copy import copy_image
from tests.flows.harness import LocalEnv
from tests.guards._support import unique, user_connection
from tests.panels._support import wait_until
from tests.support.cli import Result

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(240)]

SOURCE, TARGET = "bielefeld", "heidelberg"
ALIAS = "bielefeld-again"
Faults = Callable[..., None]
#: What must not change about the source.
WATCHED = ("status", "size", "checksum", "hash_value", "updated_at", "name", "visibility")


def _view(conn: Any, image_id: str) -> dict[str, object]:
    image = conn.image.get_image(image_id)
    return {key: getattr(image, key) for key in WATCHED}


def _marked(conn: Any, source_id: str, site: str = SOURCE) -> list[str]:
    mark = copied_from_mark(site, source_id)
    return [
        str(image.id)
        for image in conn.image.images(owner=conn.current_project_id)
        if image.properties.get(COPIED_FROM_KEY) == mark
    ]


@pytest.fixture
def source(local_env: LocalEnv) -> Iterator[tuple[str, dict[str, object]]]:
    """A fresh active snapshot on bielefeld (1 MiB + 3 bytes) and its view; it goes after."""
    with user_connection(local_env.clouds_yaml, SOURCE) as conn:
        image = conn.image.create_image(
            name=unique("copy-source"), disk_format="qcow2", container_format="bare",
            data=os.urandom(1024 * 1024 + 3), image_type="snapshot",
        )  # fmt: skip
        image_id = str(image.id)
        view = _view(conn, image_id)
        assert view["status"] == "active"
        yield image_id, view
        for stray in _marked(conn, image_id) + _marked(conn, image_id, ALIAS):
            conn.image.delete_image(stray, ignore_missing=True)
        conn.image.delete_image(image_id, ignore_missing=True)


def _unchanged(env: LocalEnv, image_id: str, view: dict[str, object]) -> None:
    with user_connection(env.clouds_yaml, SOURCE) as conn:
        assert _view(conn, image_id) == view
    with user_connection(env.clouds_yaml, TARGET) as conn:
        assert _marked(conn, image_id) == []


def test_the_flow_keeps_the_source_when_the_target_refuses_the_upload(
    local_env: LocalEnv, source: tuple[str, dict[str, object]], faults: Faults
) -> None:
    image_id, view = source
    faults({"kind": "upload_refused", "site": TARGET, "service": "image", "count": 1})
    with pytest.raises(QuotaExceededError, match="the source was not changed"):
        copy_image(site=SOURCE, image_id=image_id, target_site=TARGET)
    _unchanged(local_env, image_id, view)


def test_the_cli_keeps_the_source_when_the_target_refuses_the_upload(
    local_env: LocalEnv,
    source: tuple[str, dict[str, object]],
    faults: Faults,
    cli: Callable[..., Result],
) -> None:
    image_id, view = source
    faults({"kind": "upload_refused", "site": TARGET, "service": "image", "count": 1})
    result = cli("snapshot", "copy", "--site", SOURCE, image_id, "--to", TARGET)
    assert result.code == 5, result.err
    assert "the source was not changed" in result.err
    _unchanged(local_env, image_id, view)


def test_the_panel_keeps_the_source_when_the_target_refuses_the_upload(
    local_env: LocalEnv,
    source: tuple[str, dict[str, object]],
    faults: Faults,
    job_runner: Any,
) -> None:
    image_id, view = source
    # Fresh clients: a cached one may hold a snapshot index loaded before this image existed.
    clients = SiteClients(
        lambda name: open_site(name, config_file=local_env.clouds_yaml), [SOURCE, TARGET]
    )
    shared = Shared(clients, runner=job_runner, debounce_s=0.0, warm_up=False)
    panel = SnapshotPanel(shared)
    try:
        panel.all_sites = True
        panel.sites_table.text = str(view["name"])
        assert panel.wait_idle(60), panel.error

        def row_key() -> str | None:
            page = panel.sites_table.current
            if not isinstance(page, FederatedPage):
                return None
            return next((r.key for r in page.items if r.snapshot.id == image_id), None)

        wait_until(row_key, timeout=60, what="the source's row")
        key = row_key()
        button = next(r.copy for r in panel.sites_table.rows_view.rows if r.snapshot_id == key)
        assert button is not None
        faults({"kind": "upload_refused", "site": TARGET, "service": "image", "count": 1})
        button.click()
        panel.copy._go.click()
        wait_until(lambda: panel.jobs.cards, what="the copy job's card")
        card = panel.jobs.cards[0]
        assert card.job.wait(120) and card.state == "failed"
        assert "the source was not changed" in (card.job.error or "")
        assert card.job.error_type == "QuotaExceededError"
    finally:
        panel.close()
        shared.close()
        clients.close()
    _unchanged(local_env, image_id, view)


@pytest.fixture
def alias_env(local_env: LocalEnv, tmp_path: Path) -> Iterator[Path]:
    """A clouds.yaml where ``bielefeld-again`` is bielefeld (same cloud, same project)."""
    config = yaml.safe_load(local_env.clouds_yaml.read_text())
    config["clouds"][ALIAS] = config["clouds"][SOURCE]
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    opened: dict[str, Any] = {}

    def client(site: str) -> Any:
        if site not in opened:
            opened[site] = open_site(site, config_file=path)
        return opened[site]

    with use_clients(client):
        yield path


def test_a_copy_to_the_same_cloud_under_another_name_never_touches_the_source(
    local_env: LocalEnv, source: tuple[str, dict[str, object]], faults: Faults, alias_env: Path
) -> None:
    image_id, view = source
    faults({"kind": "upload_refused", "site": SOURCE, "service": "image", "count": 1})
    with pytest.raises(QuotaExceededError, match="the source was not changed"):
        copy_image(site=SOURCE, image_id=image_id, target_site=ALIAS)
    with user_connection(local_env.clouds_yaml, SOURCE) as conn:
        assert _view(conn, image_id) == view
        assert _marked(conn, image_id) == []
    made = copy_image(site=SOURCE, image_id=image_id, target_site=ALIAS)  # works, as a 2nd image
    again = copy_image(site=ALIAS, image_id=made.target_id, target_site=SOURCE)
    assert made.target_id != image_id and again.target_id not in (image_id, made.target_id)
    with user_connection(local_env.clouds_yaml, SOURCE) as conn:
        assert _view(conn, image_id) == view
        for copy_id in (made.target_id, again.target_id):
            conn.image.delete_image(copy_id)
