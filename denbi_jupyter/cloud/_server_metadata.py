"""The server-metadata half of :class:`~denbi_jupyter.cloud.client.OpenStackCloud`: set, delete.

Split from ``client.py`` (one subject per module). A VM's Nova metadata holds what the
schedules read (its snapshot policy, :data:`~denbi_jupyter.cloud.rules.policy.POLICY_KEY`).
Items are checked here the way Nova's schema checks them (keys of 1 to 255 letters, digits and
``-_:. ``, string values of at most 255 characters), so a bad item gets a message naming it
before any request. Setting merges (``POST /servers/{id}/metadata``: other keys stay);
deleting removes the named keys only, one ``DELETE`` per key the VM has (a key it does not
have is no error). Nova refuses both while the VM is locked (409): that becomes a
:class:`~denbi_jupyter.errors.ConflictError` saying to unlock it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from denbi_jupyter.cloud.types import Server, SiteSettings
from denbi_jupyter.errors import ConflictError, NotFoundError, UserInputError

if TYPE_CHECKING:
    from denbi_jupyter.cloud._gateway import CloudGateway

__all__ = ["MAX_METADATA_LENGTH", "METADATA_KEY_PATTERN", "ServerMetadata", "check_metadata_items"]

#: Nova keeps metadata keys and values of at most 255 characters.
MAX_METADATA_LENGTH = 255
#: The keys Nova's API schema accepts for server metadata.
METADATA_KEY_PATTERN = re.compile(r"[a-zA-Z0-9_:. -]{1,255}")


def check_metadata_items(items: Mapping[str, str]) -> dict[str, str]:
    """The items as Nova would accept them, as a plain dict.

    Raises:
        UserInputError: No items, or a key or value Nova would refuse (named in the message).
    """
    if not items:
        raise UserInputError("No metadata items given: name at least one key and its value.")
    checked: dict[str, str] = {}
    for key, value in items.items():
        if not isinstance(key, str) or not METADATA_KEY_PATTERN.fullmatch(key):
            shown = key[:40] + "…" if isinstance(key, str) and len(key) > 40 else key
            raise UserInputError(
                f"Metadata key {shown!r} is not allowed: Nova takes 1 to "
                f"{MAX_METADATA_LENGTH} letters, digits, spaces and '-_:.' only."
            )
        if not isinstance(value, str):
            raise UserInputError(f"The value of metadata key {key!r} must be text.")
        if len(value) > MAX_METADATA_LENGTH:
            raise UserInputError(
                f"The value of metadata key {key!r} has {len(value)} characters; Nova keeps "
                f"at most {MAX_METADATA_LENGTH}: shorten it."
            )
        checked[key] = value
    return checked


class ServerMetadata:
    """Server metadata calls for a client that has a gateway and a site (a mixin)."""

    _gateway: CloudGateway
    _site: SiteSettings

    def _existing(self, server_id: str, checked: Server | None) -> Server:
        server = checked if checked is not None else self._gateway.get_server(server_id)
        if server is None:
            raise NotFoundError(
                f"Server {server_id} does not exist on {self._site.name} (deleted already?): "
                "refresh the server list."
            )
        return server

    def _locked(self, server: Server, error: ConflictError) -> ConflictError:
        """A clear ConflictError for Nova's 409 (the VM is locked, or in a state without it)."""
        if server.locked or "locked" in str(error).lower():
            return ConflictError(
                f"VM {server.name} ({server.id}) is locked, so Nova refuses to change its "
                "metadata: unlock it (openstack server unlock) or ask whoever locked it.",
                site=self._site.name,
                action=error.action,
                status=error.status,
            )
        return error

    def set_server_metadata(
        self, server_id: str, items: Mapping[str, str], *, checked: Server | None = None
    ) -> Server:
        """Set (add or change) metadata items of a server; its other items stay.

        Args:
            server_id: The server.
            items: Keys and values to set.
            checked: The server as the caller just read it (saves reading it again).

        Returns:
            The server with the metadata Nova answered with.

        Raises:
            UserInputError: An item Nova would refuse (nothing is sent).
            NotFoundError: There is no such server.
            ConflictError: The server is locked (or in a state Nova refuses it in).
            QuotaExceededError: More items than the project's ``metadata_items`` quota.
        """
        wanted = check_metadata_items(items)
        server = self._existing(server_id, checked)
        try:
            metadata = self._gateway.set_server_metadata(server.id, wanted)
        except ConflictError as error:
            raise self._locked(server, error) from error
        return replace(server, metadata=metadata)

    def delete_server_metadata(
        self, server_id: str, keys: Iterable[str], *, checked: Server | None = None
    ) -> None:
        """Delete metadata items of a server by key; keys it does not have are skipped.

        Raises:
            NotFoundError: There is no such server.
            ConflictError: The server is locked (or in a state Nova refuses it in).
        """
        server = self._existing(server_id, checked)
        for key in dict.fromkeys(keys):
            if key not in server.metadata:
                continue
            try:
                self._gateway.delete_server_metadata(server.id, key)
            except NotFoundError:
                continue  # removed meanwhile: what was asked for holds
            except ConflictError as error:
                raise self._locked(server, error) from error
