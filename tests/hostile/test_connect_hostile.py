"""SSH command and config, X2Go session files and Guacamole links from hostile names.

No VM name, key path, session name or id can add a line, a directive or an INI key: each
input ends in the expected text (read back by OpenSSH's ``ssh -G``, Python's configparser
and Qt's QSettings, X2Go Client's reader) or in a clear error.
"""

from __future__ import annotations

import configparser
import json
import shlex
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from denbi_jupyter.connect import (
    ConnectionInfo,
    guacamole_client_url,
    parse_guacamole_client_url,
    ssh_command,
    ssh_config_block,
    x2go_session_file,
    x2go_session_id,
)
from denbi_jupyter.errors import UserInputError
from tests.hostile._budget import examples
from tests.hostile.test_names_hostile import HOSTILE_TEXT

_SSH = shutil.which("ssh")
_PATH_TEXT = st.one_of(
    HOSTILE_TEXT,
    st.lists(st.sampled_from(["/tmp/", "~/", "a b", "it's", "#x", "a=b", "\\", "%", "C:\\U"])).map(
        "".join
    ),
)


def _one_line(text: str) -> bool:
    """No control character and no line or paragraph separator (file names may hold the rest)."""
    return not any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in text)


def _info(**changes: object) -> ConnectionInfo:
    fields: dict[str, object] = {"host": "gw.example.org", "port": 30001, "user": "ubuntu"}
    fields.update(changes)
    return ConnectionInfo(**fields)  # type: ignore[arg-type]


def _built(**changes: object) -> ConnectionInfo | None:
    """The connection info, or None when it refuses the input (clearly)."""
    try:
        info = _info(**changes)
    except UserInputError as error:
        assert str(error)
        event("connection refused")
        return None
    event("connection built")
    return info


@settings(max_examples=examples(60))
@given(
    name=HOSTILE_TEXT,
    key_path=st.none() | _PATH_TEXT,
    user=st.sampled_from(["ubuntu", "ubuntu\n", "u\nHost *", "root"]),
)
@example(name="vm\n    ProxyCommand evil", key_path="/tmp/k\nHost *", user="ubuntu")
@example(name="vm", key_path="/tmp/it's", user="ubuntu")  # a quote broke `ssh -G` before
@example(name="vm", key_path="/tmp/a\x0bb", user="ubuntu")
@example(name="vm", key_path=None, user="ubuntu\n")  # `$` matched before a final newline
def test_an_ssh_config_block_has_exactly_its_own_lines(
    name: str, key_path: str | None, user: str
) -> None:
    info = _built(server_name=name, key_path=key_path, user=user)
    if info is None:
        return
    block = ssh_config_block(info)
    lines = block.split("\n")
    assert lines[-1] == "" and block.splitlines() == lines[:-1]
    keywords = [line.split()[0] for line in lines[:-1]]
    expected = ["Host", "HostName", "Port", "User"]
    expected += ["IdentityFile", "IdentitiesOnly"] if key_path is not None else []
    assert keywords == expected
    assert all(_one_line(line) for line in lines)
    assert shlex.split(ssh_command(info))[-1] == f"{info.user}@{info.host}"


