"""X2Go client session files (``~/.x2goclient/sessions``) and session types from image names.

X2Go Client stores its sessions with Qt's ``QSettings`` in INI format: one ``[section]`` per
session, named by a session id, with keys such as ``host``, ``user``, ``key``, ``sshport``
and ``command``. The file written here uses the key names and value spellings X2Go Client
itself writes (booleans ``true``/``false``, ``command=XFCE``, ``LXQt`` in mixed case) and Qt's
INI escaping for values, so X2Go Client can import it ("Session → Import") and Qt reads the
same strings back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import IntEnum, StrEnum

from denbi_jupyter.connect.ssh import ConnectionInfo, ssh_alias
from denbi_jupyter.errors import UserInputError

__all__ = [
    "LinkSpeed",
    "SessionType",
    "session_type_for_image",
    "x2go_session_file",
    "x2go_session_id",
]


class SessionType(StrEnum):
    """Desktop session types, spelled as X2Go Client writes them to ``command``."""

    KDE = "KDE"
    GNOME = "GNOME"
    LXDE = "LXDE"
    LXQT = "LXQt"
    XFCE = "XFCE"
    MATE = "MATE"
    UNITY = "UNITY"
    CINNAMON = "CINNAMON"
    TRINITY = "TRINITY"
    OPENBOX = "OPENBOX"
    ICEWM = "ICEWM"


class LinkSpeed(IntEnum):
    """X2Go Client's connection speed setting (key ``speed``)."""

    MODEM = 0
    ISDN = 1
    ADSL = 2
    WAN = 3
    LAN = 4


