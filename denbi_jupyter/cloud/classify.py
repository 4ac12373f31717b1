"""What an image is for, from its name, tags and properties: pure and table-driven.

de.NBI marks images with tags (``base_image``, ``guacamole``, ``rstudio``, …), properties
(``os_distro``, ``os_version``) and conventional names (``X2Go_xfce``,
``Guacamole-ubuntu22.04 de.NBI (2026-05-01)``, ``Ubuntu-22.04``). Each rule below is a table so
that a new desktop, environment or distribution is one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from denbi_jupyter.cloud.types import DesktopKind, Image, ImageClass

__all__ = [
    "DISTRIBUTIONS",
    "RESEARCH_ENVIRONMENTS",
    "X2GO_SESSIONS",
    "classify",
    "classify_image",
    "desktop_of",
    "os_of",
    "research_environment_of",
    "x2go_session_of",
]

#: Word in an image name or tag → X2Go client session type (the ``command`` key).
X2GO_SESSIONS: Mapping[str, str] = {
    "xfce": "XFCE",
    "xfce4": "XFCE",
    "mate": "MATE",
    "lxde": "LXDE",
    "lxqt": "LXQt",
    "kde": "KDE",
    "plasma": "KDE",
    "gnome": "GNOME",
    "cinnamon": "CINNAMON",
    "unity": "UNITY",
    "trinity": "TRINITY",
    "icewm": "ICEWM",
    "openbox": "OPENBOX",
}

#: Tag (or leading name word) → research environment label.
RESEARCH_ENVIRONMENTS: Mapping[str, str] = {
    "rstudio": "RStudio",
    "theiaide": "Theia IDE",
    "theia": "Theia IDE",
    "vscode": "VS Code",
    "jupyterlab": "JupyterLab",
    "jupyter": "JupyterLab",
    "cwlab": "CWLab",
    "base_cluster": "Cluster",
}

#: Spelling in names or ``os_distro`` → canonical distribution name.
DISTRIBUTIONS: Mapping[str, str] = {
    "ubuntu": "ubuntu",
    "debian": "debian",
    "rocky": "rocky",
    "rockylinux": "rocky",
    "centos": "centos",
    "alma": "almalinux",
    "almalinux": "almalinux",
    "fedora": "fedora",
    "opensuse": "opensuse",
    "suse": "opensuse",
    "rhel": "rhel",
    "cirros": "cirros",
    "windows": "windows",
}

#: Release code names → version, for names like ``Ubuntu Jammy``.
_CODENAMES: Mapping[str, tuple[str, str]] = {
    "bionic": ("ubuntu", "18.04"),
    "focal": ("ubuntu", "20.04"),
    "jammy": ("ubuntu", "22.04"),
    "noble": ("ubuntu", "24.04"),
    "buster": ("debian", "10"),
    "bullseye": ("debian", "11"),
    "bookworm": ("debian", "12"),
    "trixie": ("debian", "13"),
}

_X2GO_TAGS = frozenset({"x2go", "x2go_desktop"})
_GUACAMOLE_TAGS = frozenset({"guacamole", "guacamole_vnc", "guacamole_rdp"})
_BASE_TAGS = frozenset({"base_image"})
_WORD = re.compile(r"[a-z0-9]+")
_LEADING_WORD = re.compile(r"^\s*([a-z0-9_]+)")
_DISTRO_IN_NAME = re.compile(
    r"(?<![a-z])(" + "|".join(sorted(DISTRIBUTIONS, key=len, reverse=True)) + r")"
    r"(?:[\s_\-]*linux)?[\s_\-]*(\d+(?:\.\d+)*)?(?![a-z])",
    re.IGNORECASE,
)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _lower_tags(tags: Iterable[str]) -> set[str]:
    return {tag.strip().lower() for tag in tags}


def x2go_session_of(name: str, tags: Iterable[str] = ()) -> str | None:
    """The X2Go session type named in ``name`` or ``tags`` (``X2Go_xfce`` → ``XFCE``)."""
    for word in _words(name):
        if word in X2GO_SESSIONS:
            return X2GO_SESSIONS[word]
    for tag in sorted(_lower_tags(tags)):
        for word in _words(tag):
            if word in X2GO_SESSIONS:
                return X2GO_SESSIONS[word]
    return None


def desktop_of(name: str, tags: Iterable[str] = ()) -> DesktopKind | None:
    """How a desktop image is reached: X2Go, Guacamole, or None for a plain image."""
    lowered = _lower_tags(tags)
    words = _words(name)
    if lowered & _GUACAMOLE_TAGS or (words and words[0].startswith("guacamole")):
        return DesktopKind.GUACAMOLE
    if lowered & _X2GO_TAGS or any(t.startswith("x2go") for t in lowered) or "x2go" in words:
        return DesktopKind.X2GO
    return None


def research_environment_of(name: str, tags: Iterable[str] = ()) -> str | None:
    """The research environment label from a tag, else from the name's leading word."""
    lowered = _lower_tags(tags)
    for tag, label in RESEARCH_ENVIRONMENTS.items():
        if tag in lowered:
            return label
    match = _LEADING_WORD.match(name.lower())
    if match:
        leading = match.group(1).split("_")[0]
        if leading in RESEARCH_ENVIRONMENTS:
            return RESEARCH_ENVIRONMENTS[leading]
    return None


def os_of(name: str, properties: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """Distribution and version: ``os_distro``/``os_version`` first, else parsed from the name.

    ``Ubuntu-22.04``, ``ubuntu22.04``, ``Debian 12``, ``Rocky-9`` and ``Ubuntu Jammy`` all parse.
    """
    props = properties or {}
    family = props.get("os_distro") or None
    version = props.get("os_version") or None
    if family:
        family = DISTRIBUTIONS.get(family.strip().lower(), family.strip().lower())
    if family and version:
        return family, version.strip()
    parsed_family, parsed_version = _os_from_name(name)
    if family is None:
        family = parsed_family
    if version is None and parsed_family in (None, family):
        version = parsed_version
    return family, version


def _os_from_name(name: str) -> tuple[str | None, str | None]:
    match = _DISTRO_IN_NAME.search(name)
    if match:
        family = DISTRIBUTIONS[match.group(1).lower()]
        version = match.group(2)
        if version is None:
            for word in _words(name[match.end() :]):
                if word in _CODENAMES and _CODENAMES[word][0] == family:
                    version = _CODENAMES[word][1]
                    break
        return family, version
    for word in _words(name):
        if word in _CODENAMES:
            return _CODENAMES[word]
    return None, None


def classify(
    name: str, tags: Iterable[str] = (), properties: Mapping[str, str] | None = None
) -> ImageClass:
    """Everything the catalog shows about an image, from its name, tags and properties."""
    tag_list = list(tags)
    desktop = desktop_of(name, tag_list)
    family, version = os_of(name, properties)
    return ImageClass(
        desktop=desktop,
        x2go_session=x2go_session_of(name, tag_list) if desktop is DesktopKind.X2GO else None,
        research_environment=research_environment_of(name, tag_list),
        os_family=family,
        os_version=version,
        is_base=bool(_lower_tags(tag_list) & _BASE_TAGS),
    )


def classify_image(image: Image) -> ImageClass:
    """:func:`classify` applied to an :class:`Image`."""
    return classify(image.name, image.tags, image.properties)