@pytest.mark.skipif(_SSH is None, reason="the OpenSSH client (openssh-client) is not installed")
@settings(max_examples=examples(15))
@given(key_path=_PATH_TEXT.filter(lambda path: path.strip() != ""))
@example(key_path="/tmp/it's")
@example(key_path="/tmp/a\\\\b")
@example(key_path="C:\\Users\\me\\key")
@example(key_path="/tmp/#not a comment")
def test_ssh_reads_back_the_identity_file_written(key_path: str) -> None:
    info = _built(server_name="vm", key_path=key_path)
    if info is None:
        return
    assert _SSH is not None
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config"
        config.write_text(ssh_config_block(info), encoding="utf-8")
        shown = subprocess.run(
            [_SSH, "-G", "-F", str(config), "vm"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
    assert shown.returncode == 0, shown.stderr
    files = [
        line[len("identityfile ") :]
        for line in shown.stdout.splitlines()
        if line.startswith("identityfile ")
    ]
    # `ssh -G` shows the value before token expansion ("%%" becomes "%" later) and "~" as is.
    assert files == [key_path.replace("%", "%%")]


# --- X2Go ------------------------------------------------------------------------------------

# Reads QSettings INI files with Qt itself (X2Go Client's reader): one path per stdin line,
# one JSON object {section/key: value} per stdout line.
_QT_READER = """
import json, sys
from PyQt5.QtCore import QSettings
for line in sys.stdin:
    settings = QSettings(line.rstrip("\\n"), QSettings.IniFormat)
    print(json.dumps({key: settings.value(key) for key in settings.allKeys()}), flush=True)
"""


@pytest.fixture(scope="module")
def qt_reader() -> Iterator[subprocess.Popen[str]]:
    """One long-lived Qt reader process (Debian python3-pyqt5) for the module."""
    python = "/usr/bin/python3"
    probe = subprocess.run([python, "-c", "import PyQt5.QtCore"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("PyQt5 (Debian package python3-pyqt5) is not installed to act as Qt oracle")
    reader = subprocess.Popen(
        [python, "-c", _QT_READER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    yield reader
    assert reader.stdin is not None
    reader.stdin.close()
    reader.wait(timeout=60)


def _qt_read(reader: subprocess.Popen[str], text: str) -> dict[str, str]:
    assert reader.stdin is not None and reader.stdout is not None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sessions"
        path.write_text(text, encoding="utf-8")
        reader.stdin.write(f"{path}\n")
        reader.stdin.flush()
        answer = reader.stdout.readline()
    values: dict[str, str] = json.loads(answer)
    return values


def _ini(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


@settings(max_examples=examples(40))
@given(
    server_name=HOSTILE_TEXT,
    title=st.none() | HOSTILE_TEXT,
    key_path=st.none() | _PATH_TEXT,
    session_id=st.none()
    | st.sampled_from(["denbi-x", "x\n", "a]\n[b", "", "ok.id"])
    | HOSTILE_TEXT,
    pack=st.sampled_from(["16m-jpeg", "16m-jpeg\n", "a=b", "png"]),
)
@example(server_name="vm", title=None, key_path=None, session_id="denbi\n", pack="16m-jpeg")
@example(server_name="vm", title=None, key_path=None, session_id=None, pack="16m-jpeg\n")
@example(
    server_name="vm\nhost=evil", title="@x;y=z\x00", key_path="C:\\k", session_id=None, pack="png"
)
def test_an_x2go_session_file_has_one_section_with_exactly_its_keys(
    qt_reader: subprocess.Popen[str],
    server_name: str,
    title: str | None,
    key_path: str | None,
    session_id: str | None,
    pack: str,
) -> None:
    info = _built(server_name=server_name, key_path=key_path)
    if info is None:
        return
    try:
        text = x2go_session_file(
            info, session_type="XFCE", session_id=session_id, name=title, pack=pack
        )
    except UserInputError as error:
        assert str(error)
        return
    section = session_id if session_id is not None else x2go_session_id(info)
    parsed = _ini(text)
    assert parsed.sections() == [section]
    lines = text.split("\n")
    assert lines[-1] == "" and text.splitlines() == lines[:-1]
    assert all(line.isascii() and line.isprintable() for line in lines)
    keys = [line.split("=", 1)[0] for line in lines[1:-1]]
    assert keys == list(parsed[section]) and len(keys) == len(set(keys)) == 41
    read = _qt_read(qt_reader, text)
    assert sorted(read) == sorted(f"{section}/{key}" for key in keys)
    assert read[f"{section}/host"] == "gw.example.org"
    assert read[f"{section}/key"] == (key_path or "")
    assert read[f"{section}/pack"] == pack
    expected_title = read[f"{section}/sessiontitle"]
    assert "\n" not in expected_title and read[f"{section}/name"] == expected_title.replace(
        "/", "-"
    )


# --- Guacamole -------------------------------------------------------------------------------


@settings(max_examples=examples(60))
@given(
    base=st.one_of(
        st.sampled_from(["https://vm.example.org/guacamole", "http://10.0.0.1:8080"]),
        st.builds(
            lambda host, path: f"https://{host}/{path}",
            st.sampled_from(["h.example.org", "h\x1b", "[::1]", "user@h", "h:99999"]),
            HOSTILE_TEXT,
        ),
        HOSTILE_TEXT,
    ),
    connection_id=HOSTILE_TEXT,
    data_source=st.sampled_from(["default", "postgresql", "default\n", "a b", ""]),
    url_safe=st.booleans(),
)
@example(base="https://h/g\x1b[2J", connection_id="1", data_source="default", url_safe=False)
@example(base="https://h/ok", connection_id="1", data_source="default\n", url_safe=False)
def test_a_guacamole_link_is_one_printable_line_that_decodes_to_its_target(
    base: str, connection_id: str, data_source: str, url_safe: bool
) -> None:
    try:
        link = guacamole_client_url(base, connection_id, data_source=data_source, url_safe=url_safe)
    except UserInputError as error:
        assert str(error)
        return
    assert link.isprintable() and " " not in link  # IDN host names may be non-ASCII
    target = parse_guacamole_client_url(link)
    assert (target.connection_id, target.kind, target.data_source) == (
        connection_id,
        "c",
        data_source,
    )
