"""The VM-lifecycle half of :class:`~denbi_jupyter.cloud.client.OpenStackCloud`: stop, start,
reboot and delete.

Split from ``client.py`` (one subject per module). Each action reads the server (unless the
caller passes the server it just read as ``checked``), asks
:func:`~denbi_jupyter.cloud.rules.servers.action_refusal` and raises
:class:`~denbi_jupyter.errors.ConflictError` with the rule's reason when it refuses, so no
request is sent that Nova would answer with a 409 (or, for a delete during a snapshot, would
carry out and so destroy the snapshot). Every call returns at once: Nova works on, and the
flows in ``flows/servers.py`` follow it until the VM settles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from denbi_jupyter.cloud.rules.servers import ServerAction, action_refusal
from denbi_jupyter.cloud.types import Server, SiteSettings
from denbi_jupyter.errors import ConflictError, NotFoundError

if TYPE_CHECKING:
    from denbi_jupyter.cloud._gateway import CloudGateway

__all__ = ["ServerActions"]


class ServerActions:
    """Server actions for a client that has a gateway and a site (a mixin)."""

    _gateway: CloudGateway
    _site: SiteSettings

    def _allowed(self, server_id: str, action: ServerAction, checked: Server | None) -> Server:
        """The server, once the rule allows ``action``; NotFoundError or ConflictError else."""
        server = checked if checked is not None else self._gateway.get_server(server_id)
        if server is None:
            raise NotFoundError(
                f"Server {server_id} does not exist on {self._site.name} (deleted already?): "
                "refresh the server list."
            )
        refusal = action_refusal(server, action)
        if refusal is not None:
            raise ConflictError(refusal.reason)
        return server

    def stop_server(self, server_id: str, *, checked: Server | None = None) -> None:
        """Ask Nova to stop (power off) a server: ``os-stop``; it goes SHUTOFF.

        Args:
            server_id: The server.
            checked: The server as the caller just read it (saves reading it again).
        """
        server = self._allowed(server_id, ServerAction.STOP, checked)
        self._gateway.server_action(server.id, "os-stop")

    def start_server(self, server_id: str, *, checked: Server | None = None) -> None:
        """Ask Nova to start a SHUTOFF server: ``os-start``; it goes ACTIVE."""
        server = self._allowed(server_id, ServerAction.START, checked)
        self._gateway.server_action(server.id, "os-start")

    def reboot_server(
        self, server_id: str, *, hard: bool = False, checked: Server | None = None
    ) -> None:
        """Ask Nova to reboot a server (``SOFT``: the guest shuts down cleanly; ``HARD``: reset)."""
        action = ServerAction.HARD_REBOOT if hard else ServerAction.REBOOT
        server = self._allowed(server_id, action, checked)
        self._gateway.server_action(server.id, "reboot", {"type": "HARD" if hard else "SOFT"})

    def delete_server(self, server_id: str, *, checked: Server | None = None) -> None:
        """Delete a server; ConflictError while one of its snapshots is being taken or uploaded.

        Nova's ``task_state`` (``image_snapshot*``, ``image_pending_upload``,
        ``image_uploading``) outlives Glance's own upload status, so it is the guard.
        """
        server = self._allowed(server_id, ServerAction.DELETE, checked)
        self._gateway.delete_server(server.id)
