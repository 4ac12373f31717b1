"""One cloud client per site, opened on first use and then kept.

Panels take either a ready :class:`CloudClient` (one site) or a factory that opens a client by
site name (``open_site``) plus the site names to offer. Opening authenticates, so it happens in
a background thread through :meth:`SiteClients.get`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeAlias

from denbi_jupyter.cloud.protocol import CloudClient
from denbi_jupyter.errors import UserInputError

__all__ = ["ClientSource", "SiteClients"]

#: A client for one site, or a factory that opens a client by site name.
ClientSource: TypeAlias = "CloudClient | Callable[[str], CloudClient] | SiteClients"


class SiteClients:
    """Clients by site name, opened lazily and cached.

    Args:
        source: A client (its site is the only one) or a factory ``site name -> client``.
        sites: The site names to offer; required with a factory, ignored with a client.
    """

    def __init__(
        self,
        source: CloudClient | Callable[[str], CloudClient],
        sites: Sequence[str] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._site_locks: dict[str, threading.Lock] = {}
        self._clients: dict[str, CloudClient] = {}
        self._opened: list[CloudClient] = []  # by our factory: ours to close
        self._closed = False
        if callable(source):
            if not sites:
                raise UserInputError(
                    "No site names given: pass sites=[...] with a client factory, e.g. "
                    "sites=list_sites()."
                )
            self._factory: Callable[[str], CloudClient] | None = source
            self.names: tuple[str, ...] = tuple(dict.fromkeys(sites))
        else:
            self._factory = None
            name = source.site.name
            self._clients[name] = source
            self.names = (name,)

    @classmethod
    def of(cls, source: ClientSource, sites: Sequence[str] | None = None) -> SiteClients:
        """Wrap ``source`` unless it already is a :class:`SiteClients`."""
        if isinstance(source, SiteClients):
            return source
        return cls(source, sites)

    def cached(self, site: str) -> CloudClient | None:
        """The client if it is already open, else None (never blocks on the network)."""
        with self._lock:
            return self._clients.get(site)

    def get(self, site: str) -> CloudClient:
        """The client for ``site``, opening it on first use (blocking: call in the background).

        Raises:
            UserInputError: ``site`` is not one of :attr:`names`.
        """
        if site not in self.names:
            offered = ", ".join(self.names)
            raise UserInputError(f"Unknown site {site!r}; choose one of: {offered}.")
        with self._lock:
            client = self._clients.get(site)
            if client is not None:
                return client
            site_lock = self._site_locks.setdefault(site, threading.Lock())
        with site_lock:
            with self._lock:
                client = self._clients.get(site)
            if client is not None:
                return client
            if self._closed:
                raise UserInputError("This panel was closed; create a new one to go on.")
            assert self._factory is not None
            client = self._factory(site)
            with self._lock:
                self._clients[site] = client
                self._opened.append(client)
                closed = self._closed
            if closed:  # closed while the site was opening
                _close(client)
            return client

    def close(self) -> None:
        """Close every client this object opened (not one handed in ready); idempotent."""
        with self._lock:
            self._closed = True
            opened, self._opened = self._opened, []
            for client in opened:
                self._clients = {k: v for k, v in self._clients.items() if v is not client}
        for client in opened:
            _close(client)


def _close(client: CloudClient) -> None:
    close = getattr(client, "close", None)
    if callable(close):
        close()
