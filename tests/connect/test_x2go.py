"""X2Go Client session files and session types from image names."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from denbi_jupyter.connect import (
    ConnectionInfo,
    LinkSpeed,
    SessionType,
    session_type_for_image,
    x2go_session_file,
    x2go_session_id,
)
from denbi_jupyter.errors import UserInputError

INFO = ConnectionInfo(
    host="denbi-gw.example.org",
    port=30123,
    user="ubuntu",
    key_path="/home/alice/.ssh/denbi_ed25519",
    server_name="analysis-vm",
)

# Reads a QSettings INI file with Qt itself and prints {section/key: value} as JSON.
_QT_READER = """
import json, sys
from PyQt5.QtCore import QSettings
settings = QSettings(sys.argv[1], QSettings.IniFormat)
print(json.dumps({key: settings.value(key) for key in settings.allKeys()}))
"""


def _qt_python() -> str | None:
    """A Python with PyQt5 (Debian: python3-pyqt5), the reader X2Go Client is built on."""
    for candidate in ("/usr/bin/python3", shutil.which("python3")):
        if candidate and Path(candidate).exists():
            probe = subprocess.run(
                [candidate, "-c", "import PyQt5.QtCore"], capture_output=True, check=False
            )
            if probe.returncode == 0:
                return candidate
    return None


def _parse(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


@pytest.mark.parametrize(
    ("name", "tags", "expected"),
    [
        ("X2Go_xfce", (), SessionType.XFCE),
        ("X2Go_mate", (), SessionType.MATE),
        ("x2go-lxde", (), SessionType.LXDE),
        ("X2Go Ubuntu 22.04 LXQt de.NBI (2026-05-01)", (), SessionType.LXQT),
        ("x2go_kde_plasma", (), SessionType.KDE),
        ("X2GO-GNOME", (), SessionType.GNOME),
        ("x2go_cinnamon", (), SessionType.CINNAMON),
        ("X2Goxfce", (), SessionType.XFCE),
        ("Ubuntu-22.04 de.NBI", ("x2go", "xfce4"), SessionType.XFCE),
        ("Ubuntu-22.04 de.NBI", (), None),
        ("Guacamole-ubuntu22.04 de.NBI (2026-05-01)", ("guacamole",), None),
        ("xfce-desktop", (), None),
        ("X2Go_windowmaker", (), None),
        ("", (), None),
    ],
)
def test_session_type_is_read_from_image_name_and_tags(
    name: str, tags: tuple[str, ...], expected: SessionType | None
) -> None:
    assert session_type_for_image(name, tags=tags) == expected


def test_session_file_has_the_keys_x2go_client_reads() -> None:
    parser = _parse(x2go_session_file(INFO, session_type=SessionType.XFCE))
    assert parser.sections() == ["denbi-analysis-vm-30123"]
    session = parser["denbi-analysis-vm-30123"]
    expected = {
        "name": "analysis-vm",
        "host": "denbi-gw.example.org",
        "user": "ubuntu",
        "key": "/home/alice/.ssh/denbi_ed25519",
        "sshport": "30123",
        "command": "XFCE",
        "autologin": "false",
        "rootless": "false",
        "published": "false",
        "speed": "2",
        "pack": "16m-jpeg",
        "quality": "9",
        "clipboard": "both",
        "sound": "false",
        "fullscreen": "false",
        "setsessiontitle": "true",
        "sessiontitle": "analysis-vm",
        "usesshproxy": "false",
    }
    assert {key: session[key] for key in expected} == expected


def test_session_without_key_asks_x2go_to_try_agent_and_default_keys() -> None:
    info = ConnectionInfo(host="gw.example.org", port=30001, user="ubuntu")
    session = _parse(x2go_session_file(info, session_type="MATE"))[x2go_session_id(info)]
    assert (session["key"], session["autologin"], session["command"]) == ("", "true", "MATE")


def test_lxqt_is_written_in_x2go_client_spelling() -> None:
    session = _parse(x2go_session_file(INFO, session_type="lxqt"))[x2go_session_id(INFO)]
    assert session["command"] == "LXQt"


@pytest.mark.parametrize("value", ["fvwm", "", "XFCE; rm -rf ~"])
def test_unknown_session_type_is_rejected(value: str) -> None:
    with pytest.raises(UserInputError, match="session type"):
        x2go_session_file(INFO, session_type=value)


def test_options_are_written_as_given() -> None:
    text = x2go_session_file(
        INFO,
        session_type=SessionType.KDE,
        session_id="20260101120000000",
        name="My desktop",
        speed=LinkSpeed.LAN,
        pack="64k-png",
        quality=5,
        clipboard="server",
        sound=True,
        fullscreen=True,
    )
    session = _parse(text)["20260101120000000"]
    assert (session["name"], session["speed"], session["pack"], session["quality"]) == (
        "My desktop",
        "4",
        "64k-png",
        "5",
    )
    assert (session["clipboard"], session["sound"], session["fullscreen"]) == (
        "server",
        "true",
        "true",
    )


@pytest.mark.parametrize(
    "options",
    [
        {"quality": 10},
        {"speed": 9},
        {"clipboard": "everything"},
        {"session_id": "has space"},
        {"session_id": "[evil]"},
        {"pack": "16m jpeg\nhost=evil"},
        {"width": 10},
    ],
)
def test_out_of_range_options_are_rejected(options: dict[str, object]) -> None:
    with pytest.raises(UserInputError):
        x2go_session_file(INFO, session_type=SessionType.XFCE, **options)  # type: ignore[arg-type]


def test_values_qt_would_read_as_lists_are_quoted() -> None:
    info = ConnectionInfo(
        host="gw.example.org", port=30001, user="ubuntu", server_name="lab, run=1; test"
    )
    session = _parse(x2go_session_file(info, session_type="XFCE"))[x2go_session_id(info)]
    assert session["name"] == '"lab, run=1; test"'


def test_slash_in_server_name_does_not_create_an_x2go_folder() -> None:
    info = ConnectionInfo(host="gw.example.org", port=30001, user="ubuntu", server_name="a/b")
    session = _parse(x2go_session_file(info, session_type="XFCE"))[x2go_session_id(info)]
    assert session["name"] == "a-b"


def test_newline_in_server_name_cannot_inject_keys() -> None:
    info = ConnectionInfo(
        host="gw.example.org", port=30001, user="ubuntu", server_name="vm\nhost=evil.example"
    )
    text = x2go_session_file(info, session_type="XFCE")
    assert _parse(text)[x2go_session_id(info)]["host"] == "gw.example.org"
    assert "\nhost=evil" not in text


def test_qt_reads_back_exactly_the_strings_written(tmp_path: Path) -> None:
    python = _qt_python()
    if python is None:
        pytest.skip("PyQt5 (Debian package python3-pyqt5) is not installed to act as Qt oracle")
    tricky = {
        "server_name": 'Grüße, "lab" = 1; \\ @x 𝄞',
        "key_path": "C:\\Users\\Jürgen\\.ssh\\id_ed25519",
    }
    info = ConnectionInfo(host="gw.example.org", port=30001, user="ubuntu", **tricky)
    path = tmp_path / "sessions"
    path.write_text(x2go_session_file(info, session_type="LXQT", name="@home 12"))
    read = json.loads(
        subprocess.run(
            [python, "-c", _QT_READER, str(path)], capture_output=True, text=True, check=True
        ).stdout
    )
    section = x2go_session_id(info)
    assert read[f"{section}/name"] == "@home 12"
    assert read[f"{section}/sessiontitle"] == "@home 12"
    assert read[f"{section}/key"] == tricky["key_path"]
    assert read[f"{section}/command"] == "LXQt"
    assert read[f"{section}/sshport"] == "30001"
    # the session id (section name) is safe ASCII, so Qt keeps it as written
    assert section == "denbi-gr-e-lab-1-x-30001"

    path.write_text(x2go_session_file(info, session_type="XFCE"))
    read = json.loads(
        subprocess.run(
            [python, "-c", _QT_READER, str(path)], capture_output=True, text=True, check=True
        ).stdout
    )
    assert read[f"{section}/name"] == tricky["server_name"]


def test_session_id_is_stable_and_ini_safe() -> None:
    info = ConnectionInfo(host="gw.example.org", port=30001, user="u", server_name="[My] VM")
    assert x2go_session_id(info) == x2go_session_id(info) == "denbi-my-vm-30001"


def test_an_ordinary_53_character_name_still_gives_a_usable_session_id() -> None:
    name = "rnaseq-workbench-for-the-summer-school-2026-group-b12"  # 53 characters
    assert len(name) == 53
    info = ConnectionInfo(host="gw.example.org", port=30001, user="ubuntu", server_name=name)
    section = x2go_session_id(info)
    assert len(section) <= 64 and section.startswith("denbi-rnaseq-") and section.endswith("-30001")
    session = _parse(x2go_session_file(info, session_type="XFCE"))[section]
    assert session["command"] == "XFCE" and session["name"] == name
