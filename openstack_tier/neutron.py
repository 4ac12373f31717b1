"""Neutron for the tier: the local cloud's Neutron router, mounted with a permissive token check.

Nova calls Neutron even for servers without networks, and real Neutron needs agents to bind
ports. `denbi_jupyter.localcloud.neutron` already answers what Nova and openstacksdk ask
(networks, subnets, ports with one IPv4 each, security groups, empty floating IPs and
extensions); here it gets a store of its own in the run folder, one shared network, and a token
check that lets every token pass, since Nova's tokens come from the real Keystone.

Run: ``python -m openstack_tier.neutron --port 9696 --state-dir DIR`` (the project's venv).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fastapi import FastAPI

from denbi_jupyter.localcloud import neutron, neutron_ports
from denbi_jupyter.localcloud.config import DEFAULT_SITES, Timings
from denbi_jupyter.localcloud.site import Site
from denbi_jupyter.localcloud.store import SiteStore
from denbi_jupyter.localcloud.timeline import Timeline

__all__ = ["CIDR", "NETWORK_NAME", "OWNER", "build_site", "create_app", "main"]

# As the local cloud names its shared network, so scenarios read the same on both clouds.
NETWORK_NAME = "denbi-shared-net"
CIDR = "192.168.1.0/24"
# The project that owns the shared network, and that token-less requests speak for.
OWNER = "denbi-tier-network-owner"


def build_site(state_dir: Path) -> Site:
    """A Neutron-only site whose SQLite store lives in `state_dir`, with the shared network."""
    store = SiteStore(path=state_dir / "neutron.sqlite", data_dir=state_dir / "data")
    site = Site(profile=DEFAULT_SITES[0], store=store, timeline=Timeline(store), timings=Timings())
    with store.tx() as conn:
        found = conn.execute("SELECT 1 FROM networks WHERE name = ?", (NETWORK_NAME,)).fetchone()
        if found is None:
            neutron_ports.create_network(
                conn, name=NETWORK_NAME, project_id=OWNER, cidr=CIDR, shared=True
            )
    return site


def create_app(site: Site) -> FastAPI:
    """The app: Neutron at the root, since the catalog's network URL has no path."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(
        neutron.build_router(site, authenticate=neutron.permissive_authenticator(OWNER))
    )
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m openstack_tier.neutron")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9696)
    parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    import uvicorn

    args.state_dir.mkdir(parents=True, exist_ok=True)
    uvicorn.run(
        create_app(build_site(args.state_dir)),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
