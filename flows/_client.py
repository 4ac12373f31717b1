"""How a flow gets a :class:`CloudClient` for the site name it was given.

Flows take a site name (a ``clouds.yaml`` entry), never credentials, and open the client with
:func:`denbi_jupyter.cloud.open_site`. A caller that already holds clients (a kernel whose
panel is logged in, a unit test with ``FakeCloud``) may supply them for the flows it runs in
a block with :func:`use_clients`; like the progress channel this is a context variable, so it
reaches the tasks of those flow runs and nothing else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from denbi_jupyter.cloud.protocol import CloudClient

__all__ = ["ClientSource", "open_client", "use_clients"]

#: Returns the client for a site name.
ClientSource = Callable[[str], CloudClient]

_SOURCE: ContextVar[ClientSource | None] = ContextVar("denbi_client_source", default=None)


@contextlib.contextmanager
def use_clients(source: ClientSource) -> Iterator[None]:
    """Let flows run inside this block get their clients from ``source``."""
    token = _SOURCE.set(source)
    try:
        yield
    finally:
        _SOURCE.reset(token)


def open_client(site: str) -> CloudClient:
    """The client for ``site``: from :func:`use_clients` if set, else ``open_site(site)``."""
    source = _SOURCE.get()
    if source is not None:
        return source(site)
    from denbi_jupyter.cloud import open_site

    return open_site(site)
