"""Links into the Apache Guacamole web client.

Guacamole's web app opens a connection at ``{base}/#/client/{identifier}``, where the
identifier is the base64 encoding of ``{id} NUL {type} NUL {data source}`` (type ``c`` for a
connection, ``g`` for a connection group). Guacamole up to 1.5 encodes it with standard
base64 (``btoa``); later releases write unpadded base64url and still read both, so standard
base64 is the default here and works with every release.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from denbi_jupyter.errors import UserInputError

__all__ = [
    "GuacamoleTarget",
    "guacamole_client_url",
    "parse_guacamole_client_url",
    "validate_guacamole_base_url",
]

_CLIENT_FRAGMENT = "/client/"
_DATA_SOURCE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TYPES = ("c", "g")


@dataclass(frozen=True, slots=True)
class GuacamoleTarget:
    """What a Guacamole client link points at.

    Attributes:
        connection_id: The connection (or group) identifier inside the data source.
        kind: ``c`` for a connection, ``g`` for a connection group.
        data_source: The authentication provider holding it, e.g. ``postgresql``.
    """

    connection_id: str
    kind: str
    data_source: str


def validate_guacamole_base_url(base_url: str) -> str:
    """Check a Guacamole base URL and return it without a trailing slash.

    Accepted: ``http`` or ``https`` with a host and an optional path such as
    ``https://vm.example.org/guacamole``. Rejected: other schemes, user names or passwords in
    the URL, query strings and fragments.

    Raises:
        UserInputError: The URL is not a usable Guacamole base URL.
    """
    text = base_url.strip() if isinstance(base_url, str) else ""
    hint = "give the Guacamole address, e.g. 'https://vm.example.org/guacamole'"
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for a bad port
    except ValueError:
        raise UserInputError(f"{base_url!r} is not a valid URL; {hint}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserInputError(f"{base_url!r} is not an http(s) URL with a host; {hint}.")
    if parts.username is not None or parts.password is not None:
        raise UserInputError(
            "The Guacamole URL contains a user name or password; remove them, Guacamole asks "
            "for them on its login page."
        )
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise UserInputError(f"{base_url!r} has a query or fragment; {hint}.")
    if any(ch.isspace() for ch in text):
        raise UserInputError(f"{base_url!r} contains spaces; {hint}.")
    if not text.isprintable():  # ESC, NUL, bidi overrides: the link is shown and clicked
        raise UserInputError(f"{base_url!r} contains control characters; {hint}.")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def guacamole_client_url(
    base_url: str,
    connection_id: str,
    *,
    data_source: str = "default",
    kind: Literal["c", "g"] = "c",
    url_safe: bool = False,
) -> str:
    """The Guacamole web-client link that opens one connection.

    Args:
        base_url: Where Guacamole is served, e.g. ``https://vm.example.org/guacamole``.
        connection_id: The connection identifier, e.g. ``1`` or ``DEFAULT``.
        data_source: The data source identifier: ``default`` for ``user-mapping.xml``,
            ``postgresql``, ``mysql``, ``ldap``, ...
        kind: ``c`` for a connection, ``g`` for a connection group.
        url_safe: Write unpadded base64url, as Guacamole 1.6 and later do. Older releases
            only read standard base64 (the default).

    Raises:
        UserInputError: The base URL, identifier, data source or kind is invalid.
    """
    base = validate_guacamole_base_url(base_url)
    if not connection_id or "\0" in connection_id:
        raise UserInputError("The Guacamole connection id is empty or contains a NUL byte.")
    if not isinstance(data_source, str) or not _DATA_SOURCE.fullmatch(data_source):
        raise UserInputError(
            f"{data_source!r} is not a Guacamole data source; use e.g. 'postgresql' or 'default'."
        )
    if kind not in _TYPES:
        raise UserInputError(f"Guacamole link kind {kind!r} is unknown; use 'c' or 'g'.")
    raw = "\0".join((connection_id, kind, data_source)).encode("utf-8")
    if url_safe:
        identifier = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    else:
        identifier = base64.b64encode(raw).decode("ascii")
    return f"{base}/#{_CLIENT_FRAGMENT}{identifier}"


def parse_guacamole_client_url(url: str) -> GuacamoleTarget:
    """Decode the target of a Guacamole client link (standard base64 or base64url).

    Raises:
        UserInputError: The link has no ``#/client/`` part or its identifier is not valid.
    """
    _, sep, fragment = url.partition("#")
    if not sep or not fragment.startswith(_CLIENT_FRAGMENT):
        raise UserInputError(f"{url!r} is not a Guacamole client link ('.../#/client/...').")
    identifier = fragment[len(_CLIENT_FRAGMENT) :]
    padded = identifier.replace("-", "+").replace("_", "/")
    padded += "=" * (-len(padded) % 4)
    try:
        raw = base64.b64decode(padded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise UserInputError(
            f"The Guacamole link identifier {identifier!r} is not base64."
        ) from None
    fields = raw.split("\0")
    if len(fields) != 3 or fields[1] not in _TYPES or not fields[0]:
        raise UserInputError(
            f"The Guacamole link identifier {identifier!r} does not name a connection."
        )
    return GuacamoleTarget(connection_id=fields[0], kind=fields[1], data_source=fields[2])
