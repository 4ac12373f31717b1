"""Image classification: desktop kind, X2Go session, research environment, OS, base image."""

from __future__ import annotations

import pytest

from denbi_jupyter.cloud import DesktopKind, ImageClass, classify, os_of, x2go_session_of

X2GO_NAMES = [
    ("X2Go_xfce", "XFCE"),
    ("X2Go_mate", "MATE"),
    ("X2Go_lxde", "LXDE"),
    ("X2Go_lxqt", "LXQt"),
    ("X2Go_kde", "KDE"),
    ("X2Go_plasma-ubuntu22.04", "KDE"),
    ("X2Go_gnome", "GNOME"),
    ("X2Go_cinnamon", "CINNAMON"),
    ("X2Go-Xfce4 Ubuntu-22.04", "XFCE"),
    ("x2go ubuntu mate", "MATE"),
]


@pytest.mark.parametrize(("name", "session"), X2GO_NAMES)
def test_x2go_image_names_give_desktop_and_session_type(name: str, session: str) -> None:
    kind = classify(name)
    assert kind.desktop is DesktopKind.X2GO
    assert kind.x2go_session == session
    assert kind.label == f"X2Go {session}"


def test_x2go_session_type_can_come_from_tags() -> None:
    kind = classify("Desktop image", tags=["x2go", "xfce"])
    assert (kind.desktop, kind.x2go_session) == (DesktopKind.X2GO, "XFCE")


def test_x2go_without_session_word_has_no_session_type() -> None:
    kind = classify("X2Go Desktop")
    assert kind.desktop is DesktopKind.X2GO
    assert kind.x2go_session is None
    assert kind.label == "X2Go"


def test_session_words_without_x2go_do_not_make_a_desktop() -> None:
    kind = classify("mate-analysis-vm")
    assert kind.desktop is None
    assert kind.x2go_session is None
    assert x2go_session_of("mate-analysis-vm") == "MATE"


@pytest.mark.parametrize(
    ("name", "tags"),
    [
        ("Guacamole-ubuntu22.04 de.NBI (2026-05-01)", []),
        ("guacamole desktop", []),
        ("GuacamoleVNC-ubuntu22.04 de.NBI (2026-05-01)", []),
        ("Ubuntu desktop", ["guacamole"]),
        ("Ubuntu desktop", ["guacamole_vnc"]),
        ("Ubuntu desktop", ["GUACAMOLE"]),
    ],
)
def test_guacamole_images_by_tag_or_leading_name(name: str, tags: list[str]) -> None:
    kind = classify(name, tags=tags)
    assert kind.desktop is DesktopKind.GUACAMOLE
    assert kind.label == "Guacamole"


def test_guacamole_in_the_middle_of_a_name_is_not_a_desktop() -> None:
    assert classify("my-guacamole-notes").desktop is None


@pytest.mark.parametrize(
    ("tags", "label"),
    [
        (["rstudio"], "RStudio"),
        (["theiaide"], "Theia IDE"),
        (["vscode"], "VS Code"),
        (["jupyterlab"], "JupyterLab"),
        (["cwlab"], "CWLab"),
        (["base_cluster"], "Cluster"),
        (["base_image", "RStudio"], "RStudio"),
    ],
)
def test_research_environment_from_tags(tags: list[str], label: str) -> None:
    kind = classify("Ubuntu-22.04 de.NBI", tags=tags)
    assert kind.research_environment == label
    assert kind.label == label


def test_research_environment_from_leading_name_word() -> None:
    assert classify("RStudio-ubuntu20.04 de.NBI (2022-09-08)").research_environment == "RStudio"
    assert classify("my-rstudio-backup").research_environment is None


#: How image names parse to (OS family, version): name | family | version, "-" for none.
OS_NAMES = """
Ubuntu-22.04                              | ubuntu    | 22.04
ubuntu22.04                               | ubuntu    | 22.04
Ubuntu 24.04 LTS de.NBI (2026-05-01)      | ubuntu    | 24.04
Guacamole-ubuntu22.04 de.NBI (2026-05-01) | ubuntu    | 22.04
Debian 12                                 | debian    | 12
debian-11-genericcloud                    | debian    | 11
Rocky-9                                   | rocky     | 9
Rocky Linux 9.3                           | rocky     | 9.3
RockyLinux-8                              | rocky     | 8
AlmaLinux-9                               | almalinux | 9
CentOS-7                                  | centos    | 7
Fedora-Cloud-40                           | fedora    | -
cirros-0.6.2                              | cirros    | 0.6.2
Ubuntu Jammy                              | ubuntu    | 22.04
bookworm base                             | debian    | 12
X2Go_xfce                                 | -         | -
my-snapshot                               | -         | -
"""


def _os_cases() -> list[tuple[str, str | None, str | None]]:
    """The rows of :data:`OS_NAMES` as (name, family, version)."""
    rows = [[cell.strip() for cell in line.split("|")] for line in OS_NAMES.strip().splitlines()]
    return [(name, _or_none(family), _or_none(version)) for name, family, version in rows]


def _or_none(cell: str) -> str | None:
    return None if cell == "-" else cell


@pytest.mark.parametrize(("name", "family", "version"), _os_cases())
def test_os_parsed_from_name(name: str, family: str | None, version: str | None) -> None:
    assert os_of(name) == (family, version)


def test_os_properties_win_over_the_name() -> None:
    assert os_of("Ubuntu-22.04", {"os_distro": "debian", "os_version": "12"}) == ("debian", "12")


def test_os_distro_property_is_normalised_and_version_taken_from_matching_name() -> None:
    assert os_of("Rocky-9", {"os_distro": "RockyLinux"}) == ("rocky", "9")
    assert os_of("Ubuntu-22.04", {"os_distro": "debian"}) == ("debian", None)


def test_base_image_tag_marks_base_images() -> None:
    assert classify("Ubuntu-22.04", tags=["base_image"]).is_base
    assert not classify("Ubuntu-22.04", tags=["base"]).is_base


def test_plain_image_label_is_its_os() -> None:
    kind = classify("Ubuntu-22.04 de.NBI")
    assert kind == ImageClass(os_family="ubuntu", os_version="22.04")
    assert kind.label == "Ubuntu 22.04"
    assert classify("something").label == "Image"


def test_guacamole_image_keeps_its_os() -> None:
    kind = classify("Guacamole-ubuntu22.04 de.NBI (2026-05-01)", tags=["guacamole", "base_image"])
    assert (kind.os_family, kind.os_version, kind.is_base) == ("ubuntu", "22.04", True)
