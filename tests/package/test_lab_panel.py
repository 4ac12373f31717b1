"""The sidebar's kernel code: ``lab_panel.show`` and ``focus`` on the local cloud."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ipywidgets as w
import pytest

from denbi_jupyter import lab_panel
from denbi_jupyter.panels import CloudPanel
from tests.flows.harness import prefect_harness  # noqa: F401  (fixture)


@pytest.fixture
def shown(prefect_harness: None) -> Iterator[None]:  # noqa: F811  (the fixture imported above)
    """Close the shown panel after the test. Its warm-up reaches the session's Prefect test
    harness: without an API it would start an ephemeral server that outlived the session."""
    yield
    panel = lab_panel.current_panel()
    if panel is not None:
        panel.close()


def test_show_displays_the_cloud_panel_of_the_configured_clouds_yaml(
    clouds_yaml: Path, monkeypatch: pytest.MonkeyPatch, shown: None
) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml))
    panel = lab_panel.show(site="heidelberg")
    assert isinstance(panel, CloudPanel) and lab_panel.current_panel() is panel
    assert panel.site == "heidelberg"
    assert list(panel._site_picker.options) == ["bielefeld", "heidelberg"]
    lab_panel.focus("Snapshots")
    assert panel.tabs.get_title(panel.tabs.selected_index) == "Snapshots"
    lab_panel.focus("servers")
    assert panel.tabs.get_title(panel.tabs.selected_index) == "Servers"
    again = lab_panel.show()  # a restart of the panel replaces (and closes) the old one
    assert again is not panel and panel.images.closed


def test_focus_names_the_tabs_it_knows(shown: None) -> None:
    with pytest.raises(ValueError, match="images, servers, snapshots, connect, activity"):
        lab_panel.focus("flavors")


def test_without_any_clouds_yaml_it_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shown: None
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    for name in ("OS_CLIENT_CONFIG_FILE", "OS_CLOUD", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    widget = lab_panel.show()
    assert isinstance(widget, w.HTML) and lab_panel.current_panel() is None
    assert "clouds.yaml" in widget.value and "Restart" in widget.value
    assert "denbi-sidebar-root" in widget._dom_classes
