"""The local cloud's SSH in tests: a port range of a test's own, a VM's address, an open port."""

from __future__ import annotations

import random
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

from openstack.config import OpenStackConfig
from openstack.connection import Connection

from denbi_jupyter.localcloud import DEFAULT_SITES, LocalCloudConfig, Timings

__all__ = ["SITE", "accepts", "ipv4_of", "own_ports_config", "sdk_connection"]

#: The only site of :func:`own_ports_config`.
SITE = DEFAULT_SITES[0].name


def own_ports_config(state_dir: Path | None = None) -> LocalCloudConfig:
    """A fast local cloud whose only site maps ``oct4`` into a random gateway port range.

    Other test sessions on this machine use the default ``30000 + …`` ports.
    """
    base = random.Random().randrange(20000, 29000)
    site = replace(DEFAULT_SITES[0], ssh_port_formula=f"{base} + oct4")
    return LocalCloudConfig(timings=Timings.fast(), sites=(site,), state_dir=state_dir)


def sdk_connection(clouds_yaml: Path, cloud: str = SITE) -> Connection:
    """An openstacksdk connection to ``cloud`` of ``clouds_yaml`` (no vendor files)."""
    config = OpenStackConfig(config_files=[str(clouds_yaml)], vendor_files=[])
    return Connection(config=config.get_one(cloud=cloud))


def ipv4_of(server: Any) -> str:
    """The first IPv4 address of an openstacksdk server."""
    return str(
        next(
            entry["addr"]
            for entries in server.addresses.values()
            for entry in entries
            if entry.get("version") == 4
        )
    )


def accepts(port: int) -> bool:
    """Whether this host's ``port`` takes a TCP connection within two seconds."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False