_DESKTOP_WORDS: dict[str, SessionType] = {
    "xfce": SessionType.XFCE,
    "xfce4": SessionType.XFCE,
    "mate": SessionType.MATE,
    "lxde": SessionType.LXDE,
    "lxqt": SessionType.LXQT,
    "kde": SessionType.KDE,
    "plasma": SessionType.KDE,
    "gnome": SessionType.GNOME,
    "cinnamon": SessionType.CINNAMON,
    "unity": SessionType.UNITY,
    "trinity": SessionType.TRINITY,
    "openbox": SessionType.OPENBOX,
    "icewm": SessionType.ICEWM,
}
_WORD = re.compile(r"[a-z0-9]+")
_SESSION_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_CLIPBOARD_MODES = frozenset({"both", "client", "server", "none"})
_PACK = re.compile(r"^[a-z0-9-]{1,40}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def session_type_for_image(name: str, *, tags: Iterable[str] = ()) -> SessionType | None:
    """The X2Go session type an image offers, from its name and tags.

    The name or a tag must mention X2Go (``X2Go_xfce``, ``x2go-lxde``, tag ``x2go``) and name a
    desktop (``xfce``, ``mate``, ``lxde``, ``lxqt``, ``kde``, ``gnome``, ``cinnamon``, ...).

    Returns:
        The session type, or ``None`` when the image is not an X2Go image or its desktop is
        unknown.
    """
    words: list[str] = []
    for text in (name, *tags):
        words += _WORD.findall(str(text).lower())
    if not any(word.startswith("x2go") for word in words):
        return None
    for word in words:
        # "x2goxfce" (no separator) still names the desktop after the marker.
        candidate = word.removeprefix("x2go") or word
        if candidate in _DESKTOP_WORDS:
            return _DESKTOP_WORDS[candidate]
    return None


def x2go_session_id(info: ConnectionInfo) -> str:
    """A stable session id (INI section name) for a VM: ``denbi-<alias>-<port>``, at most 64
    characters (the alias is cut to fit: the port tells VMs apart)."""
    suffix = f"-{info.port}"
    room = 64 - len("denbi-") - len(suffix)
    alias = ssh_alias(info.server_name)[:room].rstrip("-.") or "vm"
    return f"denbi-{alias}{suffix}"


def _qt_escape(value: str) -> str:
    """Escape a string the way ``QSettings`` writes INI values (ASCII output).

    Backslash and double quote are escaped, control and non-ASCII characters become
    ``\\xHHHH`` escapes, and the value is quoted when it contains ``,`` ``;`` ``=`` (Qt would
    otherwise read a list) or starts or ends with a space. A leading ``@`` is doubled.
    """
    if value.startswith("@"):
        value = "@" + value
    named = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    named |= {"\v": "\\v", '"': '\\"', "\\": "\\\\", "\0": "\\0"}
    out: list[str] = []
    escape_next_hex_digit = False
    for ch in value:
        if escape_next_hex_digit and ch in "0123456789abcdefABCDEF":
            out.append(f"\\x{ord(ch):x}")
            continue
        escape_next_hex_digit = False
        if ch in named:
            out.append(named[ch])
            escape_next_hex_digit = ch == "\0"
        elif ord(ch) < 0x20 or ord(ch) >= 0x7F:
            # Qt escapes UTF-16 code units: characters beyond U+FFFF become two escapes.
            units = ch.encode("utf-16-be")
            for i in range(0, len(units), 2):
                out.append(f"\\x{int.from_bytes(units[i : i + 2], 'big'):x}")
            escape_next_hex_digit = True
        else:
            out.append(ch)
    text = "".join(out)
    if any(ch in value for ch in ",;=") or text.startswith(" ") or text.endswith(" "):
        text = f'"{text}"'
    return text


def _qt_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return _qt_escape(value)


def _check_options(
    speed: LinkSpeed, quality: int, clipboard: str, pack: str, width: int, height: int
) -> LinkSpeed:
    """The link speed, once every option of a session file is known to be in range."""
    try:
        link = LinkSpeed(speed)
    except ValueError:
        raise UserInputError(
            f"X2Go speed {speed!r} is unknown; use 0 (modem) to 4 (LAN)."
        ) from None
    if not 0 <= quality <= 9:
        raise UserInputError(f"X2Go quality {quality!r} is out of range; use 0 to 9.")
    if clipboard not in _CLIPBOARD_MODES:
        raise UserInputError(
            f"X2Go clipboard mode {clipboard!r} is unknown; use one of "
            f"{', '.join(sorted(_CLIPBOARD_MODES))}."
        )
    if not isinstance(pack, str) or not _PACK.fullmatch(pack):
        raise UserInputError(f"X2Go pack method {pack!r} is not valid, e.g. use '16m-jpeg'.")
    if not (100 <= width <= 16384 and 100 <= height <= 16384):
        raise UserInputError(f"Window size {width}x{height} is out of range (100..16384).")
    return link


def _session_settings(
    info: ConnectionInfo,
    title: str,
    chosen: dict[str, str | int | bool],
) -> list[tuple[str, str | int | bool]]:
    """Every key of one X2Go session, in the order X2Go Client writes them."""
    return [
        ("name", title.replace("/", "-")),  # X2Go reads "/" as a folder path
        ("host", info.host),
        ("user", info.user),
        ("key", info.key_path or ""),
        ("sshport", info.port),
        ("autologin", info.key_path is None),
        ("krblogin", False),
        ("krbdelegation", False),
        ("forwardsshagent", False),
        ("usesshproxy", False),
        ("command", chosen["command"]),
        ("rootless", False),
        ("published", False),
        ("speed", chosen["speed"]),
        ("pack", chosen["pack"]),
        ("quality", chosen["quality"]),
        ("fullscreen", chosen["fullscreen"]),
        ("width", chosen["width"]),
        ("height", chosen["height"]),
        ("multidisp", False),
        ("display", 1),
        ("setdpi", False),
        ("dpi", 96),
        ("xinerama", False),
        ("clipboard", chosen["clipboard"]),
        ("usekbd", True),
        ("type", "auto"),
        ("sound", chosen["sound"]),
        ("soundsystem", "pulse"),
        ("startsoundsystem", False),
        ("soundtunnel", True),
        ("defsndport", True),
        ("sndport", 4713),
        ("print", False),
        ("useexports", False),
        ("fstunnel", True),
        ("setsessiontitle", bool(title)),
        ("sessiontitle", title),
        ("useiconv", False),
        ("iconvto", "UTF-8"),
        ("iconvfrom", "UTF-8"),
    ]


def x2go_session_file(
    info: ConnectionInfo,
    *,
    session_type: SessionType | str,
    session_id: str | None = None,
    name: str | None = None,
    speed: LinkSpeed = LinkSpeed.ADSL,
    pack: str = "16m-jpeg",
    quality: int = 9,
    clipboard: str = "both",
    sound: bool = False,
    fullscreen: bool = False,
    width: int = 1280,
    height: int = 800,
) -> str:
    """The text of an X2Go Client sessions file with one session for the VM.

    Args:
        info: Gateway, port, user and key path of the VM.
        session_type: The desktop, e.g. ``SessionType.XFCE`` or ``"MATE"``.
        session_id: The section name; defaults to :func:`x2go_session_id`.
        name: The session name shown in X2Go Client; defaults to the server name.
        speed: Connection speed preset.
        pack: NX compression method, e.g. ``16m-jpeg``.
        quality: Compression quality 0..9.
        clipboard: ``both``, ``client``, ``server`` or ``none``.
        sound: Forward sound (PulseAudio).
        fullscreen: Start full screen instead of ``width`` x ``height``.
        width: Window width in pixels.
        height: Window height in pixels.

    Raises:
        UserInputError: An option is out of range or the session type is unknown.
    """
    desktop = _session_type(session_type)
    section = session_id if session_id is not None else x2go_session_id(info)
    if not isinstance(section, str) or not _SESSION_ID.fullmatch(section):
        raise UserInputError(
            f"{section!r} is not a usable X2Go session id; use 1-64 letters, digits, '.', '_'"
            " or '-'."
        )
    link = _check_options(speed, quality, clipboard, pack, width, height)
    title = name if name is not None else (info.server_name or f"{info.host}:{info.port}")
    title = _CONTROL.sub(" ", title).strip()  # a session name is one line of text
    view: dict[str, str | int | bool] = {
        "command": desktop.value,
        "speed": int(link),
        "pack": pack,
        "quality": quality,
    }
    window: dict[str, str | int | bool] = {
        "fullscreen": fullscreen,
        "width": width,
        "height": height,
    }
    extras: dict[str, str | int | bool] = {"clipboard": clipboard, "sound": sound}
    settings = _session_settings(info, title, {**view, **window, **extras})
    lines = [f"[{section}]"] + [f"{key}={_qt_value(value)}" for key, value in settings]
    return "\n".join(lines) + "\n"


def _session_type(value: SessionType | str) -> SessionType:
    if isinstance(value, SessionType):
        return value
    for member in SessionType:
        if str(value).strip().upper() in (member.value.upper(), member.name):
            return member
    raise UserInputError(
        f"{value!r} is not an X2Go desktop session type; use one of "
        f"{', '.join(m.value for m in SessionType)}."
    )
