"""A credential inside a clouds.yaml ``auth_url`` (user info, a query) is never shown back.

``SiteSettings.auth_url`` is documented as "Keystone URL (no credentials)", and the lab's
server extension already strips user info from ``PREFECT_API_URL``; these tests hold the
cloud side to the same rule. Each canary here is its own (a ``Canaries`` of the module), so
the session's sweeps are not involved: keystoneauth's own DEBUG records repeat the URL as
given, which is the library's and stays out of every place we write to.

Defects these tests found, fixed: ``site_from_entry`` copied ``auth_url`` with its user info
into ``SiteSettings`` (``denbi-jupyter sites --json`` printed it); ``_clean`` in
``cloud/_openstack_errors.py`` stripped queries only after an absolute URL and kept user info,
so "could not be reached" errors repeated ``http://user:secret@host`` and ``/v3?token=secret``.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from denbi_jupyter.cloud import open_site
from denbi_jupyter.panels import ImagePanel, Shared, SiteClients
from tests.security.canary import Canaries, exception_text, widget_states
from tests.security.conftest import PASSWORD_SITE, CanaryCloud, Texts
from tests.support.cli import Result

SECRET = f"CANARY-url-{secrets.token_hex(12)}"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: connecting is refused


@pytest.fixture(scope="module")
def url_clouds(
    canary_cloud: CanaryCloud, canaries: Canaries, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Entries whose auth_url carries :data:`SECRET`: reachable, refused, and in a query."""
    data = yaml.safe_load(canary_cloud.clouds_yaml.read_text())
    good = data["clouds"][PASSWORD_SITE]
    url = good["auth"]["auth_url"]
    port = _closed_port()

    def entry(auth_url: str) -> dict[str, Any]:
        made: dict[str, Any] = yaml.safe_load(yaml.safe_dump(good))
        made["auth"]["auth_url"] = auth_url
        return made

    clouds = {
        "userinfo-up": entry(url.replace("http://", f"http://denbi:{SECRET}@")),
        "userinfo-down": entry(f"http://denbi:{SECRET}@127.0.0.1:{port}/v3"),
        "query-down": entry(f"http://127.0.0.1:{port}/v3?token={SECRET}"),
    }
    path = tmp_path_factory.mktemp("url-clouds") / "clouds.yaml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(yaml.safe_dump({"clouds": clouds}, sort_keys=False))
    canaries.hold(path)  # it holds the canary password, on purpose
    return path


@pytest.fixture
def url_env(url_clouds: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(url_clouds))
    monkeypatch.delenv("OS_CLOUD", raising=False)
    return url_clouds


def _found(texts: Texts) -> list[tuple[str, str]]:
    found = Canaries()
    found.add("auth_url credential", SECRET)
    for place, text in texts:
        found.check(place, text)
    return found.hits


def test_a_site_with_user_info_in_its_auth_url_still_works(
    url_env: Path, cli: Callable[..., Result]
) -> None:
    """The control: the URL is usable, so the tests below are about what is shown."""
    assert cli("images", "--site", "userinfo-up", "--json").code == 0


def test_sites_never_print_an_auth_urls_user_info(
    url_env: Path, cli: Callable[..., Result], texts: Texts
) -> None:
    assert cli("sites", "--json").code == 0
    assert cli("sites").code == 0
    assert _found(texts) == []


def test_an_unreachable_auth_url_is_named_without_its_user_info(
    url_env: Path, cli: Callable[..., Result], texts: Texts
) -> None:
    result = cli("images", "--site", "userinfo-down")
    assert result.code != 0 and "could not be reached" in result.err
    try:
        open_site("userinfo-down").list_flavors()
    except Exception as error:  # noqa: BLE001  the text is what is checked
        texts.append(("exception", str(error)))
    assert _found(texts) == []


def test_an_unreachable_auth_url_is_named_without_its_query(
    url_env: Path, cli: Callable[..., Result], texts: Texts
) -> None:
    result = cli("images", "--site", "query-down")
    assert result.code != 0 and "could not be reached" in result.err
    assert _found(texts) == []


@pytest.fixture
def down_panel(url_clouds: Path) -> Iterator[ImagePanel]:
    clients = SiteClients(lambda name: open_site(name, config_file=url_clouds), ["userinfo-down"])
    shared = Shared(clients, debounce_s=0.0, warm_up=False)
    panel = ImagePanel(shared)
    yield panel
    panel.close()
    shared.close()


def test_a_panel_names_an_unreachable_site_without_the_urls_user_info(
    down_panel: ImagePanel,
) -> None:
    assert down_panel.wait_idle(60)
    assert "could not be reached" in down_panel.error
    texts = [(place, text) for place, text in widget_states()]
    assert _found(texts) == []


def test_exception_texts_of_a_refused_password_hold_no_canary(
    canary_cloud: CanaryCloud, canaries: Canaries
) -> None:
    """The whole traceback (causes included) of a 401, as a log or a notebook shows it."""
    from denbi_jupyter.errors import DenbiError

    client = open_site("bielefeld-wrong", config_file=canary_cloud.clouds_yaml)
    with pytest.raises(DenbiError) as caught:
        client.list_flavors()
    text = exception_text(caught.value)
    assert "401" in text
    assert canaries.check("traceback of a refused password", text) == []
    assert canaries.check("repr of the client", repr(client)) == []
