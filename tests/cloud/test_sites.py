"""Sites from clouds.yaml through openstacksdk's own loader (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from openstack.config import loader as openstack_loader

from denbi_jupyter.cloud import SiteSettings, default_site_name, get_site, list_sites
from denbi_jupyter.errors import NotFoundError, UserInputError

#: The ``denbi:`` section of the bielefeld entry, and so the settings its site carries.
_BIELEFELD_DENBI: dict[str, str] = {
    "gateway_host": "129.70.51.75",
    "ssh_port_formula": "30000 + 256*oct3 + oct4",
    "guacamole_base_url": "https://guacamole.bi.denbi.de/guacamole",
    "ssh_user": "centos",
}


def _entry(site: str, denbi: dict[str, object] | None = None) -> dict[str, object]:
    entry: dict[str, object] = {
        "auth": {
            "auth_url": f"http://127.0.0.1:9/{site}/identity/v3",
            "username": "user",
            "password": "not-a-real-password",
            "project_name": "proj",
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
        "region_name": site.title(),
        "identity_api_version": 3,
    }
    if denbi is not None:
        entry["denbi"] = denbi
    return entry


@pytest.fixture
def two_sites(tmp_path: Path) -> Path:
    path = tmp_path / "conf" / "clouds.yaml"
    path.parent.mkdir()
    data = {
        "clouds": {
            "bielefeld": _entry("bielefeld", dict(_BIELEFELD_DENBI)),
            "plain": _entry("plain"),
        }
    }
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(autouse=True)
def _no_ambient_cloud_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # openstacksdk also reads ./clouds.yaml


def test_sites_come_with_their_denbi_settings(two_sites: Path) -> None:
    sites = list_sites(two_sites)
    assert sites[0] == SiteSettings(
        name="bielefeld",
        region="Bielefeld",
        auth_url="http://127.0.0.1:9/bielefeld/identity/v3",
        **_BIELEFELD_DENBI,
    )


def test_entry_without_denbi_section_has_none_settings_and_default_user(two_sites: Path) -> None:
    plain = get_site("plain", config_file=two_sites)
    assert (plain.gateway_host, plain.ssh_port_formula, plain.guacamole_base_url) == (None,) * 3
    assert plain.ssh_user == "ubuntu"


def test_os_client_config_file_is_honoured(
    two_sites: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(two_sites))
    assert [site.name for site in list_sites()] == ["bielefeld", "plain"]
    assert default_site_name() == "bielefeld"


def test_os_cloud_picks_the_default(two_sites: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(two_sites))
    monkeypatch.setenv("OS_CLOUD", "plain")
    assert default_site_name() == "plain"
    assert get_site().name == "plain"
    assert default_site_name(two_sites) == "plain"


def test_explicit_file_wins_over_the_environment(
    two_sites: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"clouds": {"heidelberg": _entry("heidelberg")}}))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(other))
    assert [site.name for site in list_sites(two_sites)] == ["bielefeld", "plain"]
    assert [site.name for site in list_sites()] == ["heidelberg"]


def test_only_entry_is_the_default(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump({"clouds": {"heidelberg": _entry("heidelberg")}}))
    assert default_site_name(path) == "heidelberg"


def test_unknown_site_names_the_known_ones(two_sites: Path) -> None:
    with pytest.raises(NotFoundError, match="bielefeld, plain"):
        get_site("nowhere", config_file=two_sites)


def test_no_clouds_yaml_at_all_says_where_to_put_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # openstacksdk fixes its search path at import: empty it so a developer's file is not found.
    monkeypatch.setattr(openstack_loader, "CONFIG_FILES", [])
    with pytest.raises(NotFoundError, match=r"clouds\.yaml"):
        list_sites()


def test_missing_explicit_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="does not exist"):
        list_sites(tmp_path / "missing.yaml")


def test_a_missing_os_client_config_file_is_reported_not_replaced_by_another_clouds_yaml(
    two_sites: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK would take the next file of its search path (~/.config/openstack/clouds.yaml,
    # ./clouds.yaml): a typo in the variable would send the command to that file's clouds.
    monkeypatch.setattr(openstack_loader, "CONFIG_FILES", [str(two_sites)])
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "clouds.yml"))
    with pytest.raises(UserInputError) as caught:
        list_sites()
    message = str(caught.value)
    assert (
        f"OS_CLIENT_CONFIG_FILE names '{tmp_path / 'clouds.yml'}', which does not exist" in message
    )
    assert "does not fall back to another clouds.yaml" in message


def test_site_errors_never_show_the_password(two_sites: Path) -> None:
    with pytest.raises(NotFoundError) as caught:
        get_site("nowhere", config_file=two_sites)
    assert "not-a-real-password" not in str(caught.value)


_BROKEN_YAML = "clouds:\n  bielefeld:\n    auth:\n      auth_url: http://x\n     username: a\n"


def test_a_yaml_syntax_error_is_reported_not_skipped_for_another_clouds_yaml(
    two_sites: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK would warn and go on to the next file of its search path (./clouds.yaml here):
    # a typo would send the command to that file's clouds.
    broken = tmp_path / "broken.yaml"
    broken.write_text(_BROKEN_YAML)
    monkeypatch.setattr(openstack_loader, "CONFIG_FILES", [str(two_sites)])
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(broken))
    with pytest.raises(UserInputError) as caught:
        list_sites()
    message = str(caught.value)
    assert f"{broken} is not valid YAML (line 5, column 6:" in message
    assert "does not fall back to another clouds.yaml" in message
    with pytest.raises(UserInputError, match="not valid YAML"):
        get_site("bielefeld", config_file=broken)


def test_a_broken_secure_yaml_is_reported_too(
    two_sites: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secure = tmp_path / "secure.yaml"
    secure.write_text("clouds: [unclosed\n")
    monkeypatch.setattr(openstack_loader, "CONFIG_FILES", [str(two_sites)])
    monkeypatch.setattr(openstack_loader, "SECURE_FILES", [str(secure)])
    with pytest.raises(UserInputError, match=rf"{secure} is not valid YAML \(line 2"):
        list_sites()


def test_an_entry_without_auth_url_is_unusable_alone_the_others_work(tmp_path: Path) -> None:
    path = tmp_path / "clouds.yaml"
    broken = {"region_name": "RegionOne", "auth": {"username": "u", "password": "secret-pw"}}
    path.write_text(yaml.safe_dump({"clouds": {"broken": broken, "plain": _entry("plain")}}))
    sites = {site.name: site for site in list_sites(path)}
    assert sites["plain"].problem == "" and get_site("plain", config_file=path).name == "plain"
    assert "The clouds.yaml entry 'broken' cannot be used" in sites["broken"].problem
    assert "auth_url" in sites["broken"].problem
    with pytest.raises(UserInputError, match="entry 'broken' cannot be used") as caught:
        get_site("broken", config_file=path)
    assert "secret-pw" not in str(caught.value) and "secret-pw" not in repr(sites["broken"])
