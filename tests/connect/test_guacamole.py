"""Guacamole client links: {base}/#/client/ + base64(id NUL type NUL data source)."""

from __future__ import annotations

import base64

import pytest

from denbi_jupyter.connect import (
    GuacamoleTarget,
    guacamole_client_url,
    parse_guacamole_client_url,
    validate_guacamole_base_url,
)
from denbi_jupyter.errors import UserInputError

BASE = "https://vm.example.org/guacamole"


def test_link_encodes_id_type_and_data_source_like_guacamole() -> None:
    # The identifier Guacamole's own web app shows for connection 1 in its PostgreSQL backend.
    url = guacamole_client_url(BASE, "1", data_source="postgresql")
    assert url == f"{BASE}/#/client/MQBjAHBvc3RncmVzcWw="
    identifier = url.split("#/client/")[1]
    assert base64.b64decode(identifier) == b"1\x00c\x00postgresql"


def test_default_link_uses_padded_standard_base64() -> None:
    connection_id = "\u00ff\u00fe>?"  # bytes that encode to '+' and '/' in standard base64
    url = guacamole_client_url(BASE, connection_id, data_source="mysql")
    raw = "\0".join((connection_id, "c", "mysql")).encode()
    assert url.endswith("#/client/" + base64.b64encode(raw).decode())


def test_url_safe_link_is_unpadded_base64url() -> None:
    connection_id = "\u00ff\u00fe>?"
    identifier = guacamole_client_url(BASE, connection_id, url_safe=True).split("#/client/")[1]
    assert "=" not in identifier and "+" not in identifier and "/" not in identifier
    padded = identifier + "=" * (-len(identifier) % 4)
    assert base64.urlsafe_b64decode(padded) == "\0".join((connection_id, "c", "default")).encode()


@pytest.mark.parametrize("url_safe", [False, True])
@pytest.mark.parametrize(
    ("connection_id", "kind", "data_source"),
    [("1", "c", "postgresql"), ("DEFAULT", "c", "default"), ("Röntgen Lab", "g", "ldap")],
)
def test_link_decodes_back_to_its_target(
    connection_id: str, kind: str, data_source: str, url_safe: bool
) -> None:
    url = guacamole_client_url(
        BASE,
        connection_id,
        data_source=data_source,
        kind=kind,  # type: ignore[arg-type]
        url_safe=url_safe,
    )
    assert parse_guacamole_client_url(url) == GuacamoleTarget(connection_id, kind, data_source)


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("https://vm.example.org/guacamole/", "https://vm.example.org/guacamole"),
        ("  http://VM.example.org:8080/  ", "http://vm.example.org:8080"),
        ("https://[2001:db8::1]/guacamole", "https://[2001:db8::1]/guacamole"),
        ("https://193.196.20.5/abc123/guacamole", "https://193.196.20.5/abc123/guacamole"),
    ],
)
def test_base_url_is_normalised(given: str, normalised: str) -> None:
    assert validate_guacamole_base_url(given) == normalised


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("vm.example.org/guacamole", "http"),
        ("ftp://vm.example.org/", "http"),
        ("javascript:alert(1)", "http"),
        ("https://", "http"),
        ("", "http"),
        ("https://alice:secret@vm.example.org/", "password"),
        ("https://vm.example.org/?token=abc", "query or fragment"),
        ("https://vm.example.org/#/client/x", "query or fragment"),
        ("https://vm.example.org:99999/", "not a valid URL"),
        ("https://vm.example.org/my guac", "spaces"),
    ],
)
def test_bad_base_urls_are_rejected(url: str, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        validate_guacamole_base_url(url)


def test_credentials_in_base_url_are_not_echoed() -> None:
    with pytest.raises(UserInputError) as caught:
        guacamole_client_url("https://alice:s3cr3t@vm.example.org/", "1")
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [
        {"connection_id": ""},
        {"connection_id": "a\0b"},
        {"data_source": "bad source"},
        {"data_source": ""},
        {"kind": "x"},
    ],
)
def test_bad_link_parts_are_rejected(options: dict[str, str]) -> None:
    arguments = {"connection_id": "1", **options}
    connection_id = arguments.pop("connection_id")
    with pytest.raises(UserInputError):
        guacamole_client_url(BASE, connection_id, **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/",
        f"{BASE}/#/settings/",
        f"{BASE}/#/client/!!!",
        f"{BASE}/#/client/" + base64.b64encode(b"only-an-id").decode(),
        f"{BASE}/#/client/" + base64.b64encode(b"1\0x\0postgresql").decode(),
    ],
)
def test_links_that_name_no_connection_are_rejected(url: str) -> None:
    with pytest.raises(UserInputError):
        parse_guacamole_client_url(url)
