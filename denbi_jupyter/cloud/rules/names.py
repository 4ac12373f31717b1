"""Names of VMs, snapshots and key pairs: one rule each, with the limit's source.

- **VM (server) name**: 1..255 characters after trimming. Source: Nova's API schema
  (``nova/api/validation/parameter_types.py``, ``name``: ``maxLength 255``). The 63 that an
  older panel check used is the RFC 1123 *hostname label* limit: Nova derives the guest's
  hostname from the display name and itself sanitises it and cuts it to 63 characters
  (``nova.utils.sanitize_hostname``), so a longer name boots fine. 63 is therefore not a
  limit of the name; :func:`vm_name_warning` only tells the user their hostname will be cut.
  de.NBI's portal adds no limit of its own for VMs started through the API.
- **Snapshot name**: 1..255 characters after trimming. Source: Glance's image schema
  (``name``: ``maxLength 255``); Nova's createImage uses the same 255.
- **Key pair name**: 1..255 characters of letters, digits, space, ``_``, ``-``, ``.`` and
  ``@``. Source: Nova's keypair schema (``keypair_name_special_chars``, microversion 2.92
  allows ``.`` and ``@``; older ones only ``[a-zA-Z0-9 _-]``).
- **Every name** we create is one line of printable text: no control or format character
  (newline, NUL, ESC, bidi overrides, ...), no line or paragraph separator, no unassigned or
  private-use code point. Source: Nova's ``parameter_types._is_printable`` (Unicode categories
  ``C*``, ``Zl`` and ``Zp`` are refused in server names). The local cloud and Glance would
  store such a name, and printed raw it forges table rows or terminal escapes.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from denbi_jupyter.errors import UserInputError

__all__ = [
    "HOSTNAME_MAX",
    "NAME_MAX",
    "NameKind",
    "check_keypair_name",
    "check_name",
    "check_server_name",
    "check_snapshot_name",
    "name_problem",
    "vm_name_warning",
]

#: Nova's and Glance's limit for server, image and key pair names.
NAME_MAX = 255
#: RFC 1123 hostname label; Nova cuts the hostname it derives from a VM name to this.
HOSTNAME_MAX = 63

_KEYPAIR = re.compile(r"^[A-Za-z0-9 _.@-]+$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$")


def _unprintable(text: str) -> str:
    """The first character of ``text`` Nova would refuse in a name, or ``''``."""
    for ch in text:
        category = unicodedata.category(ch)
        if category.startswith("C") or category in ("Zl", "Zp"):
            return ch
    return ""


class NameKind(StrEnum):
    """What is being named (the value is how messages call it)."""

    SERVER = "server"
    SNAPSHOT = "snapshot"
    KEYPAIR = "key pair"


def name_problem(kind: NameKind, name: str) -> str:
    """What is wrong with ``name`` for a ``kind``, or ``''`` when it is usable (pure)."""
    trimmed = name.strip()
    if not trimmed:
        return f"The {kind.value} name is empty: type a name."
    if len(trimmed) > NAME_MAX:
        return f"The {kind.value} name has {len(trimmed)} characters; at most {NAME_MAX} fit."
    bad = _unprintable(trimmed)
    if bad:
        shown = bad.encode("unicode_escape").decode("ascii")
        return (
            f"The {kind.value} name contains {shown} (U+{ord(bad):04X}), a control or "
            "format character: a name is one line of printable text; remove it."
        )
    if kind is NameKind.KEYPAIR and not _KEYPAIR.fullmatch(trimmed):
        return (
            f"{trimmed!r} is not a usable key pair name: use letters, digits, spaces and "
            "'_', '-', '.', '@'."
        )
    return ""


def check_name(kind: NameKind, name: str) -> str:
    """The trimmed ``name``.

    Raises:
        UserInputError: :func:`name_problem` found something.
    """
    problem = name_problem(kind, name)
    if problem:
        raise UserInputError(problem)
    return name.strip()


def check_server_name(name: str) -> str:
    """The trimmed VM name (see the module docstring for the limit)."""
    return check_name(NameKind.SERVER, name)


def check_snapshot_name(name: str) -> str:
    """The trimmed snapshot name (see the module docstring for the limit)."""
    return check_name(NameKind.SNAPSHOT, name)


def check_keypair_name(name: str) -> str:
    """The trimmed key pair name (see the module docstring for the rule)."""
    return check_name(NameKind.KEYPAIR, name)


def vm_name_warning(name: str) -> str:
    """A note when the guest's hostname will differ from the VM name, or ``''``."""
    trimmed = name.strip()
    if len(trimmed) > HOSTNAME_MAX:
        return f"The VM's hostname is cut to its first {HOSTNAME_MAX} characters."
    if trimmed and not _HOSTNAME.fullmatch(trimmed):
        return "The VM's hostname keeps only letters, digits and '-' of this name."
    return ""
