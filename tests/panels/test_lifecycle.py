"""Closing panels, local work without a cloud login, and events through CallbackDispatcher."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.errors import CloudUnavailableError
from denbi_jupyter.panels import CloudPanel, ConnectionPanel, Shared, SiteClients
from tests.panels._support import loaded
from tests.panels.conftest import RecordingProbe, seeded_cloud
from tests.panels.test_connection import PUTTYGEN, make_ppk, upload
from tests.support.fake_cloud import FakeCloud


class Opener:
    """A site factory that records which clients it opened and which were closed."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.closed: list[str] = []

    def __call__(self, site: str) -> CloudClient:
        cloud = seeded_cloud()
        self.opened.append(site)
        cloud.close = lambda: self.closed.append(site)  # type: ignore[method-assign]
        return cloud


class StubRunner:
    """A job runner that is never asked for a job (these tests start none)."""

    def warm_up(self) -> None:
        """Nothing to warm."""


def test_closing_a_panel_ends_its_threads_and_closes_the_clients_it_opened(
    tmp_path: Path,
) -> None:
    opener = Opener()
    panel = ConnectionPanel(opener, sites=["A", "B"], key_dir=tmp_path, probe=RecordingProbe())
    assert panel.wait_idle()
    assert panel.background.threads()  # the pool is alive while the panel is open
    panel.close()
    assert panel.closed and panel.card.closed
    assert panel.background.threads() == []
    assert opener.closed == ["A"]  # B was never opened
    panel.close()  # idempotent
    assert opener.closed == ["A"]
    panel.reload()  # nothing runs any more, nothing fails
    assert panel.wait_idle() and panel.error == ""


def test_a_client_handed_in_ready_is_left_open(tmp_path: Path) -> None:
    cloud = seeded_cloud()
    closed: list[bool] = []
    cloud.close = lambda: closed.append(True)  # type: ignore[method-assign]
    panel = loaded(ConnectionPanel(cloud, key_dir=tmp_path, probe=RecordingProbe()))
    panel.close()
    assert closed == [] and panel.background.threads() == []


def test_cloud_panel_close_closes_every_tab_the_pool_and_the_clients() -> None:
    opener = Opener()
    panel = CloudPanel(opener, sites=["A", "B"], runner=StubRunner(), probe=RecordingProbe())  # type: ignore[arg-type]
    assert panel.wait_idle()
    panel.close()
    assert all(tab.closed for tab in (panel.images, panel.snapshots, panel.connection))
    assert all(part.closed for part in panel.snapshots._parts())
    assert panel.shared.background.threads() == []
    assert opener.closed == ["A"]
    panel.close()
    assert opener.closed == ["A"]


def test_a_tab_closed_inside_a_cloud_panel_leaves_the_shared_pool_running() -> None:
    shared = Shared(SiteClients(seeded_cloud()), debounce_s=0, warm_up=False)
    panel = loaded(CloudPanel(shared=shared, probe=RecordingProbe()))
    panel.images.close()
    assert panel.shared.background.threads()  # the other tabs still use it
    panel.snapshots.reload()
    assert panel.wait_idle()
    panel.close()
    shared.close()
    assert shared.background.threads() == []


def keystone_down(site: str) -> FakeCloud:
    raise CloudUnavailableError(f"Keystone on {site} answered 503: try again later.")


@pytest.mark.skipif(PUTTYGEN is None, reason="puttygen (putty-tools) is not installed")
def test_a_ppk_converts_while_keystone_is_down(tmp_path: Path) -> None:
    panel = loaded(
        ConnectionPanel(keystone_down, sites=["down"], key_dir=tmp_path, probe=RecordingProbe())
    )
    assert "Keystone on down answered 503" in panel._error_box.value  # the VM list needs it
    upload(panel, "laptop.ppk", make_ppk(tmp_path, None))
    panel._convert.click()
    panel.wait_idle()
    written = tmp_path / "laptop_openssh"
    assert stat.S_IMODE(os.stat(written).st_mode) == 0o600
    assert "mode 0600" in panel._key_box.value
    panel.close()


def test_local_work_never_opens_a_site() -> None:
    opened: list[str] = []

    def factory(site: str) -> FakeCloud:
        opened.append(site)
        raise CloudUnavailableError("Keystone is down.")

    shared = Shared(SiteClients(factory, ["A"]), debounce_s=0, warm_up=False)
    panel = loaded(ConnectionPanel(shared, probe=RecordingProbe()))
    opened.clear()
    got: list[int] = []
    panel._run_local("sum", lambda: 40 + 2, got.append)
    assert panel.wait_idle()
    assert got == [42] and opened == []
    shared.close()


def test_events_use_a_callback_dispatcher_and_can_be_removed() -> None:
    shared = Shared(SiteClients(seeded_cloud()), debounce_s=0, warm_up=False)
    panel = loaded(CloudPanel(shared=shared, probe=RecordingProbe()))
    asked: list[tuple[str, ...]] = []
    panel.snapshots.table.on_delete(asked.append)
    row = panel.snapshots.table.rows[0]
    row.delete.click()
    assert asked == [(row.snapshot_id,)]
    panel.snapshots.table.on_delete(asked.append, remove=True)
    row.delete.click()
    assert len(asked) == 1
    shared.close()
